// Live migration, source side: the job thread (its own connection for the blocking
// virDomainMigrateToURI3), stepwise max downtime, and cleanup after the guest has left.
#include <chrono>
#include <thread>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

// 100 ms: how often the downtime stepper retries a step refused because QEMU's migration job
// has not begun yet (the job thread is between its own connect and virDomainMigrateToURI3).
constexpr auto kDowntimeRetry = std::chrono::milliseconds(100);

struct Flags {
  unsigned long value = 0;
  std::vector<wire::Disk> copied;
};

// The flags of virDomainMigrateToURI3 for this spec and these disks; throws when the disks
// cannot move as asked (a local disk without block migration).
Flags MigrationFlags(const wire::LiveMigrationSpec& spec, const std::vector<wire::Disk>& disks,
                     const LibvirtConfig& config) {
  DiskPlan plan = PlanDisks(disks, spec.block_migration, IsNetworkFilesystem(config.shared_dir));
  if (!plan.refusal.empty()) throw Error(Errc::kConflict, plan.refusal);
  Flags f;
  f.value = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
            VIR_MIGRATE_UNDEFINE_SOURCE;
  if (spec.permit_auto_converge) f.value |= VIR_MIGRATE_AUTO_CONVERGE;
  if (spec.permit_post_copy) f.value |= VIR_MIGRATE_POSTCOPY;
  // Without a MIGRATE_DISKS list libvirt would copy every writable disk, shared ones too: set
  // NON_SHARED_DISK only with the list of local disks.
  if (!plan.copied.empty()) f.value |= VIR_MIGRATE_NON_SHARED_DISK;
  if (plan.unsafe) f.value |= VIR_MIGRATE_UNSAFE;
  f.copied = std::move(plan.copied);
  return f;
}

}  // namespace

void LibvirtDriver::Impl::EndCopy(const std::shared_ptr<Copy>& copy, const std::string& state,
                                  const std::string& error, bool past_postcopy_switch) {
  const auto record = jobs->Find(copy->spec.migration_uuid);
  wire::LiveMigrationJob out = record ? record->last : wire::LiveMigrationJob{};
  out.state = state;
  // A copy that fails after the post-copy switch has passed the point of no return: the phase
  // stays "postcopy" so the controller does not roll back a guest whose execution moved on.
  out.phase = past_postcopy_switch ? "postcopy" : "done";
  out.error = error;
  if (state == "completed") {
    out.memory_processed = std::max(out.memory_processed, out.memory_total);
    out.memory_remaining = 0;
    out.disk_processed = std::max(out.disk_processed, out.disk_total);
    out.disk_remaining = 0;
  }
  out.sampled_at = EpochSeconds();
  jobs->End(copy->spec.migration_uuid, std::move(out));
  {
    std::lock_guard lock(mu);
    copy->ended = true;
  }
  cv.notify_all();
}

void LibvirtDriver::Impl::StepDowntime(const std::shared_ptr<Copy>& copy,
                                       const std::vector<DowntimeStep>& steps) {
  const wire::LiveMigrationSpec& spec = copy->spec;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& step : steps) {
    const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(step.after_s));
    for (;;) {
      {
        std::unique_lock lock(mu);
        if (cv.wait_until(lock, due, [&] { return copy->ended; })) return;
      }
      try {
        DomainPtr d = LookupByUuid(Conn(), spec.domain.uuid);
        if (!d) return;  // switched over
        if (Timed("virDomainMigrateSetMaxDowntime", [&] {
              return virDomainMigrateSetMaxDowntime(
                  d.get(), static_cast<unsigned long long>(step.downtime_ms), 0);
            }) == 0) {
          spdlog::info("libvirt: migration {} max downtime {} ms ({:.0f} s in)",
                       spec.migration_uuid, step.downtime_ms, step.after_s);
          break;
        }
        if (LastErrorCode() != VIR_ERR_OPERATION_INVALID) {  // other than "no job yet"
          spdlog::warn("libvirt: migration {}: setting max downtime: {}", spec.migration_uuid,
                       LastErrorMessage());
          break;
        }
      } catch (const Error& e) {
        spdlog::warn("libvirt: migration {}: {}", spec.migration_uuid, e.what());
        break;
      }
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, kDowntimeRetry, [&] { return copy->ended; })) return;
    }
  }
}

