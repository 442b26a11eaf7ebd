// Cold migration and resize through libvirt, at the destination: prepare (the move is expected
// by the agent's DiskReceiver; its disks land in volumes of the images pool), finish (the disks
// verified, the root disk grown, the guest defined with the new flavor and the disks the
// source's manifest lists, then started) and revert (everything this move made here removed;
// shared disks are never touched).
#include <chrono>
#include <mutex>
#include <set>

#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/drivers/libvirt/libvirt_cold_manifest.hpp"
#include "agent/drivers/libvirt/libvirt_cold_marks.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_marked_guest.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::libvirt {
namespace {

void CheckUuid(const std::string& uuid) {
  if (!IsUuid(uuid)) throw Error(Errc::kBadRequest, "libvirt: '" + uuid + "' is not a uuid");
}

// The disk the flavor's root_gb sizes: vda (hda), else the first.
const wire::Disk* RootDiskOf(const std::vector<wire::Disk>& disks) {
  for (const auto& disk : disks) {
    if (disk.target == "vda" || disk.target == "hda") return &disk;
  }
  return disks.empty() ? nullptr : &disks.front();
}

VolPtr VolumeNamed(virStoragePoolPtr pool, const std::string& name) {
  VolPtr vol(virStorageVolLookupByName(pool, name.c_str()));
  if (!vol) ThrowLibvirt("volume " + name);
  return vol;
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The manifest's local disks are exactly the disks that arrived verified: a manifest cannot
// name a volume this move did not receive (a leftover of another move, say).
void CheckReceived(const std::vector<wire::Disk>& manifest, const transfer::IncomingTransfer& t) {
  std::set<std::string> local, received;
  for (const auto& disk : manifest) {
    if (disk.kind == "local") local.insert(disk.target);
  }
  for (const auto& disk : t.disks) received.insert(disk.target);
  if (local != received) {
    throw Error(Errc::kConflict,
                "libvirt: the source's manifest names other local disks than the ones received");
  }
}

// Resize: the root disk grows to the new flavor's root_gb (qemu-img resize for a qcow2).
void GrowTo(virStorageVolPtr vol, int64_t bytes, const std::string& name) {
  virStorageVolInfo info{};
  if (virStorageVolGetInfo(vol, &info) < 0) ThrowLibvirt("size of " + name);
  if (static_cast<int64_t>(info.capacity) >= bytes) return;
  if (virStorageVolResize(vol, static_cast<unsigned long long>(bytes), 0) < 0) {
    ThrowLibvirt("growing " + name + " to " + std::to_string(bytes / kGiB) + " GiB");
  }
}

}  // namespace

std::string LibvirtDriver::PrepareColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  CheckUuid(spec.domain.uuid);
  CheckUuid(spec.migration_uuid);
  std::lock_guard move_lock(MoveLock(spec.migration_uuid));
  if (LookupByUuid(impl_->Conn(), spec.domain.uuid)) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " is already defined on this host");
  }
  // The guest's disk layout comes with its disks (the source's manifest), on shared storage too:
  // a copy of no disks then, the manifest only.
  if (!impl_->receiver) {
    throw Error(Errc::kConflict,
                "libvirt: this host receives no disks: " + impl_->disk_transfer_problem);
  }
  if (!spec.shared_storage && spec.domain.disk_gb > 0) {
    PoolPtr pool = impl_->ImagesPool();
    virStoragePoolInfo info{};
    const int64_t need = std::max(spec.domain.disk_gb, spec.new_disk_gb) * kGiB;
    if (virStoragePoolGetInfo(pool.get(), &info) == 0 &&
        static_cast<int64_t>(info.available) < need) {
      throw Error(Errc::kConflict, "libvirt: the images pool has " +
                                       std::to_string(info.available / kMiB) + " MiB free, " +
                                       std::to_string(need / kMiB) + " MiB needed");
    }
  }
  impl_->incoming->BeginCold(spec.migration_uuid, spec.domain.uuid);
  // The disks are the source's to declare (its manifest), checked when they arrive.
  impl_->receiver->Expect(spec.migration_uuid, spec.transfer_token, spec.source_host, {});
  spdlog::info("libvirt: migration {}: ready to receive the disks of {} from {}",
               spec.migration_uuid, spec.domain.uuid, spec.source_host);
  return impl_->receiver->Uri();
}

