// Live migration between two sim drivers in one process, over a real loopback TCP connection:
// the guest moves only at switch-over, every failure leaves it running on the source, and the
// outcome survives an agent restart.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/drivers/sim/sim_migration_link.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGuest = "44444444-4444-4444-8444-444444444444";
constexpr const char* kMigration = "55555555-5555-4555-8555-555555555555";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-lm-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Errc CodeOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected ferry::Error";
  return Errc::kInternal;
}

std::optional<wire::Domain> Find(Driver& d, const std::string& uuid) {
  for (const auto& dom : d.ListDomains()) {
    if (dom.uuid == uuid) return dom;
  }
  return std::nullopt;
}

class SimLiveMigrationTest : public ::testing::Test {
 protected:
  // 200 MB/s link: a 128 MiB guest takes ~0.7 s per pass.
  SimConfig Config(const std::string& name, int64_t dirty_mb_s = 0) {
    SimConfig c;
    c.state_dir = dir_.path() + "/" + name;
    c.link_bandwidth_bytes_per_s = 200 * kBytesPerMb;
    c.dirty_rate_bytes_per_s = dirty_mb_s * kBytesPerMb;
    c.migration_address = "127.0.0.1";
    c.memory_mb = 8192;
    c.disk_gb = 100;
    return c;
  }
  void StartHosts(SimConfig source, SimConfig dest) {
    source_config_ = std::move(source);
    source_ = std::make_unique<SimDriver>(source_config_);
    dest_ = std::make_unique<SimDriver>(std::move(dest));
    wire::Domain d;
    d.uuid = kGuest;
    d.name = "web";
    d.vcpus = 2;
    d.memory_mb = 128;
    d.disk_gb = 10;
    spec_.migration_uuid = kMigration;
    spec_.domain = source_->CreateDomain(d);
    spec_.source_host = "sim-1";
    spec_.dest_host = "sim-2";
    spec_.bandwidth_mibps = 0;
    spec_.monitor_interval_s = 1;
  }
  void PrepareAndStart() {
    dest_->CheckLiveMigrationDestination(spec_);
    spec_.incoming_uri = dest_->PrepareLiveMigrationDestination(spec_);
    source_->StartLiveMigration(spec_);
  }
  // Polls the source's job until it leaves "running" (or the timeout).
  wire::LiveMigrationJob WaitForEnd(std::chrono::milliseconds timeout = 8s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto job = source_->LiveMigrationJobStats(kMigration);
      if (!job) ADD_FAILURE() << "job unknown";
      if (!job || job->state != "running" || std::chrono::steady_clock::now() > deadline) {
        return job.value_or(wire::LiveMigrationJob{});
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  wire::LiveMigrationJob WaitUntil(const std::function<bool(const wire::LiveMigrationJob&)>& ok) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    wire::LiveMigrationJob job;
    while (std::chrono::steady_clock::now() < deadline) {
      job = *source_->LiveMigrationJobStats(kMigration);
      if (ok(job)) break;
      std::this_thread::sleep_for(50ms);
    }
    return job;
  }
  void ExpectGuestOnSourceOnly(bool dest_still_prepared) {
    auto on_source = Find(*source_, kGuest);
    ASSERT_TRUE(on_source);
    EXPECT_EQ(on_source->power_state, wire::PowerState::kRunning);
    auto on_dest = Find(*dest_, kGuest);
    EXPECT_EQ(on_dest.has_value(), dest_still_prepared);
    if (on_dest) {
      EXPECT_EQ(on_dest->power_state, wire::PowerState::kPaused);
    }
  }

  TempDir dir_;
  SimConfig source_config_;
  std::unique_ptr<SimDriver> source_;
  std::unique_ptr<SimDriver> dest_;
  wire::LiveMigrationSpec spec_;
};

TEST_F(SimLiveMigrationTest, GuestMovesAtSwitchOverAndTheOutcomeSurvivesARestart) {
  StartHosts(Config("src", 20), Config("dst"));
  dest_->CheckLiveMigrationDestination(spec_);
  spec_.incoming_uri = dest_->PrepareLiveMigrationDestination(spec_);
  EXPECT_EQ(spec_.incoming_uri.rfind("tcp:127.0.0.1:", 0), 0u) << spec_.incoming_uri;
  EXPECT_EQ(dest_->PrepareLiveMigrationDestination(spec_), spec_.incoming_uri) << "idempotent";
  ASSERT_TRUE(Find(*dest_, kGuest));
  EXPECT_EQ(Find(*dest_, kGuest)->power_state, wire::PowerState::kPaused) << "like libvirt";
  EXPECT_EQ(CodeOf([&] { dest_->FinishLiveMigrationDestination(spec_); }), Errc::kConflict)
      << "nothing has switched over yet";

  source_->StartLiveMigration(spec_);
  source_->StartLiveMigration(spec_);  // a re-sent command starts nothing new
  auto running = WaitUntil([](const auto& j) { return j.memory_processed > 0; });
  EXPECT_EQ(running.state, "running");
  EXPECT_EQ(running.domain_uuid, kGuest);
  EXPECT_EQ(running.transfer_rate_bps, 200 * kBytesPerMb);
  EXPECT_GT(running.memory_remaining, 0);
  EXPECT_TRUE(Find(*source_, kGuest)) << "still on the source mid-copy";

  auto done = WaitForEnd();
  EXPECT_EQ(done.state, "completed") << done.error;
  EXPECT_EQ(done.phase, "done");
  EXPECT_EQ(done.memory_remaining, 0);
  EXPECT_GE(done.memory_processed, 128 * kBytesPerMiB);
  EXPECT_FALSE(Find(*source_, kGuest)) << "the source forgot the guest at switch-over";
  ASSERT_TRUE(Find(*dest_, kGuest));
  EXPECT_EQ(Find(*dest_, kGuest)->power_state, wire::PowerState::kRunning);

  wire::Domain finished = dest_->FinishLiveMigrationDestination(spec_);
  EXPECT_EQ(finished.uuid, kGuest);
  EXPECT_EQ(finished.power_state, wire::PowerState::kRunning);
  EXPECT_EQ(dest_->FinishLiveMigrationDestination(spec_).uuid, kGuest) << "idempotent";
  source_->CleanupLiveMigrationSource(spec_);
  source_->CleanupLiveMigrationSource(spec_);
  EXPECT_EQ(CodeOf([&] { dest_->RollbackLiveMigrationDestination(spec_); }), Errc::kConflict)
      << "a rollback after switch-over would lose the guest";
  EXPECT_EQ(CodeOf([&] { source_->AbortLiveMigration(kMigration); }), Errc::kConflict);
  source_->ForceCompleteLiveMigration(kMigration, false);  // already complete: fine

  // Both agents restart: the outcome and the guest's new home are on disk.
  source_.reset();
  dest_.reset();
  source_ = std::make_unique<SimDriver>(Config("src"));
  dest_ = std::make_unique<SimDriver>(Config("dst"));
  auto after = source_->LiveMigrationJobStats(kMigration);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->state, "completed");
  EXPECT_FALSE(Find(*source_, kGuest));
  ASSERT_TRUE(Find(*dest_, kGuest));
  EXPECT_EQ(Find(*dest_, kGuest)->power_state, wire::PowerState::kRunning);
  EXPECT_FALSE(source_->LiveMigrationJobStats("66666666-6666-4666-8666-666666666666"));
}

