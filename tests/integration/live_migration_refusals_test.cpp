// What a live migration does when an agent refuses a step or stops answering, on the sim driver
// with real controller and agent processes and real PostgreSQL:
// - a refused finish cleans the source only when the destination shows the guest running
//   (review C1): otherwise the source is untouched and the record stays there;
// - a source that refuses start, or stops answering once running, ends the migration within
//   a bound instead of holding it (and the server's task) forever (review M1).
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

class LiveMigrationRefusals : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> source_args, std::vector<std::string> dest_args,
             std::vector<std::string> controller_args = {}, int service_down_time_s = 60,
             const std::vector<std::string>& controller_env = {}) {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn, controller_args, service_down_time_s,
                                               controller_env);
    const std::string bandwidth = std::to_string(bandwidth_mbps_);
    std::vector<std::string> src{"--sim-bandwidth-mbps", bandwidth};
    src.insert(src.end(), source_args.begin(), source_args.end());
    std::vector<std::string> dst{"--sim-bandwidth-mbps", bandwidth};
    dst.insert(dst.end(), dest_args.begin(), dest_args.end());
    lm_->StartHosts({{"sim-1", src}, {"sim-2", dst}});
    lm_->stack->EnsureFlavor("1", 1, 512, 1);
  }

  int64_t CopiesOn(const std::string& host, const std::string& id) {
    auto domains = lm_->AgentDomains(host);
    return std::count(domains.begin(), domains.end(), id);
  }

  // The migration ended `status`; the server is settled on `host`, its task cleared, its
  // claims only there and nothing leaked.
  void ExpectEndedWithServerOn(const std::string& id, const std::string& status,
                               const std::string& host) {
    auto m = lm_->LatestMigration(id);
    EXPECT_EQ(m["status"], status) << m.dump();
    auto server = lm_->Server(id);
    EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], host) << server.dump();
    EXPECT_TRUE(server["OS-EXT-STS:task_state"].is_null()) << server.dump();
    EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{host});
    EXPECT_TRUE(lm_->ClaimHosts(m["uuid"]).empty()) << "a terminal migration holds no claim";
    EXPECT_EQ(lm_->LeakedClaims(), 0);
  }

  std::unique_ptr<LiveMigrationStack> lm_;
  int bandwidth_mbps_ = 500;  // MB/s: a 512 MB guest copies in about a second
};

TEST_F(LiveMigrationRefusals, RefusedFinishWithTheGuestRunningOnTheDestinationCleansTheSource) {
  Start({}, {"--sim-scenario", "finish-fails"});
  auto id = lm_->ServerOn("sim-1", "web");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "error", "sim-2");
  auto m = lm_->LatestMigration(id);
  EXPECT_NE(m["error"].get<std::string>().find("finish-fails"), std::string::npos) << m.dump();
  EXPECT_EQ(CopiesOn("sim-1", id), 0) << "the source's stale copy is removed";
  EXPECT_TRUE(lm_->RunsOn("sim-2", id));
  EXPECT_EQ(lm_->Server(id)["status"], "ACTIVE");
}

TEST_F(LiveMigrationRefusals, RefusedFinishWithNothingOnTheDestinationLeavesTheSourceUntouched) {
  // The source reports a switch-over that never reached the destination (the C1 misreport of
  // a guest that stopped mid-copy): the destination refuses to finish and does not run it.
  Start({"--sim-scenario", "lost-switchover"}, {});
  auto id = lm_->ServerOn("sim-1", "web");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "error", "sim-1");
  auto m = lm_->LatestMigration(id);
  EXPECT_NE(m["error"].get<std::string>().find("left untouched"), std::string::npos) << m.dump();
  auto events = lm_->EventPath(m["uuid"]);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], "post-migrating");
  // The guest's definition is still on the source; the destination's leftover is rolled back.
  EXPECT_EQ(CopiesOn("sim-1", id), 1) << "the source's guest must not be cleaned up";
  EXPECT_EQ(CopiesOn("sim-2", id), 0);
}

// The destination switched over but holds the guest paused and refuses to finish, and the
// source's agent is gone: nobody can say the source still has the guest, so ending "on the
// source" would record it where it may not be and release the destination's claims while the
// only copy sits there (review of issue 10, finding 4). The migration waits for the source.
TEST_F(LiveMigrationRefusals,
       RefusedFinishWithTheGuestPausedOnTheDestinationWaitsForASilentSource) {
  Start({}, {"--sim-scenario", "finish-fails-paused"}, {}, 3,
        {"FERRY_TEST_PAUSE_BEFORE_SEND=finish_live_migration_destination"});
  auto id = lm_->ServerOn("sim-1", "web");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  const pid_t controller = lm_->stack->ControllerPid();
  // The controller stops itself right before it sends finish: the source agent goes then.
  ASSERT_TRUE(Stack::WaitFor([&] { return StoppedBySignal(controller); }, 30s));
  lm_->stack->KillAgent("sim-1");
  ASSERT_EQ(::kill(controller, SIGCONT), 0);
  ASSERT_TRUE(Stack::WaitFor([&] { return lm_->stack->HostState("sim-1") == "down"; }, 30s));
  std::this_thread::sleep_for(5s);  // ticks enough for a step that would end it to have done so
  auto m = lm_->LatestMigration(id);
  EXPECT_EQ(m["status"], "post-migrating") << "not ended on the source: " << m.dump();
  EXPECT_EQ(CopiesOn("sim-2", id), 1) << "the destination keeps the guest";
  auto claimed = lm_->ClaimHosts(m["uuid"]);
  claimed.merge(lm_->ClaimHosts(id));
  EXPECT_EQ(claimed.count("sim-2"), 1u)
      << "the destination's capacity stays claimed while the guest is there";
}