void LibvirtDriver::Impl::RunMigration(const std::shared_ptr<Copy>& copy) {
  const auto& spec = copy->spec;
  std::thread stepper;
  try {
    ConnPtr own = Connect(config.uri);  // never the control connection (see the header)
    DomainPtr d = LookupByUuid(own.get(), spec.domain.uuid);
    if (!d)
      throw Error(Errc::kNotFound, "libvirt: no domain " + spec.domain.uuid + " on this host");
    Flags flags = MigrationFlags(spec, ReadDisks(d.get(), config, spec.domain.uuid), config);
    TypedParams params;
    std::string uri = spec.incoming_uri.empty() ? FormatMigrationUri(spec.dest_migration_address)
                                                : spec.incoming_uri;
    params.String(VIR_MIGRATE_PARAM_URI, uri);
    if (spec.bandwidth_mibps > 0) {
      params.ULLong(VIR_MIGRATE_PARAM_BANDWIDTH,
                    static_cast<unsigned long long>(spec.bandwidth_mibps));
    }
    std::vector<int64_t> copied_bytes;
    std::string copied_names;
    for (const auto& disk : flags.copied) {
      params.String(VIR_MIGRATE_PARAM_MIGRATE_DISKS, disk.target);  // one entry per disk
      copied_bytes.push_back(disk.capacity_bytes);
      copied_names += (copied_names.empty() ? "" : ",") + disk.target;
    }
    std::string dest = PeerUri(config.peer_uri_template, spec.dest_host);
    if (jobs->AbortRequested(spec.migration_uuid)) {
      EndCopy(copy, "cancelled", "");
      return;
    }
    std::vector<std::string> copied_paths;
    for (const auto& disk : flags.copied) copied_paths.push_back(disk.path);
    jobs->SetDriverFacts(spec.migration_uuid, {{"copied_disks", copied_paths}});
    auto steps = DowntimeSteps(spec.max_downtime_ms, spec.downtime_steps,
                               static_cast<double>(spec.downtime_delay_s),
                               MigrationDataGib(spec, copied_bytes));
    stepper = std::thread([this, copy, steps] { StepDowntime(copy, steps); });
    spdlog::info("libvirt: migrating {} to {} over {} (flags {:#x}, copying disks [{}])",
                 spec.domain.uuid, dest, uri, flags.value, copied_names);
    int rc = Timed("virDomainMigrateToURI3", [&] {
      return virDomainMigrateToURI3(d.get(), dest.c_str(), params.params(), params.size(),
                                    static_cast<unsigned int>(flags.value));
    });
    if (rc == 0) {
      spdlog::info("libvirt: migration {} completed", spec.migration_uuid);
      EndCopy(copy, "completed", "");
    } else {
      int code = LastErrorCode();
      std::string message = LastErrorMessage();
      // Asking for post-copy is not the switch itself: only the guest's state here says
      // whether its execution had moved to the destination when the copy failed. Asked first:
      // a copy that failed past the switch is never a cancellation, whatever was asked.
      const bool switched = PausedByPostcopy(d.get());
      const bool aborted = jobs->AbortRequested(spec.migration_uuid);
      if (!switched && (code == VIR_ERR_OPERATION_ABORTED || aborted)) {
        spdlog::info("libvirt: migration {} cancelled: {}", spec.migration_uuid, message);
        EndCopy(copy, "cancelled", "");
      } else {
        spdlog::warn("libvirt: migration {} failed{}: {}", spec.migration_uuid,
                     switched ? " in post-copy" : "", message);
        EndCopy(copy, "failed",
                "libvirt: migration failed" + std::string(switched ? " in post-copy" : "") + ": " +
                    message,
                switched);
      }
    }
  } catch (const std::exception& e) {
    spdlog::warn("libvirt: migration {} failed: {}", spec.migration_uuid, e.what());
    EndCopy(copy, "failed", e.what());
  }
  if (stepper.joinable()) stepper.join();
}

