// Cold migration and resize between two sim drivers in one process, over real loopback TCP:
// the guest is off on the source while its disks are copied, the destination verifies what it
// got before it defines the guest with the new flavor, every failure leaves the source's copy
// intact, and a copy interrupted by an agent restart resumes where the destination's bytes end.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "agent/drivers/sim/sim_driver.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGuest = "44444444-4444-4444-8444-444444444444";
constexpr const char* kMigration = "66666666-6666-4666-8666-666666666666";
constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
constexpr int64_t kGiB = int64_t{1} << 30;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-cold-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string MessageOf(const std::function<void()>& fn, Errc* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code != nullptr) *code = e.code();
    return e.what();
  }
  ADD_FAILURE() << "expected ferry::Error";
  return "";
}

Errc CodeOf(const std::function<void()>& fn) {
  Errc code = Errc::kInternal;
  MessageOf(fn, &code);
  return code;
}

std::optional<wire::Domain> Find(Driver& d, const std::string& uuid) {
  for (const auto& dom : d.ListDomains()) {
    if (dom.uuid == uuid) return dom;
  }
  return std::nullopt;
}

class SimColdMigrationTest : public ::testing::Test {
 protected:
  // 1 GB/s link: the 1 GiB disk crosses in about 1.1 s.
  SimConfig Config(const std::string& name) {
    SimConfig c;
    c.state_dir = dir_.path() + "/" + name;
    c.link_bandwidth_bytes_per_s = 1000 * kBytesPerMb;
    c.migration_address = "127.0.0.1";
    c.memory_mb = 8192;
    c.disk_gb = 100;
    return c;
  }
  void StartHosts(SimConfig source, SimConfig dest) {
    source_config_ = std::move(source);
    dest_config_ = std::move(dest);
    source_ = std::make_unique<SimDriver>(source_config_);
    dest_ = std::make_unique<SimDriver>(dest_config_);
    wire::Domain d;
    d.uuid = kGuest;
    d.name = "web";
    d.vcpus = 2;
    d.memory_mb = 128;
    d.disk_gb = 1;
    spec_.migration_uuid = kMigration;
    spec_.domain = source_->CreateDomain(d);
    spec_.new_vcpus = 2;
    spec_.new_memory_mb = 128;
    spec_.new_disk_gb = 1;
    spec_.source_host = "sim-1";
    spec_.dest_host = "sim-2";
    spec_.transfer_token = kToken;
    spec_.shutdown_timeout_s = 5;
    spec_.monitor_interval_s = 1;
  }
  // prepare -> power off -> copy started.
  void PrepareAndCopy() {
    spec_.receive_uri = dest_->PrepareColdMigrationDestination(spec_);
    source_->PowerOffForColdMigration(spec_);
    source_->StartColdMigrationCopy(spec_);
  }
  wire::LiveMigrationJob WaitForEnd(std::chrono::milliseconds timeout = 10s) {
    return WaitUntil([](const auto& j) { return j.state != "running"; }, timeout);
  }
  wire::LiveMigrationJob WaitUntil(const std::function<bool(const wire::LiveMigrationJob&)>& ok,
                                   std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    wire::LiveMigrationJob job;
    while (std::chrono::steady_clock::now() < deadline) {
      auto j = source_->LiveMigrationJobStats(kMigration);
      if (!j) {
        ADD_FAILURE() << "job unknown";
        return job;
      }
      job = *j;
      if (ok(job)) return job;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "timed out; job state=" << job.state;
    return job;
  }
  void ExpectSourceIntactAndOff() {
    auto on_source = Find(*source_, kGuest);
    ASSERT_TRUE(on_source) << "the source's copy is the guest until confirm";
    EXPECT_EQ(on_source->power_state, wire::PowerState::kShutdown);
  }

  TempDir dir_;
  SimConfig source_config_, dest_config_;
  std::unique_ptr<SimDriver> source_;
  std::unique_ptr<SimDriver> dest_;
  wire::ColdMigrationSpec spec_;
};

TEST_F(SimColdMigrationTest, ColdMigrationMovesTheGuestAndConfirmDeletesTheSourceCopy) {
  StartHosts(Config("src"), Config("dst"));
  spec_.receive_uri = dest_->PrepareColdMigrationDestination(spec_);
  EXPECT_EQ(spec_.receive_uri.rfind("tcp:127.0.0.1:", 0), 0u) << spec_.receive_uri;
  EXPECT_EQ(dest_->PrepareColdMigrationDestination(spec_), spec_.receive_uri) << "idempotent";
  EXPECT_FALSE(Find(*dest_, kGuest)) << "received disks are no guest yet";
  EXPECT_EQ(CodeOf([&] { source_->StartColdMigrationCopy(spec_); }), Errc::kConflict)
      << "the guest still runs";

  source_->PowerOffForColdMigration(spec_);
  source_->PowerOffForColdMigration(spec_);  // already off: fine
  ExpectSourceIntactAndOff();
  EXPECT_EQ(source_->LastShutdownForTest(kGuest), "graceful");

  source_->StartColdMigrationCopy(spec_);
  source_->StartColdMigrationCopy(spec_);  // a re-sent command starts nothing new
  auto running = WaitUntil([](const auto& j) { return j.disk_processed > 0; });
  EXPECT_EQ(running.state, "running");
  EXPECT_EQ(running.phase, "copying");
  EXPECT_EQ(running.domain_uuid, kGuest);
  EXPECT_EQ(running.disk_total, kGiB);
  EXPECT_EQ(running.disk_processed + running.disk_remaining, kGiB);
  EXPECT_GT(running.disk_remaining, 0);
  EXPECT_EQ(running.transfer_rate_bps, 1000 * kBytesPerMb);
  EXPECT_GT(running.sampled_at, 0);
  EXPECT_EQ(running.memory_total, 0) << "a cold move copies no memory";
  ASSERT_EQ(source_->LiveMigrationJobsToReport().size(), 1u);
  EXPECT_EQ(source_->LiveMigrationJobsToReport()[0].phase, "copying");

  auto done = WaitForEnd();
  EXPECT_EQ(done.state, "completed") << done.error;
  EXPECT_EQ(done.phase, "done");
  EXPECT_EQ(done.disk_processed, kGiB);
  EXPECT_EQ(done.disk_remaining, 0);
  ExpectSourceIntactAndOff();
  EXPECT_FALSE(Find(*dest_, kGuest)) << "defined only by finish";
  EXPECT_EQ(CodeOf([&] { source_->AbortColdMigrationCopy(kMigration); }), Errc::kConflict)
      << "the copy completed";
  EXPECT_EQ(CodeOf([&] { source_->ForceCompleteLiveMigration(kMigration, true); }), Errc::kConflict)
      << "a cold copy cannot be forced";

  wire::Domain finished = dest_->FinishColdMigrationDestination(spec_);
  EXPECT_EQ(finished.uuid, kGuest);
  EXPECT_EQ(finished.power_state, wire::PowerState::kRunning);
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).uuid, kGuest) << "idempotent";
  ASSERT_TRUE(Find(*dest_, kGuest));
  EXPECT_EQ(Find(*dest_, kGuest)->power_state, wire::PowerState::kRunning);

  source_->ConfirmColdMigrationSource(spec_);
  source_->ConfirmColdMigrationSource(spec_);  // already gone: fine
  EXPECT_FALSE(Find(*source_, kGuest));
  EXPECT_EQ(CodeOf([&] { source_->RevertColdMigrationSource(spec_); }), Errc::kNotFound);

  // Both agents restart: the guest's new home and the copy's outcome are on disk.
  source_.reset();
  dest_.reset();
  source_ = std::make_unique<SimDriver>(source_config_);
  dest_ = std::make_unique<SimDriver>(dest_config_);
  EXPECT_EQ(source_->LiveMigrationJobStats(kMigration)->state, "completed");
  EXPECT_FALSE(Find(*source_, kGuest));
  ASSERT_TRUE(Find(*dest_, kGuest));
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).uuid, kGuest) << "still idempotent";
}