TEST_F(SimLiveMigrationTest, BandwidthLimitOfTheSpecCapsTheRate) {
  StartHosts(Config("src"), Config("dst"));
  spec_.bandwidth_mibps = 100;  // below the 200 MB/s link
  PrepareAndStart();
  auto job = WaitUntil([](const auto& j) { return j.memory_processed > 0; });
  EXPECT_EQ(job.transfer_rate_bps, 100 * kBytesPerMiB);
  EXPECT_EQ(WaitForEnd().state, "completed");
}

TEST_F(SimLiveMigrationTest, StalledCopyNeverConvergesAndAbortKeepsTheGuestOnTheSource) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, ""});
  StartHosts(src, Config("dst"));
  PrepareAndStart();
  auto job = WaitUntil([](const auto& j) { return j.iteration >= 3; });
  EXPECT_EQ(job.state, "running");
  EXPECT_GE(job.iteration, 3);
  EXPECT_GE(job.memory_remaining, job.memory_total * 99 / 100);
  EXPECT_GT(job.dirty_rate_bps, job.transfer_rate_bps);

  source_->AbortLiveMigration(kMigration);
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "cancelled");
  ExpectGuestOnSourceOnly(true);
  source_->AbortLiveMigration(kMigration);  // idempotent
  EXPECT_EQ(CodeOf([&] { source_->ForceCompleteLiveMigration(kMigration, true); }),
            Errc::kConflict);
  EXPECT_EQ(CodeOf([&] { source_->CleanupLiveMigrationSource(spec_); }), Errc::kConflict)
      << "cleanup must not delete the only running copy";

  dest_->RollbackLiveMigrationDestination(spec_);
  dest_->RollbackLiveMigrationDestination(spec_);
  ExpectGuestOnSourceOnly(false);
}

