// Cold migration and resize through libvirt, at the source: power off (graceful, then destroy),
// the disk copy (a job of the shared registry; agent/disk_transfer over TLS, reading the disks
// through libvirt's storage streams), abort, confirm (the guest and its local disks deleted
// here) and revert (the guest starts here again, its disks never touched).
#include <chrono>
#include <thread>

#include "agent/disk_transfer/disk_sender.hpp"
#include "agent/drivers/libvirt/libvirt_cold_manifest.hpp"
#include "agent/drivers/libvirt/libvirt_cold_marks.hpp"
#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

constexpr auto kShutdownPoll = std::chrono::milliseconds(250);
// A link that fails is tried again this many times, waiting 1, 2, 4, ... s in between (each
// try resumes where the destination's bytes end); then the copy fails and the move rolls back.
constexpr int kLinkAttempts = 6;

// The guest's disks as libvirt has them now (not as the controller last heard): what is local
// is what must be copied.
std::vector<wire::Disk> LocalDisks(virDomainPtr d, const LibvirtConfig& config,
                                   const std::string& uuid) {
  std::vector<wire::Disk> out;
  for (auto& disk : ReadDisks(d, config, uuid)) {
    if (disk.kind == "local") out.push_back(std::move(disk));
  }
  return out;
}

DomainPtr GuestOrThrow(virConnectPtr conn, const std::string& uuid) {
  DomainPtr d = LookupByUuid(conn, uuid);
  if (!d) throw Error(Errc::kNotFound, "libvirt: domain " + uuid + " is not on this host");
  return d;
}

}  // namespace

void LibvirtDriver::PowerOffForColdMigration(const wire::ColdMigrationSpec& spec) {
  DomainPtr d = GuestOrThrow(impl_->Conn(), spec.domain.uuid);
  // A transient guest has no definition to keep: shut off, it would be gone, disks orphaned.
  if (Timed("virDomainIsPersistent", [&] { return virDomainIsPersistent(d.get()); }) != 1) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                     " is transient: shut off, it would vanish from this host");
  }
  SuspendAutostart(d.get(), spec.domain.uuid);
  if (!IsActive(d.get(), spec.domain.uuid)) return;
  // The guest's OS shuts down cleanly if it honours the power button (a timeout of 0: no
  // graceful shutdown at all, as Nova's) ...
  if (spec.shutdown_timeout_s > 0 &&
      Timed("virDomainShutdown", [&] { return virDomainShutdown(d.get()); }) < 0 &&
      IsActive(d.get(), spec.domain.uuid)) {
    spdlog::warn("libvirt: migration {}: graceful shutdown of {} refused: {}", spec.migration_uuid,
                 spec.domain.uuid, LastErrorMessage());
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max(spec.shutdown_timeout_s, 0));
  while (IsActive(d.get(), spec.domain.uuid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kShutdownPoll);
  }
  if (!IsActive(d.get(), spec.domain.uuid)) {
    spdlog::info("libvirt: migration {}: {} shut down", spec.migration_uuid, spec.domain.uuid);
    return;
  }
  // ... else, like Nova after its shutdown_timeout, the plug is pulled. The definition and the
  // disks stay: a destroy of a persistent domain only stops it.
  if (Timed("virDomainDestroy", [&] { return virDomainDestroy(d.get()); }) < 0 &&
      IsActive(d.get(), spec.domain.uuid)) {
    ThrowLibvirt("destroying " + spec.domain.uuid + " after its shutdown timed out");
  }
  spdlog::warn(
      "libvirt: migration {}: {} did not shut down within {} s: destroyed ({:.0f} ms)",
      spec.migration_uuid, spec.domain.uuid, spec.shutdown_timeout_s,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - deadline)
          .count());
}

void LibvirtDriver::StartColdMigrationCopy(const wire::ColdMigrationSpec& spec) {
  impl_->jobs->StartColdCopy(spec);
}