TEST_F(SimColdMigrationTest, RevertBringsTheGuestBackRunningOnTheSourceAndEmptiesTheDestination) {
  StartHosts(Config("src"), Config("dst"));
  PrepareAndCopy();
  ASSERT_EQ(WaitForEnd().state, "completed");
  dest_->FinishColdMigrationDestination(spec_);
  ASSERT_TRUE(Find(*dest_, kGuest));

  dest_->RevertColdMigrationDestination(spec_);
  dest_->RevertColdMigrationDestination(spec_);  // nothing left: fine
  EXPECT_FALSE(Find(*dest_, kGuest)) << "the running copy there is gone too";
  EXPECT_TRUE(dest_->ReceivedBytesForTest(kMigration).empty()) << "and its disks";
  EXPECT_EQ(dest_->Info().datastores.at(0).free_gb, 100);

  wire::Domain back = source_->RevertColdMigrationSource(spec_);
  EXPECT_EQ(back.power_state, wire::PowerState::kRunning);
  EXPECT_EQ(back.vcpus, 2) << "the old flavor";
  EXPECT_EQ(source_->RevertColdMigrationSource(spec_).power_state, wire::PowerState::kRunning);
  EXPECT_EQ(Find(*source_, kGuest)->power_state, wire::PowerState::kRunning);
  EXPECT_EQ(CodeOf([&] { source_->ConfirmColdMigrationSource(spec_); }), Errc::kConflict)
      << "confirm never deletes a running guest";
}