// How long a migration whose source agent is stalled may take to end: one agent-client read
// timeout (30 s, agent_client.hpp) per call the step makes before it decides (start or the job
// fetch, then the abort), plus ticks and the 3 s lease.
constexpr auto kEndsWithStalledSource = 100s;

TEST_F(LiveMigrationRefusals, ASourceThatRefusesStartEndsTheMigrationFailedWithItsReason) {
  Start({"--sim-scenario", "start-refused"}, {});
  auto id = lm_->ServerOn("sim-1", "web");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, 30s)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "failed", "sim-1");
  auto m = lm_->LatestMigration(id);
  EXPECT_NE(m["error"].get<std::string>().find("start-refused"), std::string::npos) << m.dump();
  EXPECT_NE(m["error"].get<std::string>().find("HTTP 400"), std::string::npos) << m.dump();
  EXPECT_EQ(CopiesOn("sim-2", id), 0) << "the destination is rolled back";
  EXPECT_TRUE(lm_->RunsOn("sim-1", id));
}

class StalledSource : public LiveMigrationRefusals {
 protected:
  // A 1 GiB guest at 100 MB/s (~11 s of copy) whose source agent is stopped (SIGSTOP) once
  // the migration is running: the process hangs, its host still counts as up.
  std::string MigrateAndStallTheSource(std::vector<std::string> controller_args,
                                       int service_down_time_s = 60) {
    bandwidth_mbps_ = 100;
    Start({}, {}, controller_args, service_down_time_s);
    lm_->stack->EnsureFlavor("2", 1, 1024, 0);
    auto id = lm_->ServerOn("sim-1", "web", "2");
    EXPECT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
    EXPECT_TRUE(lm_->WaitStatus(id, "running", 30s)) << lm_->LatestMigration(id).dump();
    lm_->stack->SignalAgent("sim-1", SIGSTOP);
    stalled_ = true;
    return id;
  }
  // Resumed, the source's job finds its destination rolled back: the guest stays and runs.
  void ResumeTheSourceAndExpectTheGuestThere(const std::string& id) {
    lm_->stack->SignalAgent("sim-1", SIGCONT);
    stalled_ = false;
    EXPECT_TRUE(Stack::WaitFor([&] { return lm_->RunsOn("sim-1", id); }, 30s));
    EXPECT_EQ(CopiesOn("sim-2", id), 0);
  }
  void TearDown() override {
    if (stalled_) lm_->stack->SignalAgent("sim-1", SIGCONT);
  }
  bool stalled_ = false;
};

TEST_F(StalledSource, AbortEndsTheMigrationCancelledWithinABound) {
  auto id = MigrateAndStallTheSource({});
  auto mid = lm_->LatestMigration(id)["id"].get<int64_t>();
  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.24");
  ASSERT_EQ(admin.Delete("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid)).status, 202);
  ASSERT_TRUE(lm_->WaitTerminal(id, kEndsWithStalledSource)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "cancelled", "sim-1");
  ResumeTheSourceAndExpectTheGuestThere(id);
}

TEST_F(StalledSource, CompletionTimeoutEndsTheMigrationWithinABound) {
  // 1 s per GiB, 2 GiB floor: 2 s, far less than the copy needs.
  auto id = MigrateAndStallTheSource({"--live-migration-completion-timeout", "1"});
  ASSERT_TRUE(lm_->WaitTerminal(id, kEndsWithStalledSource)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "cancelled", "sim-1");
  auto m = lm_->LatestMigration(id);
  EXPECT_NE(m["error"].get<std::string>().find("completion timeout"), std::string::npos)
      << m.dump();
  ResumeTheSourceAndExpectTheGuestThere(id);
}

TEST_F(StalledSource, ASourceHostThatGoesDownEndsTheMigrationFailed) {
  // 4 s without a heartbeat (sent every second) and the host is down.
  auto id = MigrateAndStallTheSource({}, 4);
  ASSERT_TRUE(lm_->WaitTerminal(id, kEndsWithStalledSource)) << lm_->LatestMigration(id).dump();
  ExpectEndedWithServerOn(id, "failed", "sim-1");
  auto m = lm_->LatestMigration(id);
  EXPECT_NE(m["error"].get<std::string>().find("is down"), std::string::npos) << m.dump();
  ResumeTheSourceAndExpectTheGuestThere(id);
}

}  // namespace
}  // namespace ferry::testing
