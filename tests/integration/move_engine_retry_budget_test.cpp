// The move engine's retry budget, end to end on the sim: a running live migration whose record
// no step can read (its policy is not JSON an object) is not retried forever, and it is not
// written off from the database either: after the budget the destination is rolled back
// through its agent (fenced), the copy fails there, and the migration ends in error with the
// guest running on the source, once, its claims only there.
#include <gtest/gtest.h>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

TEST(MoveEngineRetryBudget, AnUnreadableRunningMigrationIsRolledBackThroughTheAgents) {
  FERRY_REQUIRE_PG(dsn);
  LiveMigrationStack lm(dsn, {"--step-retry-budget", "3", "--step-retry-window", "0"});
  // sim-1 dirties memory faster than it copies: the migration stays running until ended.
  lm.StartHosts(
      {{"sim-1", {"--sim-bandwidth-mbps", "100", "--sim-dirty-rate-mbps", "150"}}, {"sim-2", {}}});
  lm.stack->EnsureFlavor("small", 1, 512, 0);
  const auto id = lm.ServerOn("sim-1", "web", "small");
  ASSERT_EQ(lm.MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm.WaitStatus(id, "running")) << lm.LatestMigration(id).dump();
  const auto uuid = lm.LatestMigration(id)["uuid"].get<std::string>();
  lm.Sql("UPDATE migrations SET policy = '[]'::jsonb WHERE uuid = '" + uuid + "'::uuid");

  ASSERT_TRUE(lm.WaitStatus(id, "error", 60s)) << lm.LatestMigration(id).dump() << "\n"
                                               << lm.stack->ControllerLog();
  const auto m = lm.LatestMigration(id);
  EXPECT_NE(m.value("error", "").find("gave up after 3 failures"), std::string::npos) << m.dump();
  EXPECT_EQ(lm.Count("SELECT count(*) FROM migration_events e JOIN migrations m ON m.id = "
                     "e.migration_id WHERE m.uuid = '" +
                     uuid + "'::uuid AND e.event = 'step_failed' AND e.from_status = 'running'"),
            1);
  EXPECT_TRUE(lm.RunsOn("sim-1", id)) << "the guest runs on the source";
  const auto on_dest = lm.AgentDomains("sim-2");
  EXPECT_EQ(std::count(on_dest.begin(), on_dest.end(), id), 0) << "no copy on the destination";
  EXPECT_EQ(lm.ClaimHosts(id), std::set<std::string>{"sim-1"});
  EXPECT_TRUE(lm.ClaimHosts(uuid).empty()) << "the migration holds no claim";
  auto shown = lm.stack->Admin().Get("/v2.1/servers/" + id).body["server"];
  EXPECT_EQ(shown["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(shown["status"], "ACTIVE");
}

}  // namespace
}  // namespace ferry::testing
