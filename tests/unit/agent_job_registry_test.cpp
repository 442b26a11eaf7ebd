// The job rules every driver shares (agent/jobs/job_registry.hpp), driven through primitives
// written here that record what the registry asks of the hypervisor. The sim and libvirt
// drivers run these same rules in sim_live_migration_test and the libvirt e2e tests.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "agent/jobs/job_registry.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDomain = "0d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";

struct Primitives final : JobPrimitives {
  std::atomic<int> checks = 0, launches = 0, aborts = 0, forces = 0, recovers = 0;
  bool last_force_post_copy = false;
  std::function<void(const JobRecord&)> on_check;
  std::function<void(const JobRecord&)> on_launch, on_abort;
  std::function<std::optional<wire::LiveMigrationJob>(const JobRecord&)> on_sample, on_recover;

  nlohmann::json CheckJobStart(const JobRecord& job) override {
    ++checks;
    if (on_check) on_check(job);
    return {{"fact", "from the check"}};
  }
  void LaunchJob(const JobRecord& job) override {
    ++launches;
    if (on_launch) on_launch(job);
  }
  std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord& job) override {
    return on_sample ? on_sample(job) : std::nullopt;
  }
  void AbortJob(const JobRecord& job) override {
    ++aborts;
    if (on_abort) on_abort(job);
  }
  void ForceCompleteJob(const JobRecord&, bool post_copy) override {
    ++forces;
    last_force_post_copy = post_copy;
  }
  std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord& job) override {
    ++recovers;
    return on_recover ? on_recover(job) : std::nullopt;
  }
};

wire::LiveMigrationJob Ended(const std::string& state, const std::string& phase = "done") {
  wire::LiveMigrationJob j;
  j.state = state;
  j.phase = phase;
  return j;
}

Errc CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no ferry::Error thrown";
  return Errc::kInternal;
}

class JobRegistryTest : public ::testing::Test {
 protected:
  JobRegistryTest()
      : dir_(fs::temp_directory_path() / ("ferry-registry-" + NewUuid().substr(0, 8))),
        clock_(std::chrono::system_clock::now()) {
    limits_.abort_wait = 300ms;
    limits_.abort_poll = 20ms;
    Restart();
  }
  ~JobRegistryTest() override { fs::remove_all(dir_); }

  // A new registry over the same journal, as after an agent restart.
  void Restart() {
    registry_.reset();
    registry_ = std::make_unique<JobRegistry>(dir_.string(), primitives_, clock_, limits_);
    registry_->Recover();
  }
  wire::LiveMigrationSpec Spec(const std::string& migration = "",
                               const std::string& domain = kDomain) {
    wire::LiveMigrationSpec s;
    s.migration_uuid = migration.empty() ? NewUuid() : migration;
    s.domain.uuid = domain;
    return s;
  }
  wire::ColdMigrationSpec ColdSpec(const std::string& migration = "",
                                   const std::string& domain = kDomain) {
    wire::ColdMigrationSpec s;
    s.migration_uuid = migration.empty() ? NewUuid() : migration;
    s.domain.uuid = domain;
    s.source_host = "sim-1";
    s.dest_host = "sim-2";
    s.bandwidth_mibps = 300;
    s.monitor_interval_s = 2;
    s.receive_uri = "tcp:127.0.0.1:4444";
    s.transfer_token = "per-move secret";
    return s;
  }
  size_t Files() const {
    size_t n = 0;
    if (!fs::exists(dir_)) return 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".json";
    return n;
  }

  fs::path dir_;
  ManualClockForTest clock_;
  JobRegistryLimits limits_;
  Primitives primitives_;
  std::unique_ptr<JobRegistry> registry_;
};

TEST_F(JobRegistryTest, StartIsIdempotentAndTheRecordIsWrittenBeforeTheJobStarts) {
  auto spec = Spec();
  primitives_.on_launch = [&](const JobRecord& job) {
    EXPECT_TRUE(fs::exists(dir_ / (spec.migration_uuid + ".json"))) << "journal first";
    EXPECT_EQ(job.driver_facts["fact"], "from the check");
  };
  registry_->Start(spec);
  registry_->Start(spec);
  EXPECT_EQ(primitives_.launches, 1);
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "running");
  registry_->End(spec.migration_uuid, Ended("completed"));
  registry_->Start(spec);  // a command re-sent after the end
  EXPECT_EQ(primitives_.launches, 1);
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "completed");
  registry_->End(spec.migration_uuid, Ended("failed"));  // a second end does not rewrite it
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "completed");
}

