// Outgoing migration jobs, the hypervisor's side (the rules are the shared JobRegistry's):
// samples, abort, force-complete, and the jobs an agent restart left behind.
#include <chrono>
#include <thread>

#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

// An abort that arrives before QEMU's job exists is retried this long, every 100 ms (the job
// thread is between its own connect and virDomainMigrateToURI3). The registry then waits for
// the job's end, to tell "cancelled" from "completed anyway".
constexpr auto kAbortRetry = std::chrono::seconds(5);
constexpr auto kAbortRetryStep = std::chrono::milliseconds(100);

}  // namespace

LibvirtDriver::Impl::SourceGuest LibvirtDriver::Impl::SourceGuestOf(virDomainPtr d,
                                                                    const std::string& uuid) {
  if (d == nullptr) return SourceGuest::kGone;
  const int active = Timed("virDomainIsActive", [&] { return virDomainIsActive(d); });
  if (active == 1) return PausedByPostcopy(d) ? SourceGuest::kPostcopy : SourceGuest::kRunning;
  if (active == 0) return SourceGuest::kStopped;
  if (LastErrorCode() == VIR_ERR_NO_DOMAIN) return SourceGuest::kGone;  // undefined meanwhile
  ThrowLibvirt("is domain " + uuid + " active");  // no guess: asked again at the next sample
}

wire::LiveMigrationJob LibvirtDriver::Impl::AdoptedOutcome(const JobRecord& job,
                                                           SourceGuest where) {
  wire::LiveMigrationJob out = job.last;
  out.phase = "done";
  out.sampled_at = EpochSeconds();
  if (where == SourceGuest::kGone && SourcePersistent(job)) {
    out.state = "completed";
    out.memory_remaining = 0;
    out.disk_remaining = 0;
    return out;
  }
  if (where == SourceGuest::kRunning && job.abort_requested) {
    out.state = "cancelled";
    return out;
  }
  out.state = "failed";
  switch (where) {
    case SourceGuest::kPostcopy:
      // The guest's execution moved to the destination: never a cancellation, and the phase
      // tells the controller not to roll back to this stale copy.
      out.phase = "postcopy";
      out.error =
          "libvirt: the migration failed in post-copy while the agent was restarting; the "
          "source's copy is stale";
      break;
    case SourceGuest::kRunning:
      out.error =
          "libvirt: the migration job ended while the agent was restarting; the guest is "
          "still on the source";
      break;
    case SourceGuest::kStopped:
      out.error =
          "libvirt: guest stopped during migration (host reboot, QEMU exit or destroy): it is "
          "defined but shut off on the source, which keeps it and its disks";
      break;
    case SourceGuest::kGone:
      out.error =
          "libvirt: the guest, transient on the source, vanished during migration: whether "
          "it moved is unknown, so the move is not counted as done";
      break;
  }
  return out;
}

std::optional<wire::LiveMigrationJob> LibvirtDriver::Impl::RecoverJob(const JobRecord& job) {
  if (job.IsColdCopy()) {
    // The copy died with the agent; the guest is off here with its disks. Start it again once
    // the registry holds the record (the driver's constructor): the destination says how much
    // it already holds, so it resumes there.
    std::lock_guard lock(mu);
    cold_to_resume.push_back(job);
    return std::nullopt;
  }
  // Still running in libvirt (the source libvirtd drives a peer-to-peer migration itself)?
  DomainPtr d = LookupByUuid(Conn(), job.spec.domain.uuid);
  virDomainJobInfo info{};
  if (d && Timed("virDomainGetJobInfo", [&] { return virDomainGetJobInfo(d.get(), &info); }) == 0 &&
      info.type != VIR_DOMAIN_JOB_NONE) {
    return std::nullopt;  // adopted: SampleJob tells how it ends
  }
  return AdoptedOutcome(job, SourceGuestOf(d.get(), job.spec.domain.uuid));
}

