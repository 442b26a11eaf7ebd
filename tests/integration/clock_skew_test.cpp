// M8: the controller never compares an agent's clock with its own. A source agent whose clock
// runs 120 s behind, with a 30 s progress timeout: the live migration is not aborted as
// "no progress", its progress keeps landing, and it completes.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

TEST(ClockSkew, AnAgentClockBehindTheProgressTimeoutNeitherAbortsNorFreezesProgress) {
  FERRY_REQUIRE_PG(dsn);
  LiveMigrationStack lm(dsn, {"--live-migration-progress-timeout", "30"});
  // 100 MB/s: a 1 GiB guest copies for ~11 s, several reports.
  lm.StartHosts({{"sim-1", {"--sim-bandwidth-mbps", "100", "--sim-clock-offset-seconds", "-120"}},
                 {"sim-2", {"--sim-bandwidth-mbps", "100"}}});
  lm.stack->EnsureFlavor("2", 1, 1024, 1);
  auto id = lm.ServerOn("sim-1", "web", "2");
  ASSERT_EQ(lm.MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  std::set<int64_t> remaining;  // distinct memory_remaining values the reports left behind
  pqxx::connection c(lm.stack->dsn());
  Stack::WaitFor(
      [&] {
        pqxx::work w(c);
        auto r = w.exec1(
            "SELECT coalesce(memory_remaining, -1) FROM migrations WHERE instance_uuid = '" + id +
            "' ORDER BY id DESC LIMIT 1");
        if (r[0].as<int64_t>() >= 0) remaining.insert(r[0].as<int64_t>());
        auto s = lm.LatestStatus(id);
        return s == "completed" || s == "cancelled" || s == "error" || s == "failed";
      },
      std::chrono::seconds(60));
  EXPECT_EQ(lm.LatestStatus(id), "completed") << lm.LatestMigration(id).dump();
  EXPECT_GE(remaining.size(), 2u) << "progress kept landing while the copy ran";
  EXPECT_EQ(lm.Server(id)["OS-EXT-SRV-ATTR:host"], "sim-2");
}

}  // namespace
}  // namespace ferry::testing