TEST_F(JobRegistryTest, ConcurrentStartsAndAnAbortRacingThemLaunchAtMostOnce) {
  for (int round = 0; round < 20; ++round) {
    auto spec = Spec("", NewUuid());
    primitives_.on_check = [](const JobRecord&) {
      std::this_thread::sleep_for(1ms);  // widen the window between the check and the record
    };
    const int before = primitives_.launches;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { registry_->Start(spec); });
    const bool abort_first = round % 2 == 0;
    threads.emplace_back([&] {
      if (abort_first) registry_->Abort(spec.migration_uuid);
    });
    for (auto& t : threads) t.join();
    const int launched = primitives_.launches - before;
    EXPECT_LE(launched, 1) << "round " << round;
    auto job = registry_->Find(spec.migration_uuid);
    ASSERT_TRUE(job);
    // Either the tombstone came first (nothing launched, cancelled), or the job runs (and the
    // abort, if any, was asked of it).
    if (launched == 0) {
      EXPECT_EQ(job->last.state, "cancelled");
    } else {
      EXPECT_EQ(job->spec.domain.uuid, spec.domain.uuid);
      registry_->End(spec.migration_uuid, Ended("failed"));
    }
  }
}

TEST_F(JobRegistryTest, ADomainMigratesOnceAtATime) {
  auto first = Spec(), second = Spec();
  registry_->Start(first);
  EXPECT_EQ(CodeOf([&] { registry_->Start(second); }), Errc::kConflict);
  registry_->End(first.migration_uuid, Ended("failed"));
  registry_->Start(second);
  EXPECT_EQ(primitives_.launches, 2);
}

TEST_F(JobRegistryTest, ARefusedCheckRecordsNothingAndCanBeRetried) {
  auto spec = Spec();
  primitives_.on_check = [](const JobRecord&) {
    throw Error(Errc::kUnavailable, "hypervisor connection lost");
  };
  EXPECT_EQ(CodeOf([&] { registry_->Start(spec); }), Errc::kUnavailable);
  EXPECT_FALSE(registry_->Stats(spec.migration_uuid));
  EXPECT_EQ(Files(), 0u);
  primitives_.on_check = nullptr;
  registry_->Start(spec);
  EXPECT_EQ(primitives_.launches, 1);
}

TEST_F(JobRegistryTest, NothingStartsWhenTheRecordCannotBeWritten) {
  fs::remove_all(dir_);
  std::ofstream(dir_.string()) << "a file where the journal's directory should be";
  registry_ = std::make_unique<JobRegistry>(dir_.string(), primitives_, clock_, limits_);
  auto spec = Spec();
  EXPECT_EQ(CodeOf([&] { registry_->Start(spec); }), Errc::kUnavailable);
  EXPECT_EQ(primitives_.launches, 0) << "a job whose outcome could not survive a restart";
  EXPECT_FALSE(registry_->Stats(spec.migration_uuid));
  fs::remove(dir_);
  fs::create_directories(dir_);
}

TEST_F(JobRegistryTest, ALaunchThatThrowsEndsTheJobFailed) {
  auto spec = Spec();
  primitives_.on_launch = [](const JobRecord&) { throw Error(Errc::kInternal, "no thread"); };
  EXPECT_EQ(CodeOf([&] { registry_->Start(spec); }), Errc::kInternal);
  auto job = registry_->Stats(spec.migration_uuid);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, "failed");
  EXPECT_NE(job->error.find("no thread"), std::string::npos) << job->error;
  registry_->Start(spec);
  EXPECT_EQ(primitives_.launches, 1) << "the retry learns the outcome, it does not start again";
}

TEST_F(JobRegistryTest, AbortBeforeStartLeavesATombstoneThatOutlivesARestart) {
  auto spec = Spec();
  registry_->Abort(spec.migration_uuid);
  EXPECT_EQ(primitives_.aborts, 0) << "nothing runs to abort";
  Restart();
  registry_->Start(spec);
  EXPECT_EQ(primitives_.launches, 0) << "a late start does nothing";
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "cancelled");
  EXPECT_TRUE(registry_->ToReport().empty()) << "nothing ran: no outcome to push";
  EXPECT_EQ(CodeOf([&] { registry_->Abort("../../x"); }), Errc::kBadRequest);
}