TEST_F(SimLiveMigrationTest, AutoConvergeThrottlesAStalledGuest) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, kGuest});
  StartHosts(src, Config("dst"));
  spec_.permit_auto_converge = true;
  PrepareAndStart();
  auto job = WaitUntil([](const auto& j) { return j.throttle_percent >= 30; });
  EXPECT_GE(job.throttle_percent, 30);
  EXPECT_LT(job.dirty_rate_bps, 2 * job.transfer_rate_bps) << "the throttle slows the guest";
  source_->AbortLiveMigration(kMigration);
  EXPECT_EQ(WaitForEnd().state, "cancelled");
}

TEST_F(SimLiveMigrationTest, ForceCompleteWithPostCopyMovesTheGuestAtOnce) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, ""});
  StartHosts(src, Config("dst"));
  spec_.permit_post_copy = true;  // as libvirt, post-copy only for a job started able to
  PrepareAndStart();
  WaitUntil([](const auto& j) { return j.iteration >= 2; });
  source_->ForceCompleteLiveMigration(kMigration, true);
  auto post = WaitUntil([](const auto& j) { return j.phase != "precopy"; });
  if (post.state == "running") {
    EXPECT_EQ(post.phase, "postcopy");
    EXPECT_EQ(post.dirty_rate_bps, 0);
    EXPECT_EQ(CodeOf([&] { source_->AbortLiveMigration(kMigration); }), Errc::kConflict)
        << "post-copy cannot be undone";
  }
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "completed") << end.error;
  EXPECT_FALSE(Find(*source_, kGuest));
  EXPECT_EQ(dest_->FinishLiveMigrationDestination(spec_).power_state, wire::PowerState::kRunning);
}

// Post-copy moves the guest's execution: the source journals that it is about to before it
// tells the destination. When it cannot (the state directory is gone), the guest never leaves:
// the job fails outside post-copy, the guest runs on the source, and nothing may remove it.
TEST_F(SimLiveMigrationTest, PostCopyThatCannotBeJournalledNeverLeavesTheSource) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, ""});
  StartHosts(src, Config("dst"));
  spec_.permit_post_copy = true;
  PrepareAndStart();
  WaitUntil([](const auto& j) { return j.iteration >= 2; });
  const std::string journal = source_config_.state_dir + "/migration-jobs";
  std::filesystem::rename(journal, journal + ".away");
  std::ofstream(journal) << "not a directory";  // every journal write fails from here
  source_->ForceCompleteLiveMigration(kMigration, true);
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "failed");
  EXPECT_NE(end.phase, "postcopy") << "the controller would drop the only copy";
  EXPECT_NE(end.error.find("could not record"), std::string::npos) << end.error;
  ASSERT_TRUE(Find(*source_, kGuest));
  EXPECT_EQ(Find(*source_, kGuest)->power_state, wire::PowerState::kRunning) << "resumed here";
  EXPECT_EQ(CodeOf([&] { source_->CleanupLiveMigrationSource(spec_); }), Errc::kConflict);
  dest_->RollbackLiveMigrationDestination(spec_);
  EXPECT_FALSE(Find(*dest_, kGuest));
  std::filesystem::remove(journal);
  std::filesystem::rename(journal + ".away", journal);
}

TEST_F(SimLiveMigrationTest, ForceCompleteWithoutPostCopyPausesTheGuestSoItConverges) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, ""});
  StartHosts(src, Config("dst"));
  PrepareAndStart();
  WaitUntil([](const auto& j) { return j.iteration >= 2; });
  source_->ForceCompleteLiveMigration(kMigration, false);
  auto paused = WaitUntil([](const auto& j) { return j.phase != "precopy"; });
  if (paused.state == "running") {
    EXPECT_EQ(paused.phase, "paused");
    EXPECT_EQ(Find(*source_, kGuest)->power_state, wire::PowerState::kPaused);
  }
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "completed") << end.error;
  EXPECT_GT(end.downtime_ms, 0) << "the guest was paused for the rest of the copy";
  EXPECT_FALSE(Find(*source_, kGuest));
  EXPECT_EQ(dest_->FinishLiveMigrationDestination(spec_).power_state, wire::PowerState::kRunning);
}

TEST_F(SimLiveMigrationTest, UnreachableDestinationFailsTheJobAndTheGuestStays) {
  StartHosts(Config("src"), Config("dst"));
  int closed_port = 0;
  {
    LinkListener probe("127.0.0.1");  // a port that was just free and is closed again
    closed_port = probe.Port();
  }
  spec_.incoming_uri = FormatIncomingUri("127.0.0.1", closed_port);
  source_->StartLiveMigration(spec_);
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "failed");
  EXPECT_NE(end.error.find("cannot connect to " + spec_.incoming_uri), std::string::npos)
      << end.error;
  ExpectGuestOnSourceOnly(false);
}