void LibvirtDriver::AbortColdMigrationCopy(const std::string& migration_uuid) {
  impl_->jobs->Abort(migration_uuid);
}

nlohmann::json LibvirtDriver::Impl::CheckColdCopyStart(const JobRecord& job) {
  ReapEndedCopies();
  const auto& spec = *job.cold;
  if (!tls) {
    throw Error(Errc::kConflict, "libvirt: this host sends no disks: " + disk_transfer_problem);
  }
  DomainPtr d = GuestOrThrow(Conn(), spec.domain.uuid);
  if (IsActive(d.get(), spec.domain.uuid)) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                     " runs: its disks are copied only while it is off");
  }
  RefreshImagesPool();  // a disk made outside libvirt becomes a volume it can stream
  const auto all = ReadDisks(d.get(), config, spec.domain.uuid);
  ColdManifest(all);  // refused before a job exists: a disk ferry cannot move cold
  for (const auto& disk : LocalDisks(d.get(), config, spec.domain.uuid)) {
    VolPtr vol(virStorageVolLookupByPath(Conn(), disk.path.c_str()));
    if (!vol) {
      throw Error(Errc::kConflict, "libvirt: disk " + disk.target + " (" + disk.path +
                                       ") is in no storage pool: it cannot be streamed");
    }
  }
  return nlohmann::json::object();
}

void LibvirtDriver::Impl::LaunchColdCopy(const JobRecord& job) {
  auto copy = std::make_shared<Copy>();
  copy->spec = job.spec;
  copy->cold = job.cold;
  copy->progress = job.last;
  copy->progress.state = "running";
  copy->progress.phase = "copying";
  std::lock_guard lock(mu);
  copies[job.spec.migration_uuid] = copy;
  copy->thread = std::thread([this, copy] { RunColdCopy(copy); });
}

std::optional<wire::LiveMigrationJob> LibvirtDriver::Impl::ColdCopyProgress(const JobRecord& job) {
  std::lock_guard lock(mu);
  auto it = copies.find(job.spec.migration_uuid);
  if (it == copies.end() || it->second->ended) return std::nullopt;
  return it->second->progress;
}