TEST_F(JobRegistryTest, AbortWaitsForTheEndToTellCancelledFromCompleted) {
  auto spec = Spec();
  registry_->Start(spec);
  std::thread hypervisor;  // ends the job a little later, as a cancelled copy does
  primitives_.on_abort = [&](const JobRecord& job) {
    EXPECT_TRUE(job.abort_requested);
    hypervisor = std::thread([&, uuid = job.spec.migration_uuid] {
      std::this_thread::sleep_for(50ms);
      registry_->End(uuid, Ended("cancelled"));
    });
  };
  registry_->Abort(spec.migration_uuid);
  hypervisor.join();
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "cancelled");
  registry_->Abort(spec.migration_uuid);  // ended cancelled: success
  EXPECT_EQ(primitives_.aborts, 1);

  auto late = Spec();
  registry_->Start(late);
  primitives_.on_abort = [&](const JobRecord& job) {
    registry_->End(job.spec.migration_uuid, Ended("completed"));  // switch-over won the race
  };
  EXPECT_EQ(CodeOf([&] { registry_->Abort(late.migration_uuid); }), Errc::kConflict);
  EXPECT_EQ(CodeOf([&] { registry_->Abort(late.migration_uuid); }), Errc::kConflict)
      << "the guest has moved";
}

TEST_F(JobRegistryTest, AbortOfAnAdoptedJobNoticesItsEndBySampling) {
  auto spec = Spec();
  registry_->Start(spec);
  bool aborted = false;
  primitives_.on_abort = [&](const JobRecord&) { aborted = true; };
  primitives_.on_sample = [&](const JobRecord& job) -> std::optional<wire::LiveMigrationJob> {
    if (!aborted) return std::nullopt;
    EXPECT_TRUE(job.abort_requested);
    return Ended("cancelled");  // no thread of ours ends it: the hypervisor's job is gone
  };
  registry_->Abort(spec.migration_uuid);
  EXPECT_EQ(registry_->Find(spec.migration_uuid)->last.state, "cancelled");
}

TEST_F(JobRegistryTest, AbortAskedButNotYetEndedReturnsAndTheEndIsReportedLater) {
  auto spec = Spec();
  registry_->Start(spec);
  registry_->Abort(spec.migration_uuid);  // the job keeps running past abort_wait
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "running");
  EXPECT_TRUE(registry_->AbortRequested(spec.migration_uuid));
  Restart();  // abort asked survives: an adopted job still running here ends "cancelled"
  EXPECT_TRUE(registry_->AbortRequested(spec.migration_uuid));
}

TEST_F(JobRegistryTest, PostCopyCannotBeAborted) {
  auto spec = Spec();
  registry_->Start(spec);
  primitives_.on_sample = [](const JobRecord& job) {
    wire::LiveMigrationJob j = job.last;
    j.phase = "postcopy";
    return std::optional(j);
  };
  registry_->Stats(spec.migration_uuid);
  EXPECT_EQ(CodeOf([&] { registry_->Abort(spec.migration_uuid); }), Errc::kConflict);
  EXPECT_EQ(primitives_.aborts, 0);
}

TEST_F(JobRegistryTest, AbortAfterPostCopyWasAskedIsRefusedBeforeAnySampleShowsIt) {
  auto spec = Spec();
  spec.permit_post_copy = true;
  registry_->Start(spec);
  registry_->ForceComplete(spec.migration_uuid, true);  // no sample since: phase still precopy
  EXPECT_EQ(CodeOf([&] { registry_->Abort(spec.migration_uuid); }), Errc::kConflict);
  EXPECT_EQ(primitives_.aborts, 0);
  Restart();  // and a restart knows post-copy was asked
  EXPECT_TRUE(registry_->Find(spec.migration_uuid)->post_copy);
}

