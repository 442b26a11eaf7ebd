// Watching outgoing migration jobs: job stats, abort, force-complete, and the jobs an agent
// restart left behind (stored in --state-dir, libvirt_job_store.hpp).
#include <chrono>
#include <thread>

#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

// How long Abort waits for the migrate call to return after virDomainAbortJob, so it can tell
// "cancelled" from "completed anyway" (libvirt cannot abort a job already switching over).
constexpr auto kAbortWait = std::chrono::seconds(20);
// An abort that arrives before QEMU's job exists is retried this long (the job thread is
// between its own connect and virDomainMigrateToURI3).
constexpr auto kAbortRetry = std::chrono::seconds(5);
// 250 ms: how often Abort looks at an adopted job (no migrate call of ours returns for it).
constexpr auto kAdoptedPoll = std::chrono::milliseconds(250);

}  // namespace

LibvirtDriver::Impl::SourceGuest LibvirtDriver::Impl::SourceGuestOf(virDomainPtr d,
                                                                    const std::string& uuid) {
  if (d == nullptr) return SourceGuest::kGone;
  const int active = virDomainIsActive(d);
  if (active == 1) return SourceGuest::kRunning;
  if (active == 0) return SourceGuest::kStopped;
  if (LastErrorCode() == VIR_ERR_NO_DOMAIN) return SourceGuest::kGone;  // undefined meanwhile
  ThrowLibvirt("is domain " + uuid + " active");  // no guess: asked again at the next sample
}

void LibvirtDriver::Impl::EndAdopted(Job& job, SourceGuest where) {
  job.ended = true;
  job.last.phase = "done";
  job.last.sampled_at = EpochSeconds();
  if (where == SourceGuest::kGone && job.source_persistent) {
    job.last.state = "completed";
    job.last.memory_remaining = 0;
    job.last.disk_remaining = 0;
  } else if (where == SourceGuest::kRunning && job.abort_requested) {
    job.last.state = "cancelled";
  } else {
    job.last.state = "failed";
    switch (where) {
      case SourceGuest::kRunning:
        job.last.error =
            "libvirt: the migration job ended while the agent was restarting; the guest is "
            "still on the source";
        break;
      case SourceGuest::kStopped:
        job.last.error =
            "libvirt: guest stopped during migration (host reboot, QEMU exit or destroy): it is "
            "defined but shut off on the source, which keeps it and its disks";
        break;
      case SourceGuest::kGone:
        job.last.error =
            "libvirt: the guest, transient on the source, vanished during migration: whether "
            "it moved is unknown, so the move is not counted as done";
        break;
    }
  }
  spdlog::info("libvirt: adopted migration {} ended {}", job.spec.migration_uuid, job.last.state);
  Persist(job);
  cv.notify_all();
}

void LibvirtDriver::Impl::LoadStoredJobs() {
  for (auto& stored : store->LoadAll()) {
    auto job = std::make_shared<Job>();
    job->spec = stored.spec;
    job->last = stored.last;
    job->ended = stored.ended;
    job->final_read = stored.final_read;
    job->copied_disks = stored.copied_disks;
    job->source_persistent = stored.source_persistent;
    job->post_copy = stored.spec.permit_post_copy;
    if (!job->ended) {
      // Still running in libvirt (the source libvirtd drives a peer-to-peer migration itself)?
      DomainPtr d = LookupByUuid(Conn(), job->spec.domain.uuid);
      virDomainJobInfo info{};
      bool running =
          d && virDomainGetJobInfo(d.get(), &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE;
      job->adopted = true;
      const SourceGuest where =
          running ? SourceGuest::kRunning : SourceGuestOf(d.get(), job->spec.domain.uuid);
      std::lock_guard lock(mu);
      if (!running)
        EndAdopted(*job, where);
      else
        spdlog::info("libvirt: watching migration {} again (libvirt still runs it)",
                     job->spec.migration_uuid);
    }
    std::lock_guard lock(mu);
    jobs.emplace(job->spec.migration_uuid, job);
  }
}

// Reads QEMU's job through the control connection; the last sample when there is none (not
// started yet, or just ended).
std::optional<wire::LiveMigrationJob> LibvirtDriver::Impl::Sample(const std::shared_ptr<Job>& job) {
  std::string domain_uuid;
  {
    std::lock_guard lock(mu);
    if (job->ended) {
      if (!job->final_read) {
        job->final_read = true;
        Persist(*job);
      }
      return job->last;
    }
    domain_uuid = job->spec.domain.uuid;
  }
  DomainPtr d = LookupByUuid(Conn(), domain_uuid);
  int type = VIR_DOMAIN_JOB_NONE;
  virTypedParameterPtr params = nullptr;
  int n = 0;
  bool have = d && virDomainGetJobStats(d.get(), &type, &params, &n, 0) == 0;
  bool adopted_gone = job->adopted && (!have || type == VIR_DOMAIN_JOB_NONE);
  const SourceGuest where =
      adopted_gone ? SourceGuestOf(d.get(), domain_uuid) : SourceGuest::kRunning;
  std::lock_guard lock(mu);
  if (adopted_gone && !job->ended) EndAdopted(*job, where);
  if (have && type != VIR_DOMAIN_JOB_NONE && !job->ended) {
    auto& j = job->last;
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
    j.phase = job->forcing ? (job->post_copy ? "postcopy" : "paused") : "precopy";
    j.sampled_at = EpochSeconds();
  }
  if (params != nullptr) virTypedParamsFree(params, n);
  if (job->ended && !job->final_read) {
    job->final_read = true;
    Persist(*job);
  }
  return job->last;
}

std::optional<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobStats(
    const std::string& migration_uuid) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) return std::nullopt;
    job = it->second;
  }
  return impl_->Sample(job);
}