TEST_F(SimLiveMigrationTest, SwitchOverFailureLeavesTheGuestRunningOnTheSource) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioSwitchoverFails, ""});
  StartHosts(src, Config("dst"));
  PrepareAndStart();
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "failed");
  EXPECT_NE(end.error.find("switch-over"), std::string::npos) << end.error;
  ExpectGuestOnSourceOnly(true);
  EXPECT_EQ(CodeOf([&] { dest_->FinishLiveMigrationDestination(spec_); }), Errc::kConflict);
  dest_->RollbackLiveMigrationDestination(spec_);
  ExpectGuestOnSourceOnly(false);
}

TEST_F(SimLiveMigrationTest, RolledBackDestinationRefusesTheCopy) {
  StartHosts(Config("src"), Config("dst"));
  spec_.incoming_uri = dest_->PrepareLiveMigrationDestination(spec_);
  dest_->RollbackLiveMigrationDestination(spec_);
  source_->StartLiveMigration(spec_);
  EXPECT_EQ(WaitForEnd().state, "failed");
  ExpectGuestOnSourceOnly(false);
}

TEST_F(SimLiveMigrationTest, DestinationChecksAndScenariosRefuseWithAReason) {
  SimConfig dst = Config("dst");
  dst.memory_mb = 64;
  StartHosts(Config("src"), dst);
  try {
    dest_->CheckLiveMigrationDestination(spec_);
    ADD_FAILURE() << "a 128 MB guest on a 64 MB host";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
    EXPECT_NE(std::string(e.what()).find("RAM"), std::string::npos) << e.what();
  }
  // The guest is already defined on the "destination" (here: the source itself).
  EXPECT_EQ(CodeOf([&] { source_->CheckLiveMigrationDestination(spec_); }), Errc::kConflict);

  dest_.reset();
  SimConfig failing = Config("dst2");
  failing.scenarios = {{kScenarioPrecheckFails, kGuest}, {kScenarioPrepareFails, ""}};
  dest_ = std::make_unique<SimDriver>(failing);
  EXPECT_EQ(CodeOf([&] { dest_->CheckLiveMigrationDestination(spec_); }), Errc::kConflict);
  EXPECT_THROW(dest_->PrepareLiveMigrationDestination(spec_), Error);
  EXPECT_FALSE(Find(*dest_, kGuest)) << "a failed prepare leaves nothing behind";
}

TEST_F(SimLiveMigrationTest, AbortBeforeStartMakesALateStartANoOp) {
  StartHosts(Config("src"), Config("dst"));
  source_->AbortLiveMigration(kMigration);
  spec_.incoming_uri = dest_->PrepareLiveMigrationDestination(spec_);
  source_->StartLiveMigration(spec_);
  EXPECT_EQ(source_->LiveMigrationJobStats(kMigration)->state, "cancelled");
  EXPECT_TRUE(source_->LiveMigrationJobsToReport().empty());
  ExpectGuestOnSourceOnly(true);
}

TEST_F(SimLiveMigrationTest, AgentRestartMidCopyFailsTheJobAndKeepsTheGuest) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioStall, ""});
  StartHosts(src, Config("dst"));
  PrepareAndStart();
  WaitUntil([](const auto& j) { return j.memory_processed > 0; });
  ASSERT_EQ(source_->LiveMigrationJobsToReport().size(), 1u);
  source_.reset();  // the agent stops; its job dies with it
  source_ = std::make_unique<SimDriver>(Config("src"));
  auto job = source_->LiveMigrationJobStats(kMigration);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, "failed");
  EXPECT_NE(job->error.find("restarted"), std::string::npos) << job->error;
  ExpectGuestOnSourceOnly(true);
  auto to_report = source_->LiveMigrationJobsToReport();
  ASSERT_EQ(to_report.size(), 1u) << "the controller has not heard this outcome yet";
  EXPECT_EQ(to_report[0].state, "failed");
}

TEST_F(SimLiveMigrationTest, AgentDiesMidCopyScenarioExitsLikeAKilledProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        SimConfig src = Config("src-dies");
        src.scenarios.push_back({kScenarioAgentDiesMidCopy, ""});
        StartHosts(src, Config("dst-dies"));
        PrepareAndStart();
        WaitForEnd();  // never returns normally: the process exits past 50 %
        std::exit(0);
      },
      ::testing::ExitedWithCode(137), "");
}

}  // namespace
}  // namespace ferry::agent::sim