TEST_F(SimColdMigrationTest, RevertOfAGuestThatWasOffLeavesItOff) {
  StartHosts(Config("src"), Config("dst"));
  spec_.power_on = false;
  PrepareAndCopy();
  ASSERT_EQ(WaitForEnd().state, "completed");
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).power_state, wire::PowerState::kShutdown);
  dest_->RevertColdMigrationDestination(spec_);
  EXPECT_EQ(source_->RevertColdMigrationSource(spec_).power_state, wire::PowerState::kShutdown);
}

TEST_F(SimColdMigrationTest, ResizeGrowsDiskVcpusAndRamOnTheDestination) {
  StartHosts(Config("src"), Config("dst"));
  spec_.new_vcpus = 4;
  spec_.new_memory_mb = 512;
  spec_.new_disk_gb = 20;
  spec_.receive_uri = dest_->PrepareColdMigrationDestination(spec_);
  EXPECT_EQ(dest_->Info().datastores.at(0).free_gb, 80)
      << "the received disk, grown, is held on the destination";
  source_->PowerOffForColdMigration(spec_);
  source_->StartColdMigrationCopy(spec_);
  auto done = WaitForEnd();
  ASSERT_EQ(done.state, "completed") << done.error;
  EXPECT_EQ(done.disk_total, kGiB) << "the old disk is copied; it grows on the destination";
  wire::Domain resized = dest_->FinishColdMigrationDestination(spec_);
  EXPECT_EQ(resized.vcpus, 4);
  EXPECT_EQ(resized.memory_mb, 512);
  EXPECT_EQ(resized.disk_gb, 20);
  EXPECT_EQ(Find(*dest_, kGuest)->disk_gb, 20);
  EXPECT_EQ(dest_->Info().datastores.at(0).free_gb, 80);
  EXPECT_EQ(Find(*source_, kGuest)->vcpus, 2) << "the source keeps the old flavor for a revert";
}