TEST_F(JobRegistryTest, AnAbortOrForceTheHypervisorRefusesLeavesNoMark) {
  auto spec = Spec();
  spec.permit_post_copy = true;
  registry_->Start(spec);
  primitives_.on_abort = [](const JobRecord&) {
    throw Error(Errc::kUnavailable, "hypervisor connection lost");
  };
  EXPECT_EQ(CodeOf([&] { registry_->Abort(spec.migration_uuid); }), Errc::kUnavailable);
  EXPECT_FALSE(registry_->AbortRequested(spec.migration_uuid))
      << "a later failure of the copy is a failure, not a cancellation";
  struct Refusing final : JobPrimitives {
    nlohmann::json CheckJobStart(const JobRecord&) override { return {}; }
    void LaunchJob(const JobRecord&) override {}
    std::optional<wire::LiveMigrationJob> SampleJob(const JobRecord&) override { return {}; }
    void AbortJob(const JobRecord&) override {}
    void ForceCompleteJob(const JobRecord&, bool) override {
      throw Error(Errc::kConflict, "post-copy refused");
    }
    std::optional<wire::LiveMigrationJob> RecoverJob(const JobRecord&) override { return {}; }
  } refusing;
  JobRegistry other((dir_ / "other").string(), refusing, clock_, limits_);
  other.Start(spec);
  EXPECT_EQ(CodeOf([&] { other.ForceComplete(spec.migration_uuid, true); }), Errc::kConflict);
  EXPECT_FALSE(other.Find(spec.migration_uuid)->forcing) << "may be forced again";
  other.Abort(spec.migration_uuid);  // not in post-copy: an abort is still possible
}

TEST_F(JobRegistryTest, UuidsInAnotherCaseAreTheSameMigrationAndDomain) {
  auto spec = Spec();
  std::string upper = spec.migration_uuid;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  registry_->Abort(upper);
  registry_->Start(spec);
  EXPECT_EQ(primitives_.launches, 0) << "the tombstone holds in any case";
  auto first = Spec(), second = Spec("", "0D7E6F1A-2B3C-4D5E-8F90-A1B2C3D4E5F6");
  registry_->Start(first);
  EXPECT_EQ(CodeOf([&] { registry_->Start(second); }), Errc::kConflict) << "same domain";
}

TEST_F(JobRegistryTest, ForceCompleteFollowsTheContract) {
  EXPECT_EQ(CodeOf([&] { registry_->ForceComplete(NewUuid(), true); }), Errc::kNotFound);
  auto spec = Spec();
  spec.permit_post_copy = false;
  registry_->Start(spec);
  registry_->ForceComplete(spec.migration_uuid, true);
  EXPECT_FALSE(primitives_.last_force_post_copy) << "post-copy only if the job was started so";
  registry_->ForceComplete(spec.migration_uuid, true);
  EXPECT_EQ(primitives_.forces, 1) << "already forcing";
  EXPECT_TRUE(registry_->Find(spec.migration_uuid)->forcing);
  registry_->End(spec.migration_uuid, Ended("completed"));
  registry_->ForceComplete(spec.migration_uuid, true);  // completed: success

  auto failed = Spec();
  failed.permit_post_copy = true;
  registry_->Start(failed);
  registry_->ForceComplete(failed.migration_uuid, true);
  EXPECT_TRUE(primitives_.last_force_post_copy);
  registry_->End(failed.migration_uuid, Ended("failed"));
  EXPECT_EQ(CodeOf([&] { registry_->ForceComplete(failed.migration_uuid, true); }),
            Errc::kConflict);
}

TEST_F(JobRegistryTest, OutcomesAreReportedUntilAcknowledgedAndRememberedAcrossRestarts) {
  auto spec = Spec();
  registry_->Start(spec);
  registry_->End(spec.migration_uuid, Ended("completed"));
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "completed");
  Restart();
  ASSERT_EQ(registry_->ToReport().size(), 1u) << "asked is not acknowledged";
  registry_->Acknowledge(spec.migration_uuid);
  EXPECT_TRUE(registry_->ToReport().empty());
  Restart();
  EXPECT_TRUE(registry_->ToReport().empty());
  EXPECT_EQ(registry_->Stats(spec.migration_uuid)->state, "completed") << "still answered";
}

TEST_F(JobRegistryTest, AfterARestartTheDriverAdoptsOrEndsEachRunningJob) {
  auto adopted = Spec(), ended = Spec("", "1d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6");
  registry_->Start(adopted);
  registry_->Start(ended);
  primitives_.on_recover = [&](const JobRecord& job) -> std::optional<wire::LiveMigrationJob> {
    if (job.spec.migration_uuid == adopted.migration_uuid) return std::nullopt;
    return Ended("failed");
  };
  Restart();
  EXPECT_EQ(primitives_.recovers, 2);
  EXPECT_EQ(registry_->Stats(adopted.migration_uuid)->state, "running");
  EXPECT_EQ(registry_->Stats(ended.migration_uuid)->state, "failed");
  EXPECT_EQ(registry_->ToReport().size(), 2u);
  // The adopted job ends when a sample says so.
  primitives_.on_sample = [](const JobRecord&) { return std::optional(Ended("completed")); };
  EXPECT_EQ(registry_->Stats(adopted.migration_uuid)->state, "completed");
  Restart();
  EXPECT_EQ(primitives_.recovers, 2) << "ended jobs are not recovered again";
}