// Reads QEMU's job through the control connection. A job adopted after a restart (no Copy of
// this process waits on its migrate call) ends here once libvirt's job is gone.
std::optional<wire::LiveMigrationJob> LibvirtDriver::Impl::SampleJob(const JobRecord& job) {
  if (job.IsColdCopy()) return ColdCopyProgress(job);
  bool adopted;
  {
    std::lock_guard lock(mu);
    adopted = copies.count(job.spec.migration_uuid) == 0;
  }
  DomainPtr d = LookupByUuid(Conn(), job.spec.domain.uuid);
  int type = VIR_DOMAIN_JOB_NONE;
  virTypedParameterPtr params = nullptr;
  int n = 0;
  const bool have = d && Timed("virDomainGetJobStats", [&] {
                           return virDomainGetJobStats(d.get(), &type, &params, &n, 0);
                         }) == 0;
  struct FreeParams {
    virTypedParameterPtr& p;
    int& n;
    ~FreeParams() {
      if (p != nullptr) virTypedParamsFree(p, n);
    }
  } free_params{params, n};
  if (!have || type == VIR_DOMAIN_JOB_NONE) {
    // Not started yet or just ended: our migrate call says how. An adopted job has none.
    if (!adopted) return std::nullopt;
    return AdoptedOutcome(job, SourceGuestOf(d.get(), job.spec.domain.uuid));
  }
  wire::LiveMigrationJob j = job.last;
  j.memory_total = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
  j.memory_processed = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
  j.memory_remaining = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
  j.disk_total = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_TOTAL);
  j.disk_processed = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_PROCESSED);
  j.disk_remaining = ParamULL(params, n, VIR_DOMAIN_JOB_DISK_REMAINING);
  j.transfer_rate_bps = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_BPS);
  int64_t page = ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
  j.dirty_rate_bps =
      ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE) * (page > 0 ? page : 4096);
  j.iteration = static_cast<int>(ParamULL(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION));
  j.downtime_ms = ParamULL(params, n, VIR_DOMAIN_JOB_DOWNTIME);
  int throttle = 0;
  if (virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE, &throttle) == 1) {
    j.throttle_percent = throttle;
  }
  // From the guest's state, not from the force mark: "postcopy" tells the controller the
  // guest's execution moved, which only the hypervisor knows.
  j.phase = PausedByPostcopy(d.get())         ? "postcopy"
            : (job.forcing && !job.post_copy) ? "paused"
                                              : "precopy";
  j.sampled_at = EpochSeconds();
  return j;
}

std::optional<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobStats(
    const std::string& migration_uuid) {
  return impl_->jobs->Stats(migration_uuid);
}

std::vector<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobsToReport() {
  return impl_->jobs->ToReport();
}

void LibvirtDriver::LiveMigrationJobReported(const std::string& migration_uuid) {
  impl_->jobs->Acknowledge(migration_uuid);
}

void LibvirtDriver::SetLiveMigrationJobEndListener(
    std::function<void(const std::string& migration_uuid)> listener) {
  impl_->jobs->SetEndListener(std::move(listener));
}

void LibvirtDriver::AbortLiveMigration(const std::string& migration_uuid) {
  impl_->jobs->Abort(migration_uuid);
}

void LibvirtDriver::Impl::AbortJob(const JobRecord& job) {
  // A cold copy's thread polls the record's abort mark between pieces: nothing to ask libvirt.
  if (job.IsColdCopy()) return;
  auto retry_until = std::chrono::steady_clock::now() + kAbortRetry;
  for (;;) {
    if (!StillRunning(job.spec.migration_uuid)) return;  // ended: never abort a later one
    DomainPtr d = LookupByUuid(Conn(), job.spec.domain.uuid);
    if (!d) return;  // moved already: the job thread (or a sample) reports how it ended
    if (Timed("virDomainAbortJob", [&] { return virDomainAbortJob(d.get()); }) == 0) return;
    // "no job is active": QEMU's job has not begun yet (or just ended); try again shortly.
    if (LastErrorCode() != VIR_ERR_OPERATION_INVALID ||
        std::chrono::steady_clock::now() > retry_until) {
      ThrowLibvirt("aborting the migration job of " + job.spec.domain.uuid);
    }
    std::this_thread::sleep_for(kAbortRetryStep);
  }
}

void LibvirtDriver::ForceCompleteLiveMigration(const std::string& migration_uuid,
                                               bool permit_post_copy) {
  impl_->jobs->ForceComplete(migration_uuid, permit_post_copy);
}

void LibvirtDriver::Impl::ForceCompleteJob(const JobRecord& job, bool post_copy) {
  if (!StillRunning(job.spec.migration_uuid)) return;
  DomainPtr d = LookupByUuid(Conn(), job.spec.domain.uuid);
  if (!d) return;  // switched over meanwhile
  if (post_copy) {
    if (Timed("virDomainMigrateStartPostCopy",
              [&] { return virDomainMigrateStartPostCopy(d.get(), 0); }) < 0)
      ThrowLibvirt("starting post-copy");
  } else if (Timed("virDomainSuspend", [&] { return virDomainSuspend(d.get()); }) < 0) {
    ThrowLibvirt("pausing " + job.spec.domain.uuid + " so the copy converges");
  }
  spdlog::info("libvirt: migration {} forced to complete by {}", job.spec.migration_uuid,
               post_copy ? "post-copy" : "pausing the guest");
}

}  // namespace ferry::agent::libvirt