TEST_F(SimColdMigrationTest, PrepareRefusesWhatTheHostCannotFitOrAlreadyHas) {
  SimConfig small = Config("dst");
  small.memory_mb = 256;
  small.disk_gb = 10;
  StartHosts(Config("src"), small);
  spec_.new_memory_mb = 512;
  std::string why = MessageOf([&] { dest_->PrepareColdMigrationDestination(spec_); });
  EXPECT_NE(why.find("RAM"), std::string::npos) << why;
  spec_.new_memory_mb = 128;
  spec_.new_disk_gb = 11;
  why = MessageOf([&] { dest_->PrepareColdMigrationDestination(spec_); });
  EXPECT_NE(why.find("local disk"), std::string::npos) << why;
  spec_.new_disk_gb = 1;
  spec_.new_vcpus = 64;
  EXPECT_EQ(CodeOf([&] { dest_->PrepareColdMigrationDestination(spec_); }), Errc::kConflict);
  spec_.new_vcpus = 2;
  EXPECT_TRUE(dest_->ReceivedBytesForTest(kMigration).empty()) << "a refusal leaves nothing";
  // The guest is already defined on the "destination" (here: the source itself).
  why = MessageOf([&] { source_->PrepareColdMigrationDestination(spec_); });
  EXPECT_NE(why.find("already defined"), std::string::npos) << why;
  // Another migration prepared here holds the disk it will receive.
  spec_.new_disk_gb = 6;
  dest_->PrepareColdMigrationDestination(spec_);
  wire::ColdMigrationSpec other = spec_;
  other.migration_uuid = "77777777-7777-4777-8777-777777777777";
  other.domain.uuid = "88888888-8888-4888-8888-888888888888";
  EXPECT_EQ(CodeOf([&] { dest_->PrepareColdMigrationDestination(other); }), Errc::kConflict);
  wire::ColdMigrationSpec other_token = spec_;
  other_token.transfer_token = "another-token-of-another-sender";
  EXPECT_EQ(CodeOf([&] { dest_->PrepareColdMigrationDestination(other_token); }), Errc::kConflict);
}

TEST_F(SimColdMigrationTest, AWrongTokenIsRefusedAndNothingArrives) {
  StartHosts(Config("src"), Config("dst"));
  spec_.receive_uri = dest_->PrepareColdMigrationDestination(spec_);
  source_->PowerOffForColdMigration(spec_);
  wire::ColdMigrationSpec thief = spec_;
  thief.transfer_token = "0123456789abcdef0123456789abcdeX";
  source_->StartColdMigrationCopy(thief);
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "failed");
  EXPECT_NE(end.error.find("wrong transfer token"), std::string::npos) << end.error;
  EXPECT_EQ(dest_->ReceivedBytesForTest(kMigration), std::vector<int64_t>{0});
  EXPECT_EQ(dest_->WireBytesForTest(kMigration), 0);
  ExpectSourceIntactAndOff();
}

TEST_F(SimColdMigrationTest, ACopyToARevertedDestinationFails) {
  StartHosts(Config("src"), Config("dst"));
  spec_.receive_uri = dest_->PrepareColdMigrationDestination(spec_);
  dest_->RevertColdMigrationDestination(spec_);
  source_->PowerOffForColdMigration(spec_);
  source_->StartColdMigrationCopy(spec_);
  EXPECT_EQ(WaitForEnd().state, "failed");
  ExpectSourceIntactAndOff();
}

TEST_F(SimColdMigrationTest, ACopyThatBreaksFailsAndTheSourceKeepsTheGuest) {
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioColdCopyBreaks, ""});
  StartHosts(src, Config("dst"));
  PrepareAndCopy();
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "failed");
  EXPECT_EQ(end.phase, "copying");
  EXPECT_NE(end.error.find("link broke"), std::string::npos) << end.error;
  EXPECT_GE(end.disk_processed * 2, kGiB);
  EXPECT_LT(end.disk_processed, kGiB);
  ExpectSourceIntactAndOff();
  EXPECT_EQ(CodeOf([&] { dest_->FinishColdMigrationDestination(spec_); }), Errc::kConflict)
      << "half a disk is never defined";
  EXPECT_FALSE(Find(*dest_, kGuest));
  dest_->RevertColdMigrationDestination(spec_);
  EXPECT_EQ(source_->RevertColdMigrationSource(spec_).power_state, wire::PowerState::kRunning);
}