TEST_F(JobRegistryTest, EndedOutcomesAreForgottenAfterAWeekAndBeyondTheCapOnceAcknowledged) {
  limits_.max_ended = 3;
  limits_.max_tombstones = 2;
  Restart();
  auto running = Spec();
  registry_->Start(running);
  std::vector<std::string> ended;
  for (int i = 0; i < 5; ++i) {
    auto s = Spec("", NewUuid());
    registry_->Start(s);
    clock_.Advance(1s);
    registry_->End(s.migration_uuid, Ended("completed"));
    ended.push_back(s.migration_uuid);
  }
  for (const auto& uuid : ended) {
    EXPECT_TRUE(registry_->Find(uuid)) << "not acknowledged: kept whatever the count";
  }
  for (const auto& uuid : ended) registry_->Acknowledge(uuid);
  clock_.Advance(1s);
  registry_->Abort(NewUuid());  // any pass prunes
  EXPECT_FALSE(registry_->Find(ended[0]));
  EXPECT_FALSE(registry_->Find(ended[1]));
  EXPECT_TRUE(registry_->Find(ended[2]));
  EXPECT_TRUE(registry_->Find(ended[4]));
  // Aborts of migrations never seen here push out older tombstones, never an outcome.
  std::vector<std::string> tombs;
  for (int i = 0; i < 4; ++i) {
    tombs.push_back(NewUuid());
    clock_.Advance(1s);
    registry_->Abort(tombs.back());
  }
  EXPECT_FALSE(registry_->Find(tombs[0]));
  EXPECT_TRUE(registry_->Find(tombs[3]));
  EXPECT_TRUE(registry_->Find(ended[2])) << "tombstones never evict a real outcome";
  EXPECT_TRUE(registry_->Find(running.migration_uuid)) << "a running job is never forgotten";
  EXPECT_EQ(Files(), 1u + 3u + 2u) << "the journal forgets them too";
  clock_.Advance(std::chrono::hours(24 * 7 + 1));
  Restart();
  EXPECT_FALSE(registry_->Find(ended[4]));
  EXPECT_TRUE(registry_->Find(running.migration_uuid));
  EXPECT_EQ(Files(), 1u);
}

TEST_F(JobRegistryTest, ACorruptRecordMakesItsMigrationUnknownAndTheRestLoad) {
  auto good = Spec(), torn = Spec("", NewUuid());
  registry_->Start(good);
  registry_->Start(torn);
  std::ofstream(dir_ / (torn.migration_uuid + ".json"), std::ios::trunc) << "{\"spec\":";
  Restart();
  EXPECT_EQ(registry_->quarantined(), 1);
  EXPECT_FALSE(registry_->Stats(torn.migration_uuid)) << "unknown, not guessed";
  EXPECT_TRUE(registry_->Stats(good.migration_uuid));
}

}  // namespace
}  // namespace ferry::agent