wire::Domain LibvirtDriver::FinishColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  CheckUuid(spec.domain.uuid);
  CheckUuid(spec.migration_uuid);
  std::lock_guard move_lock(MoveLock(spec.migration_uuid));
  const auto t0 = std::chrono::steady_clock::now();
  virConnectPtr conn = impl_->Conn();
  DomainPtr d = LookupByUuid(conn, spec.domain.uuid);
  if (d && DefinedBy(d.get()) != spec.migration_uuid) {
    throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                     " is defined here, but not by this migration");
  }
  if (!d) {
    auto transfer = impl_->receiver ? impl_->receiver->Find(spec.migration_uuid) : std::nullopt;
    if (!transfer || !transfer->verified) {
      throw Error(Errc::kConflict, "libvirt: the disks of migration " + spec.migration_uuid +
                                       " have not arrived here verified");
    }
    const auto manifest = ParseColdManifest(transfer->manifest, impl_->config);
    CheckReceived(manifest, *transfer);
    std::vector<FileDisk> disks;
    // No pool refresh unless a disk grows: the volumes were made through libvirt (Allocate), and
    // a refresh probes every image in the pool (over a second for a large one).
    PoolPtr pool = impl_->ImagesPool();
    const wire::Disk* root = RootDiskOf(manifest);
    for (const auto& disk : manifest) {
      std::string path = disk.path;  // shared: where every host sees it
      if (disk.kind == "local") {
        const std::string name = ColdVolumeName(spec.domain.uuid, disk.target);
        VolPtr vol = VolumeNamed(pool.get(), name);
        CString at(virStorageVolGetPath(vol.get()));
        if (!at) ThrowLibvirt("path of volume " + name);
        path = at.get();
        if (&disk == root && spec.new_disk_gb * kGiB > disk.capacity_bytes) {
          // libvirt must know the image's format to grow it (qemu-img resize for a qcow2, not a
          // longer file): probed by a refresh, paid only by a resize that grows the disk.
          RefreshPool(pool.get());
          vol = VolumeNamed(pool.get(), name);
          GrowTo(vol.get(), spec.new_disk_gb * kGiB, name);
        }
      }
      disks.push_back(FileDisk{disk.target, path, disk.format});
    }
    wire::Domain flavored = spec.domain;
    flavored.vcpus = spec.new_vcpus > 0 ? spec.new_vcpus : spec.domain.vcpus;
    flavored.memory_mb = spec.new_memory_mb > 0 ? spec.new_memory_mb : spec.domain.memory_mb;
    d = DefineMarkedGuest(conn, impl_->config, flavored, disks, spec.migration_uuid);
    spdlog::info("libvirt: migration {}: defined {} with {} vCPUs, {} MiB, {} disk(s) ({:.0f} ms)",
                 spec.migration_uuid, spec.domain.uuid, flavored.vcpus, flavored.memory_mb,
                 disks.size(), MsSince(t0));
  }
  if (spec.power_on && StartUnlessRunning(d.get(), spec.domain.uuid, "on the destination")) {
    spdlog::info("libvirt: migration {}: started {} ({:.0f} ms)", spec.migration_uuid,
                 spec.domain.uuid, MsSince(t0));
  }
  // The transfer's records have served; the volumes are the guest's now.
  if (impl_->receiver) impl_->receiver->Forget(spec.migration_uuid);
  impl_->incoming->Erase(spec.migration_uuid);
  return Describe(d.get(), impl_->config);
}

void LibvirtDriver::RevertColdMigrationDestination(const wire::ColdMigrationSpec& spec) {
  CheckUuid(spec.domain.uuid);
  CheckUuid(spec.migration_uuid);
  std::lock_guard move_lock(MoveLock(spec.migration_uuid));
  if (impl_->receiver) impl_->receiver->Forget(spec.migration_uuid);  // cuts a copy under way
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (d) {
    // Only a guest this move defined here is this move's to remove. Another one (the guest was
    // here before the move: prepare refused) is left exactly as it is, its disks too.
    if (DefinedBy(d.get()) != spec.migration_uuid) {
      spdlog::warn("libvirt: migration {}: {} is defined here but not by this move: left as it is",
                   spec.migration_uuid, spec.domain.uuid);
      impl_->incoming->Erase(spec.migration_uuid);
      return;
    }
    DestroyAndUndefine(d.get(), spec.domain.uuid);
  }
  // The disks that arrived: volumes of the local images pool named for a cold move's received
  // disks (ColdVolumeName: ".disk"), now used by no guest here. Never a guest's own disks
  // ("…-vda.qcow2"), never shared disks (not in this pool).
  if (impl_->HasImagesPool()) {
    PoolPtr pool = impl_->ImagesPool();
    const std::string prefix = FerryVolumePrefix(spec.domain.uuid);
    for (const auto& path : VolumePaths(pool.get())) {
      const std::string name = BaseName(path);
      if (name.rfind(prefix, 0) != 0 || name.size() < 5 ||
          name.compare(name.size() - 5, 5, ".disk") != 0) {
        continue;
      }
      if (DeleteVolumeAt(pool.get(), path)) {
        spdlog::info("libvirt: migration {}: deleted the destination's copy {}",
                     spec.migration_uuid, path);
      }
    }
  }
  impl_->incoming->Erase(spec.migration_uuid);
}

}  // namespace ferry::agent::libvirt
