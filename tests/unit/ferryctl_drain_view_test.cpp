// How ferryctl reads a drain VIEW: which outcome (and exit code) each status and verdict means,
// and the exact plan, verdict, progress and report text an operator and a cron mail see.
#include <gtest/gtest.h>

#include <set>

#include "api/client/commands/drain_view.hpp"
#include "api/client/ferryctl.hpp"
#include "tests/unit/ferryctl_drain_views.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::DrainServer;
using testing::DrainView;

struct OutcomeCase {
  const char* what;
  json view;
  DrainOutcome outcome;
  int exit_code;
};

TEST(DrainView, EveryStatusAndVerdictMapsToOneOutcomeAndExitCode) {
  const json fits = DrainServer(1, "web-1", "pending", 100);
  const json moved = DrainServer(1, "web-1", "moved", 100);
  const json left = DrainServer(2, "db-1", "skipped", 100);
  const json failed = DrainServer(2, "db-1", "failed", 100);
  const OutcomeCase cases[] = {
      {"dry run, everything fits", DrainView("planned", {fits}, nullptr), DrainOutcome::kDone, 0},
      {"dry run of an empty host", DrainView("planned", {}, nullptr), DrainOutcome::kDone, 0},
      {"dry run, one left", DrainView("planned", {fits, left}, nullptr), DrainOutcome::kPartial,
       kExitDrainPartial},
      {"dry run, none can move", DrainView("planned", {left}, nullptr), DrainOutcome::kNothingFits,
       kExitDrainNothingFits},
      {"running", DrainView("running", {fits, left}), DrainOutcome::kInProgress, 0},
      {"paused", DrainView("paused", {fits}), DrainOutcome::kInProgress, 0},
      {"cancelling", DrainView("cancelling", {fits}), DrainOutcome::kInProgress, 0},
      {"running, none can move", DrainView("running", {left}), DrainOutcome::kNothingFits,
       kExitDrainNothingFits},
      {"done", DrainView("done", {moved}), DrainOutcome::kDone, 0},
      {"done yet one failed", DrainView("done", {moved, failed}), DrainOutcome::kPartial,
       kExitDrainPartial},
      {"done yet one left", DrainView("done", {moved, left}), DrainOutcome::kPartial,
       kExitDrainPartial},
      {"partial", DrainView("partial", {moved, failed}), DrainOutcome::kPartial, kExitDrainPartial},
      {"partial, none could move", DrainView("partial", {left}), DrainOutcome::kNothingFits,
       kExitDrainNothingFits},
      {"failed", DrainView("failed", {failed}), DrainOutcome::kFailed, kExitDrainFailed},
      {"cancelled", DrainView("cancelled", {moved, fits}), DrainOutcome::kFailed, kExitDrainFailed},
      {"a status this client does not know", DrainView("exploded", {moved}), DrainOutcome::kFailed,
       kExitDrainFailed},
  };
  for (const auto& c : cases) {
    const DrainOutcome outcome = ClassifyDrain(c.view);
    EXPECT_EQ(outcome, c.outcome) << c.what;
    EXPECT_EQ(ExitCodeFor(outcome), c.exit_code) << c.what;
  }
}

TEST(DrainView, ExitCodesAreDistinctFromErrorsAndUsage) {
  const std::set<int> codes = {kExitOk,          kExitFailure,
                               kExitUsage,       kExitDrainNothingFits,
                               kExitDrainFailed, kExitDrainPartial};
  EXPECT_EQ(codes.size(), 6u);
  EXPECT_EQ(kExitDrainNothingFits, 3);
  EXPECT_EQ(kExitDrainFailed, 4);
  EXPECT_EQ(kExitDrainPartial, 5);
}

TEST(DrainView, OnlyPlannedRunningPausedAndCancellingMayStillChange) {
  for (const char* s : {"planned", "running", "paused", "cancelling"}) {
    EXPECT_FALSE(IsFinalDrainStatus(s)) << s;
  }
  for (const char* s : {"done", "partial", "failed", "cancelled", "", "exploded"}) {
    EXPECT_TRUE(IsFinalDrainStatus(s)) << s;
  }
}

TEST(DrainView, PlanTableIsInPlanOrderWithSizesAndPredictedDurations) {
  json big = DrainServer(2, "db-1", "pending", int64_t{6} << 30, "h3");
  big["predicted_seconds"] = 75.4;
  const json view = DrainView(
      "planned",
      {big, DrainServer(1, "web-1", "pending", 1536), DrainServer(3, "batch-1", "skipped", 2048)},
      nullptr);
  EXPECT_EQ(DrainPlanTable(view).Render(),
            "+---+---------+------+---------------------+---------+-----------+\n"
            "| # | Server  | Kind | Planned Destination | Size    | Predicted |\n"
            "+---+---------+------+---------------------+---------+-----------+\n"
            "| 1 | web-1   | live | h2                  | 1.5 KiB |      0:05 |\n"
            "| 2 | db-1    | live | h3                  | 6.0 GiB |      1:15 |\n"
            "| 3 | batch-1 | cold | -                   | 2.0 KiB |           |\n"
            "+---+---------+------+---------------------+---------+-----------+\n");
}