namespace ferry::agent {
namespace {

TEST_F(JobRegistryTest, AColdCopyStartsOnceWithTheSharedFieldsAndPhaseCopying) {
  auto cold = ColdSpec();
  std::string checked_kind;
  primitives_.on_check = [&](const JobRecord& job) { checked_kind = job.kind; };
  primitives_.on_launch = [&](const JobRecord& job) {
    EXPECT_TRUE(fs::exists(dir_ / (cold.migration_uuid + ".json"))) << "journal first";
    ASSERT_TRUE(job.cold);
    EXPECT_EQ(job.cold->receive_uri, cold.receive_uri);
    EXPECT_EQ(job.spec.migration_uuid, cold.migration_uuid);
    EXPECT_EQ(job.spec.domain.uuid, cold.domain.uuid);
    EXPECT_EQ(job.spec.source_host, "sim-1");
    EXPECT_EQ(job.spec.dest_host, "sim-2");
    EXPECT_EQ(job.spec.bandwidth_mibps, 300);
    EXPECT_EQ(job.spec.monitor_interval_s, 2);
  };
  registry_->StartColdCopy(cold);
  registry_->StartColdCopy(cold);
  EXPECT_EQ(checked_kind, kJobKindColdCopy);
  EXPECT_EQ(primitives_.launches, 1);
  auto job = registry_->Stats(cold.migration_uuid);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, "running");
  EXPECT_EQ(job->phase, "copying");
  // One job per domain, whatever the kinds.
  EXPECT_EQ(CodeOf([&] { registry_->Start(Spec()); }), Errc::kConflict);
  EXPECT_EQ(CodeOf([&] { registry_->StartColdCopy(ColdSpec()); }), Errc::kConflict);
  registry_->End(cold.migration_uuid, Ended("failed", "copying"));
  registry_->StartColdCopy(cold);  // the same migration again: nothing new, even once ended
  EXPECT_EQ(primitives_.launches, 1);
  EXPECT_EQ(registry_->Stats(cold.migration_uuid)->state, "failed");
}

TEST_F(JobRegistryTest, AColdCopyCannotBeForcedAndIsAbortedLikeAnyJob) {
  auto cold = ColdSpec();
  registry_->StartColdCopy(cold);
  EXPECT_EQ(CodeOf([&] { registry_->ForceComplete(cold.migration_uuid, true); }), Errc::kConflict);
  EXPECT_EQ(CodeOf([&] { registry_->ForceComplete(cold.migration_uuid, false); }), Errc::kConflict);
  EXPECT_EQ(primitives_.forces, 0) << "the hypervisor is never asked";
  EXPECT_FALSE(registry_->Find(cold.migration_uuid)->forcing);
  primitives_.on_abort = [&](const JobRecord& job) {
    registry_->End(job.spec.migration_uuid, Ended("cancelled", "copying"));
  };
  registry_->Abort(cold.migration_uuid);
  EXPECT_EQ(registry_->Stats(cold.migration_uuid)->state, "cancelled");

  auto completed = ColdSpec("", "1d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6");
  registry_->StartColdCopy(completed);
  registry_->End(completed.migration_uuid, Ended("completed"));
  EXPECT_EQ(CodeOf([&] { registry_->Abort(completed.migration_uuid); }), Errc::kConflict);
}

TEST_F(JobRegistryTest, AnAbortBeforeAColdCopyStartsMakesTheStartANoOp) {
  auto cold = ColdSpec();
  registry_->Abort(cold.migration_uuid);
  Restart();
  registry_->StartColdCopy(cold);
  EXPECT_EQ(primitives_.launches, 0);
  EXPECT_EQ(registry_->Stats(cold.migration_uuid)->state, "cancelled");
}

TEST_F(JobRegistryTest, AColdCopyIsRecoveredAfterARestartWithItsKindAndSpec) {
  auto cold = ColdSpec();
  registry_->StartColdCopy(cold);
  std::optional<JobRecord> recovered;
  primitives_.on_recover = [&](const JobRecord& job) -> std::optional<wire::LiveMigrationJob> {
    recovered = job;
    return std::nullopt;  // the driver resumes it
  };
  Restart();
  ASSERT_TRUE(recovered);
  EXPECT_TRUE(recovered->IsColdCopy());
  ASSERT_TRUE(recovered->cold);
  EXPECT_EQ(recovered->cold->transfer_token, cold.transfer_token);
  EXPECT_EQ(registry_->Stats(cold.migration_uuid)->phase, "copying");
  registry_->End(cold.migration_uuid, Ended("completed"));
  std::ifstream journal(dir_ / (cold.migration_uuid + ".json"));
  const std::string written((std::istreambuf_iterator<char>(journal)),
                            std::istreambuf_iterator<char>());
  EXPECT_FALSE(written.empty());
  EXPECT_EQ(written.find(cold.transfer_token), std::string::npos)
      << "an ended copy's journal keeps the move's transfer token";
  ASSERT_EQ(registry_->ToReport().size(), 1u);
  registry_->Acknowledge(cold.migration_uuid);
  Restart();
  EXPECT_TRUE(registry_->ToReport().empty());
  EXPECT_EQ(registry_->Stats(cold.migration_uuid)->state, "completed");
}

}  // namespace
}  // namespace ferry::agent