TEST_F(SimColdMigrationTest, AChecksumMismatchRefusesFinishAndDefinesNothing) {
  SimConfig dst = Config("dst");
  dst.scenarios.push_back({kScenarioColdChecksumMismatch, kGuest});
  StartHosts(Config("src"), dst);
  PrepareAndCopy();
  ASSERT_EQ(WaitForEnd().state, "completed");
  Errc code = Errc::kInternal;
  std::string why = MessageOf([&] { dest_->FinishColdMigrationDestination(spec_); }, &code);
  EXPECT_EQ(code, Errc::kConflict);
  EXPECT_NE(why.find("do not verify"), std::string::npos) << why;
  EXPECT_FALSE(Find(*dest_, kGuest));
  ExpectSourceIntactAndOff();
}

TEST_F(SimColdMigrationTest, AFailedDefineDefinesNothing) {
  SimConfig dst = Config("dst");
  dst.scenarios.push_back({kScenarioColdDefineFails, ""});
  StartHosts(Config("src"), dst);
  PrepareAndCopy();
  ASSERT_EQ(WaitForEnd().state, "completed");
  std::string why = MessageOf([&] { dest_->FinishColdMigrationDestination(spec_); });
  EXPECT_NE(why.find("cold-define-fails"), std::string::npos) << why;
  EXPECT_FALSE(Find(*dest_, kGuest));
  dest_->RevertColdMigrationDestination(spec_);
  EXPECT_EQ(source_->RevertColdMigrationSource(spec_).power_state, wire::PowerState::kRunning);
}

TEST_F(SimColdMigrationTest, AbortCancelsTheCopyAndTheGuestStaysOffOnTheSource) {
  StartHosts(Config("src"), Config("dst"));
  spec_.bandwidth_mibps = 64;  // 16 s for the disk: time to abort
  PrepareAndCopy();
  WaitUntil([](const auto& j) { return j.disk_processed > 0; });
  EXPECT_EQ(CodeOf([&] { source_->RevertColdMigrationSource(spec_); }), Errc::kConflict)
      << "never start a guest whose disks are being read";
  source_->AbortColdMigrationCopy(kMigration);
  auto end = WaitForEnd();
  EXPECT_EQ(end.state, "cancelled");
  EXPECT_LT(end.disk_processed, kGiB);
  source_->AbortColdMigrationCopy(kMigration);  // idempotent
  ExpectSourceIntactAndOff();
  dest_->RevertColdMigrationDestination(spec_);
  EXPECT_EQ(source_->RevertColdMigrationSource(spec_).power_state, wire::PowerState::kRunning);
}

TEST_F(SimColdMigrationTest, ASourceAgentRestartMidCopyResumesFromTheDestinationsBytes) {
  StartHosts(Config("src"), Config("dst"));
  spec_.bandwidth_mibps = 512;  // 2 s for the disk
  PrepareAndCopy();
  WaitUntil([](const auto& j) { return j.disk_processed >= kGiB / 4; });
  source_.reset();  // the agent stops; the copy's thread with it, its record stays running
  const int64_t here = dest_->ReceivedBytesForTest(kMigration).at(0);
  EXPECT_GT(here, 0);
  EXPECT_LT(here, kGiB);

  source_ = std::make_unique<SimDriver>(source_config_);
  auto resumed = WaitUntil([](const auto& j) { return j.disk_processed > 0; });
  EXPECT_EQ(resumed.phase, "copying");
  EXPECT_GE(resumed.disk_processed, here) << "not from zero";
  auto done = WaitForEnd();
  EXPECT_EQ(done.state, "completed") << done.error;
  EXPECT_EQ(dest_->WireBytesForTest(kMigration), kGiB) << "no byte was sent twice";
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).power_state, wire::PowerState::kRunning)
      << "what was resumed verifies";
  ASSERT_EQ(source_->LiveMigrationJobsToReport().size(), 1u) << "the outcome is reported";
}