TEST(DrainView, VerdictSaysEverythingFitsOrNamesWhoCannotMoveAndWhy) {
  EXPECT_EQ(DrainVerdictText(DrainView("planned", {DrainServer(1, "web-1", "pending", 1)})),
            "Verdict: everything fits on the remaining hosts.\n");
  EXPECT_EQ(DrainVerdictText(DrainView("planned", {DrainServer(1, "db-1", "skipped", 1)})),
            "Verdict: 1 server cannot move:\n"
            "  db-1 (uuid-db-1): No valid host: not enough RAM on h2, h3\n");
  json two = DrainView(
      "planned", {DrainServer(1, "db-1", "skipped", 1), DrainServer(2, "db-2", "skipped", 1)});
  two["verdict"]["left"][1]["name"] = "";  // a server without a name shows its uuid alone
  EXPECT_EQ(DrainVerdictText(two),
            "Verdict: 2 servers cannot move:\n"
            "  db-1 (uuid-db-1): No valid host: not enough RAM on h2, h3\n"
            "  uuid-db-2: No valid host: not enough RAM on h2, h3\n");
}

TEST(DrainView, ProgressLineCountsBytesServersAndEta) {
  const json view = DrainView(
      "running",
      {DrainServer(1, "web-1", "moved", 1 << 20), DrainServer(2, "web-2", "moving", 2 << 20),
       DrainServer(3, "web-3", "pending", 1 << 20)},
      testing::kDrainId, 12);
  EXPECT_EQ(DrainProgressLine(view),
            "[#####...............]  25%  1/3 moved  1.0 MiB/4.0 MiB  ETA 0:12  running "
            "(1 moving, 1 pending)");
  // No bytes reported (empty disks, or a server that does not count them): the bar counts
  // servers; a drain that ended shows no ETA even if its view kept the last one.
  const json no_bytes = DrainView(
      "partial", {DrainServer(1, "web-1", "moved", 0), DrainServer(2, "web-2", "failed", 0)},
      testing::kDrainId, 7);
  EXPECT_EQ(DrainProgressLine(no_bytes),
            "[##########..........]  50%  1/2 moved  partial (1 failed)");
}

TEST(DrainView, ReportTableAndSummaryShowEachServersEnd) {
  const json view = DrainView(
      "partial", {DrainServer(1, "web-1", "moved", 1 << 20), DrainServer(2, "db-1", "failed", 2048),
                  DrainServer(3, "batch-1", "skipped", 0)});
  EXPECT_EQ(DrainReportTable(view).Render(),
            "+---------+---------+-------------+---------+---------+-"
            "------------------------------------------+\n"
            "| Server  | State   | Destination | Seconds | Size    | "
            "Reason                                    |\n"
            "+---------+---------+-------------+---------+---------+-"
            "------------------------------------------+\n"
            "| web-1   | moved   | h2          |     3.4 | 1.0 MiB | "
            "                                          |\n"
            "| db-1    | failed  |             |         | 2.0 KiB | "
            "migration failed: destination unreachable |\n"
            "| batch-1 | skipped |             |         |     0 B | "
            "No valid host: not enough RAM on h2, h3   |\n"
            "+---------+---------+-------------+---------+---------+-"
            "------------------------------------------+\n");
  EXPECT_EQ(DrainSummary(view), std::string("Drain ") + testing::kDrainId +
                                    " of h1 partial: 1 of 3 servers moved, 1 failed, 1 skipped.");
}

TEST(DrainView, MissingOrNullMembersStillRender) {
  const json bare = {{"id", "d"}, {"host", "h1"}, {"status", "running"}};
  EXPECT_EQ(ClassifyDrain(bare), DrainOutcome::kInProgress);
  EXPECT_EQ(DrainProgressLine(bare), "[....................]   0%  0/0 moved  running");
  EXPECT_EQ(DrainPlanTable(bare).RowCount(), 0u);
  EXPECT_EQ(DrainVerdictText(bare), "Verdict: everything fits on the remaining hosts.\n");
  EXPECT_EQ(DrainPropertiesTable(bare).RowCount(), 11u);
}

}  // namespace
}  // namespace ferry::client
