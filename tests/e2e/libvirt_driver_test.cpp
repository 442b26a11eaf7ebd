// The libvirt driver against two real libvirt hosts (deploy/testbed/libvirt-hosts): a guest
// created through the driver on kvm-1 live-migrates to kvm-2 and keeps running (its serial
// heartbeat continues there and stops on kvm-1); a migration that cannot converge is aborted,
// the guest keeps running on kvm-1 and kvm-2 is rolled back; force-complete by pause and by
// post-copy. Testbed handling: libvirt_e2e_fixture.hpp. Disks and block migration:
// libvirt_block_migration_test.cpp.
#include "tests/e2e/libvirt_e2e_fixture.hpp"

namespace {

using namespace ferry::e2e;
using ferry::Errc;
using ferry::Error;

using LibvirtDriverE2E = LibvirtE2E;

TEST_F(LibvirtDriverE2E, LiveMigratesARunningGuestToTheOtherHost) {
  MakeDrivers(8);
  auto info = src_->Info();
  EXPECT_EQ(info.hypervisor_type, "QEMU");
  EXPECT_GE(info.hypervisor_version, 7000000);  // QEMU 7.x or later
  EXPECT_FALSE(info.simulated);
  EXPECT_GT(info.vcpus, 0);
  EXPECT_GT(info.memory_mb, 0);
  EXPECT_GT(info.local_gb, 0);
  EXPECT_FALSE(info.cpu.arch.empty());
  ASSERT_EQ(info.datastores.size(), 1u);
  EXPECT_EQ(info.datastores[0].kind, "shared");

  auto guest = NewGuest("ferry-e2e-mig");
  auto t0 = Clock::now();
  auto created = src_->CreateDomain(guest);
  EXPECT_EQ(created.uuid, guest.uuid);
  EXPECT_EQ(created.power_state, ferry::wire::PowerState::kRunning);
  EXPECT_EQ(src_->CreateDomain(guest).uuid, guest.uuid);  // idempotent
  auto other = guest;
  other.vcpus = 2;
  try {
    src_->CreateDomain(other);
    ADD_FAILURE() << "same uuid, other vcpus must conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }
  ASSERT_TRUE(HasDomain(*src_, guest.uuid));
  const std::string src_log = Bed().Serial("kvm-1", guest.name);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(src_log).size() >= 2; }))
      << "no ticks in " << src_log;
  std::fprintf(stderr, "guest ticking on kvm-1 %.1f s after CreateDomain\n", Since(t0));

  auto spec = Spec(guest, 32);  // 32 MiB/s: a few seconds for 128 MiB, so progress is visible
  dst_->CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  EXPECT_EQ(spec.incoming_uri, "tcp://10.77.2.2");
  t0 = Clock::now();
  src_->StartLiveMigration(spec);
  src_->StartLiveMigration(spec);  // a repeat changes nothing

  std::vector<int64_t> processed;
  ferry::wire::LiveMigrationJob job;
  ASSERT_TRUE(WaitFor(90s, [&] {
    auto j = src_->LiveMigrationJobStats(spec.migration_uuid);
    if (!j) return false;
    job = *j;
    if (job.state == "running" && job.memory_processed > 0 &&
        (processed.empty() || job.memory_processed != processed.back())) {
      processed.push_back(job.memory_processed);
      EXPECT_GT(job.memory_total, 0);
      EXPECT_GE(job.memory_total, job.memory_processed);
    }
    return job.state != "running";
  }));
  double migrate_s = Since(t0);
  ASSERT_EQ(job.state, "completed") << job.error;
  EXPECT_EQ(job.phase, "done");
  ASSERT_GE(processed.size(), 2u) << "job stats never rose while running";
  EXPECT_TRUE(std::is_sorted(processed.begin(), processed.end()));
  std::fprintf(stderr, "migration completed in %.1f s; %zu rising samples, last %lld bytes\n",
               migrate_s, processed.size(), static_cast<long long>(processed.back()));
  auto to_report = src_->LiveMigrationJobsToReport();
  ASSERT_EQ(to_report.size(), 1u) << "the outcome is pushed until the controller acknowledges it";
  EXPECT_EQ(to_report[0].state, "completed");
  src_->LiveMigrationJobReported(spec.migration_uuid);
  EXPECT_TRUE(src_->LiveMigrationJobsToReport().empty());

  auto finished = dst_->FinishLiveMigrationDestination(spec);
  EXPECT_EQ(finished.power_state, ferry::wire::PowerState::kRunning);
  src_->CleanupLiveMigrationSource(spec);
  src_->CleanupLiveMigrationSource(spec);  // idempotent
  try {
    dst_->RollbackLiveMigrationDestination(spec);
    ADD_FAILURE() << "rollback after switch-over must conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }
  try {
    src_->AbortLiveMigration(spec.migration_uuid);
    ADD_FAILURE() << "abort of a completed job must conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }

  // Exactly one host: defined on kvm-2 only; kvm-2 continues kvm-1's heartbeat, kvm-1 stopped.
  EXPECT_FALSE(HasDomain(*src_, guest.uuid));
  EXPECT_TRUE(HasDomain(*dst_, guest.uuid));
  ExpectTicksMovedToKvm2(guest.name);

  dst_->DeleteDomain(guest.uuid);
  dst_->DeleteDomain(guest.uuid);  // idempotent
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
}

TEST_F(LibvirtDriverE2E, AbortsAMigrationThatCannotConverge) {
  // 64 MiB of RAM dirtied at 64 MiB/s against 16 MiB/s of bandwidth: every pass finds the whole
  // working set (~55 MiB) dirty again, so the copy never converges.
  MakeDrivers(64);
  auto guest = NewGuest("ferry-e2e-abort");
  guest.memory_mb = 64;
  src_->CreateDomain(guest);
  const std::string src_log = Bed().Serial("kvm-1", guest.name);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(src_log).size() >= 2; }))
      << "no ticks in " << src_log;

  auto spec = Spec(guest, 16);
  // Stepwise max downtime: 2 GiB (Nova's floor for small guests) x 1 s/GiB = a step every 2 s:
  // 300 ms at once, 500 ms at 2 s, 700 ms at 4 s, 900 ms at 6 s.
  spec.max_downtime_ms = 900;
  spec.downtime_steps = 3;
  spec.downtime_delay_s = 1;
  dst_->CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  auto started = Clock::now();
  src_->StartLiveMigration(spec);
  ferry::wire::LiveMigrationJob job;
  // QEMU reports a dirty rate once a pass has ended.
  ASSERT_TRUE(WaitFor(40s,
                      [&] {
                        auto j = src_->LiveMigrationJobStats(spec.migration_uuid);
                        if (j) job = *j;
                        return j && (j->state != "running" ||
                                     (j->iteration >= 2 && j->dirty_rate_bps > 0));
                      }))
      << "no dirty rate; state " << job.state << " iteration " << job.iteration << " " << job.error;
  ASSERT_EQ(job.state, "running") << job.error;
  EXPECT_GT(job.memory_processed, 0);
  EXPECT_GT(job.dirty_rate_bps, 0);
  WaitFor(5s, [&] { return Since(started) > 2.5; });
  std::string downtime;
  ASSERT_EQ(Shell("'" + Bed().script + "' virsh kvm-1 migrate-getmaxdowntime " + guest.name +
                      " --dir '" + Bed().dir + "'",
                  &downtime),
            0);
  std::fprintf(stderr, "max downtime %.1f s into the migration: %s ms\n", Since(started),
               downtime.c_str());
  EXPECT_GE(std::stol(downtime), 500) << "the downtime steps did not advance";
  EXPECT_LE(std::stol(downtime), 900);
  EXPECT_GT(job.memory_remaining, 32 * 1024 * 1024) << "the second pass should find most RAM dirty";
  std::fprintf(stderr,
               "before abort: iteration %d, %lld bytes sent, %lld remaining, %lld B/s sent, %lld "
               "B/s dirtied\n",
               job.iteration, static_cast<long long>(job.memory_processed),
               static_cast<long long>(job.memory_remaining),
               static_cast<long long>(job.transfer_rate_bps),
               static_cast<long long>(job.dirty_rate_bps));
  auto reported = src_->LiveMigrationJobsToReport();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].migration_uuid, spec.migration_uuid);

  auto t0 = Clock::now();
  src_->AbortLiveMigration(spec.migration_uuid);
  std::fprintf(stderr, "abort took %.2f s\n", Since(t0));
  auto after = src_->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->state, "cancelled") << after->error;
  src_->AbortLiveMigration(spec.migration_uuid);  // idempotent
  try {
    src_->ForceCompleteLiveMigration(spec.migration_uuid, false);
    ADD_FAILURE() << "force-complete of a cancelled job must conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }
  try {
    src_->CleanupLiveMigrationSource(spec);
    ADD_FAILURE() << "cleanup of a source whose guest never left must conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }

  dst_->RollbackLiveMigrationDestination(spec);
  dst_->RollbackLiveMigrationDestination(spec);  // idempotent
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  EXPECT_TRUE(HasDomain(*src_, guest.uuid));
  Tick before = LastTick(src_log);
  EXPECT_TRUE(WaitFor(5s, [&] { return LastTick(src_log).n > before.n + 1; }))
      << "the guest stopped ticking on kvm-1";
  EXPECT_EQ(LastTick(src_log).boot, before.boot);
  EXPECT_TRUE(Ticks(Bed().Serial("kvm-2", guest.name)).empty()) << "the guest ran on kvm-2";
}

// Force-complete of a migration that cannot converge: pausing the guest (or post-copy) makes
// it finish; the guest then runs on kvm-2 with the same boot, and stops on kvm-1.
void ForceCompleteCase(LibvirtDriver& src, LibvirtDriver& dst, ferry::wire::LiveMigrationSpec spec,
                       const std::string& name, bool post_copy) {
  const std::string src_log = Bed().Serial("kvm-1", name);
  const std::string dst_log = Bed().Serial("kvm-2", name);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(src_log).size() >= 2; }))
      << "no ticks in " << src_log;
  spec.permit_post_copy = post_copy;
  dst.CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst.PrepareLiveMigrationDestination(spec);
  src.StartLiveMigration(spec);
  ferry::wire::LiveMigrationJob job;
  ASSERT_TRUE(WaitFor(40s,
                      [&] {
                        auto j = src.LiveMigrationJobStats(spec.migration_uuid);
                        if (j) job = *j;
                        return j && (j->state != "running" || j->iteration >= 2);
                      }))
      << "no second pass; state " << job.state << " " << job.error;
  ASSERT_EQ(job.state, "running") << job.error;
  auto t0 = Clock::now();
  src.ForceCompleteLiveMigration(spec.migration_uuid, post_copy);
  src.ForceCompleteLiveMigration(spec.migration_uuid, post_copy);  // already forcing: success
  ASSERT_TRUE(WaitFor(60s, [&] {
    auto j = src.LiveMigrationJobStats(spec.migration_uuid);
    if (j) job = *j;
    return j && j->state != "running";
  }));
  ASSERT_EQ(job.state, "completed") << job.error;
  std::fprintf(stderr, "%s: completed %.1f s after force-complete\n",
               post_copy ? "post-copy" : "pause", Since(t0));
  src.ForceCompleteLiveMigration(spec.migration_uuid, post_copy);  // completed: success
  auto finished = dst.FinishLiveMigrationDestination(spec);
  EXPECT_EQ(finished.power_state, ferry::wire::PowerState::kRunning);
  src.CleanupLiveMigrationSource(spec);
  Tick src_last = LastTick(src_log);
  ASSERT_TRUE(WaitFor(20s, [&] { return LastTick(dst_log).n > src_last.n + 1; }))
      << "no heartbeat on kvm-2 past tick " << src_last.n;
  EXPECT_EQ(Ticks(dst_log).front().boot, src_last.boot) << "kvm-2 runs another boot";
  EXPECT_EQ(LastTick(src_log).n, src_last.n) << "the guest still ticks on kvm-1";
}

TEST_F(LibvirtDriverE2E, ForceCompletePausesTheGuestSoTheCopyConverges) {
  MakeDrivers(64);
  auto guest = NewGuest("ferry-e2e-pause");
  guest.memory_mb = 64;
  src_->CreateDomain(guest);
  ForceCompleteCase(*src_, *dst_, Spec(guest, 16), guest.name, false);
}

TEST_F(LibvirtDriverE2E, ForceCompleteSwitchesToPostCopy) {
  MakeDrivers(64);
  auto guest = NewGuest("ferry-e2e-postcopy");
  guest.memory_mb = 64;
  src_->CreateDomain(guest);
  ForceCompleteCase(*src_, *dst_, Spec(guest, 16), guest.name, true);
}

}  // namespace