TEST_F(SimColdMigrationTest, ADestinationAgentRestartKeepsItsBytesAndListensWhereItDid) {
  StartHosts(Config("src"), Config("dst"));
  spec_.bandwidth_mibps = 512;
  PrepareAndCopy();
  WaitUntil([](const auto& j) { return j.disk_processed >= kGiB / 4; });
  source_.reset();  // both stop
  dest_.reset();
  dest_ = std::make_unique<SimDriver>(dest_config_);
  const int64_t here = dest_->ReceivedBytesForTest(kMigration).at(0);
  EXPECT_GT(here, 0) << "persisted";
  EXPECT_EQ(dest_->PrepareColdMigrationDestination(spec_), spec_.receive_uri)
      << "the same listener address after the restart";
  source_ = std::make_unique<SimDriver>(source_config_);
  EXPECT_EQ(WaitForEnd().state, "completed");
  EXPECT_EQ(dest_->WireBytesForTest(kMigration), kGiB - here) << "the rest only";
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).uuid, kGuest);
}

TEST_F(SimColdMigrationTest, AGuestThatIgnoresShutdownIsDestroyedAfterTheTimeout) {
  ManualClockForTest clock(std::chrono::system_clock::now());
  SimConfig src = Config("src");
  src.scenarios.push_back({kScenarioColdShutdownHangs, kGuest});
  source_config_ = src;
  source_ = std::make_unique<SimDriver>(src, clock);
  wire::Domain d{kGuest, "web", 1, 128, 1, wire::PowerState::kRunning};
  spec_.domain = source_->CreateDomain(d);
  spec_.migration_uuid = kMigration;
  spec_.shutdown_timeout_s = 60;
  auto off = std::async(std::launch::async, [&] { source_->PowerOffForColdMigration(spec_); });
  EXPECT_EQ(off.wait_for(300ms), std::future_status::timeout) << "still waiting for the guest";
  EXPECT_EQ(Find(*source_, kGuest)->power_state, wire::PowerState::kRunning);
  clock.Advance(61s);
  ASSERT_EQ(off.wait_for(5s), std::future_status::ready);
  off.get();
  EXPECT_EQ(Find(*source_, kGuest)->power_state, wire::PowerState::kShutdown);
  EXPECT_EQ(source_->LastShutdownForTest(kGuest), "destroyed");
  EXPECT_TRUE(Find(*source_, kGuest)) << "destroyed is off, not undefined";
}

TEST_F(SimColdMigrationTest, OnSharedStorageNothingIsCopiedAndFinishDefinesTheGuest) {
  StartHosts(Config("src"), Config("dst"));
  spec_.shared_storage = true;
  EXPECT_EQ(dest_->PrepareColdMigrationDestination(spec_), "") << "nothing to receive";
  EXPECT_EQ(dest_->Info().datastores.at(0).free_gb, 100) << "no local disk held";
  source_->PowerOffForColdMigration(spec_);
  EXPECT_EQ(CodeOf([&] { source_->StartColdMigrationCopy(spec_); }), Errc::kConflict);
  EXPECT_EQ(dest_->FinishColdMigrationDestination(spec_).power_state, wire::PowerState::kRunning);
  source_->ConfirmColdMigrationSource(spec_);
  EXPECT_FALSE(Find(*source_, kGuest));
}

TEST_F(SimColdMigrationTest, PowerOffOfAnUnknownGuestIsNotFound) {
  StartHosts(Config("src"), Config("dst"));
  EXPECT_EQ(CodeOf([&] { dest_->PowerOffForColdMigration(spec_); }), Errc::kNotFound);
}

}  // namespace
}  // namespace ferry::agent::sim