std::vector<wire::LiveMigrationJob> LibvirtDriver::LiveMigrationJobsToReport() {
  std::vector<std::shared_ptr<Job>> pending;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs) {
      if (!job->ended || !job->final_read) pending.push_back(job);
    }
  }
  std::vector<wire::LiveMigrationJob> out;
  for (auto& job : pending) {
    if (auto j = impl_->Sample(job)) out.push_back(*j);
  }
  return out;
}

void LibvirtDriver::AbortLiveMigration(const std::string& migration_uuid) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) {
      // Not started: recorded as cancelled, so a late start does nothing.
      auto j = std::make_shared<Job>();
      j->spec.migration_uuid = migration_uuid;
      j->last.migration_uuid = migration_uuid;
      j->last.state = "cancelled";
      j->last.phase = "done";
      j->ended = true;
      j->last.sampled_at = EpochSeconds();
      impl_->jobs[migration_uuid] = j;
      impl_->Persist(*j);
      return;
    }
    job = it->second;
    if (job->ended) {
      if (job->last.state == "completed") {
        throw Error(Errc::kConflict, "libvirt: migration " + migration_uuid + " has completed");
      }
      return;
    }
    job->abort_requested = true;
  }
  auto retry_until = std::chrono::steady_clock::now() + kAbortRetry;
  for (;;) {
    {
      std::lock_guard lock(impl_->mu);
      if (job->ended) break;
    }
    DomainPtr d = LookupByUuid(impl_->Conn(), job->spec.domain.uuid);
    if (!d) break;  // moved already: the job thread reports how it ended
    if (virDomainAbortJob(d.get()) == 0) break;
    // "no job is active": QEMU's job has not begun yet (or just ended); try again shortly.
    if (LastErrorCode() != VIR_ERR_OPERATION_INVALID ||
        std::chrono::steady_clock::now() > retry_until) {
      ThrowLibvirt("aborting the migration job of " + job->spec.domain.uuid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto wait_until = std::chrono::steady_clock::now() + kAbortWait;
  std::unique_lock lock(impl_->mu);
  while (!job->ended && std::chrono::steady_clock::now() < wait_until) {
    impl_->cv.wait_for(lock, kAdoptedPoll, [&] { return job->ended; });
    if (job->adopted && !job->ended) {  // no migrate call of ours will return: look
      lock.unlock();
      impl_->Sample(job);
      lock.lock();
    }
  }
  if (job->ended && job->last.state == "completed") {
    throw Error(Errc::kConflict,
                "libvirt: migration " + migration_uuid + " completed before the abort");
  }
}

void LibvirtDriver::ForceCompleteLiveMigration(const std::string& migration_uuid,
                                               bool permit_post_copy) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->jobs.find(migration_uuid);
    if (it == impl_->jobs.end()) {
      throw Error(Errc::kNotFound, "libvirt: no migration " + migration_uuid + " on this host");
    }
    job = it->second;
    if (job->ended) {
      if (job->last.state == "completed") return;
      throw Error(Errc::kConflict,
                  "libvirt: migration " + migration_uuid + " has " + job->last.state);
    }
    if (job->forcing) return;
  }
  DomainPtr d = LookupByUuid(impl_->Conn(), job->spec.domain.uuid);
  if (!d) return;  // switched over meanwhile
  bool post_copy = permit_post_copy && job->post_copy;
  if (post_copy) {
    if (virDomainMigrateStartPostCopy(d.get(), 0) < 0) ThrowLibvirt("starting post-copy");
  } else if (virDomainSuspend(d.get()) < 0) {
    ThrowLibvirt("pausing " + job->spec.domain.uuid + " so the copy converges");
  }
  spdlog::info("libvirt: migration {} forced to complete by {}", migration_uuid,
               post_copy ? "post-copy" : "pausing the guest");
  std::lock_guard lock(impl_->mu);
  job->forcing = true;
  job->post_copy = post_copy;
}

}  // namespace ferry::agent::libvirt