void LibvirtDriver::StartLiveMigration(const wire::LiveMigrationSpec& spec) {
  if (spec.migration_uuid.empty() || spec.domain.uuid.empty() || spec.dest_host.empty()) {
    throw Error(Errc::kBadRequest,
                "libvirt: a live migration needs migration_uuid, domain.uuid and dest_host");
  }
  if (spec.incoming_uri.empty() && spec.dest_migration_address.empty()) {
    throw Error(Errc::kBadRequest, "libvirt: no incoming_uri (prepare the destination first)");
  }
  impl_->jobs->Start(spec);
}

nlohmann::json LibvirtDriver::Impl::CheckJobStart(const JobRecord& job) {
  if (job.IsColdCopy()) return CheckColdCopyStart(job);
  const wire::LiveMigrationSpec& spec = job.spec;
  // Here, not in LaunchJob: the registry's lock is not held, so joining never stalls it.
  ReapEndedCopies();
  DomainPtr d = LookupByUuid(Conn(), spec.domain.uuid);
  if (!d) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid + " is not on this host");
  }
  // Refused before a job exists: a local disk that only block migration could move.
  MigrationFlags(spec, ReadDisks(d.get(), config, spec.domain.uuid), config);
  return {{"source_persistent",
           Timed("virDomainIsPersistent", [&] { return virDomainIsPersistent(d.get()); }) == 1}};
}

void LibvirtDriver::Impl::LaunchJob(const JobRecord& job) {
  if (job.IsColdCopy()) return LaunchColdCopy(job);
  auto copy = std::make_shared<Copy>();
  copy->spec = job.spec;
  std::lock_guard lock(mu);
  copies[job.spec.migration_uuid] = copy;
  copy->thread = std::thread([this, copy] { RunMigration(copy); });
}

void LibvirtDriver::Impl::ReapEndedCopies() {
  // Their records are ended already (EndCopy ends the record first), so nothing samples them
  // as adopted once they are dropped.
  std::vector<std::shared_ptr<Copy>> ended;
  {
    std::lock_guard lock(mu);
    for (auto it = copies.begin(); it != copies.end();) {
      if (!it->second->ended) {
        ++it;
        continue;
      }
      ended.push_back(it->second);
      it = copies.erase(it);
    }
  }
  // Without mu: a finishing thread joins its downtime stepper, which wakes under mu.
  for (auto& done : ended) {
    if (done->thread.joinable()) done->thread.join();
  }
}

void LibvirtDriver::CleanupLiveMigrationSource(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  const auto record = impl_->jobs->Find(spec.migration_uuid);
  const bool completed = record && record->last.state == "completed";
  // the copy here is stale: the guest's execution moved on
  const bool postcopy_failed =
      record && record->last.state == "failed" && record->last.phase == "postcopy";
  const std::vector<std::string> copied =
      completed ? CopiedDisks(*record) : std::vector<std::string>{};
  // Only a move this agent saw complete (or a copy left stale by a failed post-copy) may take
  // the guest's definition from here: a domain that is defined but shut off may be the only
  // copy of the guest (the host rebooted or QEMU died mid-copy), whatever anyone else says.
  if (d) {
    const bool stale =
        postcopy_failed && (PausedByPostcopy(d.get()) || !IsActive(d.get(), spec.domain.uuid));
    if (!completed && !stale) {
      throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                       " is still defined here and its migration has not "
                                       "completed: it is kept, with its disks");
    }
    DestroyAndUndefine(d.get(), spec.domain.uuid);
  }
  // The source's copies of exactly the disks the completed job copied: the guest runs on the
  // destination's now. Nothing else is deleted: a job this agent does not know (state lost)
  // leaves its disks in place rather than guess.
  if (!completed) {
    if (spec.block_migration && !d) {
      spdlog::warn(
          "libvirt: cleanup of {}: no completed job recorded here; the source's disks "
          "are left in place",
          spec.migration_uuid);
    }
    return;
  }
  if (copied.empty()) return;
  PoolPtr pool = impl_->ImagesPool();
  std::string pool_path = impl_->config.images_pool_path;
  while (pool_path.size() > 1 && pool_path.back() == '/') pool_path.pop_back();
  for (const auto& path : copied) {
    if (DirName(path) != pool_path) {
      spdlog::warn("libvirt: copied disk {} is outside the images pool: left in place", path);
      continue;
    }
    if (DeleteVolumeAt(pool.get(), path)) spdlog::info("libvirt: deleted source copy {}", path);
  }
}

}  // namespace ferry::agent::libvirt