void LibvirtDriver::Impl::RunColdCopy(const std::shared_ptr<Copy>& copy) {
  const auto& spec = *copy->cold;
  const std::string& mig = spec.migration_uuid;
  transfer::SendRequest request;
  request.migration_uuid = mig;
  request.token = spec.transfer_token;
  request.receive_uri = spec.receive_uri;
  request.peer_host = spec.dest_host;
  request.bandwidth_bytes_per_s = spec.bandwidth_mibps * kMiB;
  double last_at = EpochSeconds();
  int64_t last_bytes = -1;
  request.progress = [&](int64_t done, int64_t total) {
    const double now = EpochSeconds();
    std::lock_guard lock(mu);
    auto& p = copy->progress;
    if (last_bytes >= 0 && now > last_at) {
      p.transfer_rate_bps =
          static_cast<int64_t>(static_cast<double>(done - last_bytes) / (now - last_at));
    }
    last_at = now;
    last_bytes = done;
    p.disk_total = total;
    p.disk_processed = done;
    p.disk_remaining = total - done;
    p.sampled_at = now;
  };
  request.cancelled = [&] { return stopping.load() || jobs->AbortRequested(mig); };
  try {
    // A copy resumed after a restart of an agent that has lost its TLS identity meanwhile.
    if (!tls) throw Error(Errc::kConflict, "this host sends no disks: " + disk_transfer_problem);
    ConnPtr own = Connect(config.uri);
    DomainPtr d = GuestOrThrow(own.get(), spec.domain.uuid);
    if (IsActive(d.get(), spec.domain.uuid)) {
      throw Error(Errc::kConflict, "the guest was started again on the source during the copy");
    }
    RefreshImagesPool();
    request.manifest = ColdManifest(ReadDisks(d.get(), config, spec.domain.uuid));
    for (const auto& disk : LocalDisks(d.get(), config, spec.domain.uuid)) {
      VolPtr vol(virStorageVolLookupByPath(own.get(), disk.path.c_str()));
      if (!vol) ThrowLibvirt("the volume of disk " + disk.target);
      transfer::OutgoingDisk out;
      out.target = disk.target;
      out.bytes = VolumePhysicalBytes(vol.get(), disk.path);
      out.open = [uri = config.uri, path = disk.path] { return OpenVolumeSource(uri, path); };
      request.disks.push_back(std::move(out));
    }
    for (int attempt = 1;; ++attempt) {
      try {
        const auto outcome = transfer::SendDisks(*tls, request);
        if (outcome == transfer::SendOutcome::kVerified) {
          // Started again on the source meanwhile (by hand, or a restart with autostart): what
          // arrived may be torn, and two copies would run. The move must not go on.
          if (IsActive(d.get(), spec.domain.uuid)) {
            throw Error(Errc::kConflict,
                        "the guest was started again on the source during the copy");
          }
          spdlog::info("libvirt: migration {}: disks copied and verified on {}", mig,
                       spec.dest_host);
          EndCopy(copy, "completed", "");
        } else if (jobs->AbortRequested(mig)) {
          EndCopy(copy, "cancelled", "");
        }
        // Else the agent is stopping: the record stays running and the next agent resumes it.
        return;
      } catch (const Error& e) {
        if (e.code() != Errc::kUnavailable || attempt >= kLinkAttempts) throw;
        spdlog::warn("libvirt: migration {}: disk copy to {} interrupted ({}); resuming", mig,
                     spec.dest_host, e.what());
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::seconds(1 << (attempt - 1)),
                    [&] { return stopping.load(); });
        if (stopping) return;
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("libvirt: migration {}: disk copy failed: {}", mig, e.what());
    EndCopy(copy, "failed",
            std::string(e.what()) + " (the guest stays off on the source with its disks)");
  }
}

void LibvirtDriver::ConfirmColdMigrationSource(const wire::ColdMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  std::vector<wire::Disk> local;
  if (d) {
    if (IsActive(d.get(), spec.domain.uuid)) {
      throw Error(Errc::kConflict,
                  "libvirt: domain " + spec.domain.uuid + " runs here: deleting it would lose it");
    }
    local = LocalDisks(d.get(), impl_->config, spec.domain.uuid);
    DestroyAndUndefine(d.get(), spec.domain.uuid);
  }
  if (!impl_->HasImagesPool()) return;
  PoolPtr pool = impl_->ImagesPool();
  // Its local disks (shared ones are the destination's now), also after a repeat: by the names
  // ferry gives a guest's volumes, and by the paths its definition had.
  for (const auto& path : DeleteVolumesNamed(pool.get(), FerryVolumePrefix(spec.domain.uuid))) {
    spdlog::info("libvirt: migration {}: deleted the source's disk {}", spec.migration_uuid, path);
  }
  for (const auto& disk : local) {
    if (DeleteVolumeAt(pool.get(), disk.path)) {
      spdlog::info("libvirt: migration {}: deleted the source's disk {}", spec.migration_uuid,
                   disk.path);
    }
  }
}

wire::Domain LibvirtDriver::RevertColdMigrationSource(const wire::ColdMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (!d) {
    throw Error(Errc::kNotFound,
                "libvirt: domain " + spec.domain.uuid + " is no longer defined here (confirmed?)");
  }
  RestoreAutostart(d.get(), spec.domain.uuid);
  if (spec.power_on && !IsActive(d.get(), spec.domain.uuid)) {
    if (Timed("virDomainCreate", [&] { return virDomainCreate(d.get()); }) < 0 &&
        !IsActive(d.get(), spec.domain.uuid)) {
      ThrowLibvirt("starting " + spec.domain.uuid + " again on the source");
    }
  }
  return Describe(d.get(), impl_->config);
}

}  // namespace ferry::agent::libvirt
