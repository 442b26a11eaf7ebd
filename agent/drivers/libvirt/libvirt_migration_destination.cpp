// Live migration, destination side: check, prepare, finish, rollback.
#include "agent/drivers/libvirt/libvirt_cpu.hpp"
#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

std::string Trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

void LibvirtDriver::CheckLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  virConnectPtr c = impl_->Conn();
  if (LookupByUuid(c, spec.domain.uuid)) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " already exists on this host");
  }
  virNodeInfo node;
  if (virNodeGetInfo(c, &node) < 0) ThrowLibvirt("node info");
  if (spec.domain.vcpus > static_cast<int>(node.cpus)) {
    throw Error(Errc::kConflict, "libvirt: guest has " + std::to_string(spec.domain.vcpus) +
                                     " vCPUs, this host " + std::to_string(node.cpus));
  }
  unsigned long long free_bytes = virNodeGetFreeMemory(c);
  if (free_bytes == 0) ThrowLibvirt("free memory");
  if (static_cast<unsigned long long>(spec.domain.memory_mb) * kMiB > free_bytes) {
    throw Error(Errc::kConflict, "libvirt: guest needs " + std::to_string(spec.domain.memory_mb) +
                                     " MB, this host has " + std::to_string(free_bytes / kMiB) +
                                     " MB free");
  }
  if (spec.source_cpu.model.empty()) {
    spdlog::debug("libvirt: migration {}: source CPU unknown, CPU comparison skipped",
                  spec.migration_uuid);
  } else {
    CheckCpuCompatible(c, spec.source_cpu, impl_->config.domain_type);
  }
  if (spec.block_migration) {
    for (const auto& disk : spec.domain.disks) {
      if (IsCopiedByBlockMigration(disk) &&
          DirName(disk.path) != Trimmed(impl_->config.images_pool_path)) {
        throw Error(Errc::kConflict, "libvirt: disk " + disk.target + " (" + disk.path +
                                         ") is outside this host's images pool " +
                                         impl_->config.images_pool_path +
                                         ": it cannot be created here for a block migration");
      }
    }
  }
  if (impl_->config.migration_address.empty()) {
    throw Error(Errc::kConflict, "libvirt: this host has no --migration-address");
  }
}

std::string LibvirtDriver::PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  // libvirt creates the incoming (paused) domain itself when the source's libvirtd calls in
  // (peer-to-peer). Block migration mirrors each copied disk into a file that must exist here:
  // created now, empty and of the source's virtual size, when the spec carries the disks;
  // otherwise libvirt creates it itself in the pool covering its path (the images pool).
  if (impl_->config.migration_address.empty()) {
    throw Error(Errc::kConflict, "libvirt: this host has no --migration-address");
  }
  if (spec.block_migration && impl_->HasImagesPool()) {
    // The pool as it is before anything is created for this migration (libvirt_incoming.hpp).
    impl_->incoming->Save(spec.migration_uuid, VolumePaths(impl_->ImagesPool().get()));
  }
  if (spec.block_migration) {
    for (const auto& disk : spec.domain.disks) {
      if (!IsCopiedByBlockMigration(disk) || disk.capacity_bytes <= 0) continue;
      if (DirName(disk.path) != Trimmed(impl_->config.images_pool_path)) {
        throw Error(Errc::kConflict, "libvirt: disk " + disk.path + " is outside the images pool");
      }
      PoolPtr pool = impl_->ImagesPool();
      std::string path = EnsureVolume(pool.get(), BaseName(disk.path), disk.capacity_bytes,
                                      disk.format.empty() ? "qcow2" : disk.format);
      spdlog::info("libvirt: migration {}: destination disk {} ready ({} bytes)",
                   spec.migration_uuid, path, disk.capacity_bytes);
    }
  }
  return FormatMigrationUri(impl_->config.migration_address);
}

wire::Domain LibvirtDriver::FinishLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (!d) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " has not arrived on this host");
  }
  DomState s = GetState(d.get(), spec.domain.uuid);
  if ((s.state == VIR_DOMAIN_PAUSED && s.reason == VIR_DOMAIN_PAUSED_MIGRATION) ||
      virDomainIsPersistent(d.get()) != 1) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " is still arriving (incoming migration)");
  }
  if (s.state == VIR_DOMAIN_PAUSED) {
    if (virDomainResume(d.get()) < 0) ThrowLibvirt("resuming domain " + spec.domain.uuid);
  }
  impl_->incoming->Erase(spec.migration_uuid);  // the disks made for it are the guest's now
  return Describe(d.get(), impl_->config);
}

void LibvirtDriver::RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (d) {  // else libvirt removed the failed incoming domain itself
    DomState s = GetState(d.get(), spec.domain.uuid);
    bool incoming = s.state == VIR_DOMAIN_PAUSED && s.reason == VIR_DOMAIN_PAUSED_MIGRATION;
    if (!incoming && s.state != VIR_DOMAIN_SHUTOFF) {
      throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                       " has switched over and runs on this host");
    }
    DestroyAndUndefine(d.get(), spec.domain.uuid);
  }
  // The guest is not here: disks made for it here (by prepare, or by libvirt's pre-creation in
  // the pool) are half-copied leftovers; the source still has the real ones.
  if (!spec.block_migration || !impl_->HasImagesPool()) return;
  PoolPtr pool = impl_->ImagesPool();
  const std::string pool_path = Trimmed(impl_->config.images_pool_path);
  for (const auto& disk : spec.domain.disks) {
    if (IsCopiedByBlockMigration(disk) && DirName(disk.path) == pool_path &&
        DeleteVolumeAt(pool.get(), disk.path)) {
      spdlog::info("libvirt: rollback of {} deleted {}", spec.migration_uuid, disk.path);
    }
  }
  for (const auto& path : DeleteVolumesNamed(pool.get(), FerryVolumePrefix(spec.domain.uuid))) {
    spdlog::info("libvirt: rollback of {} deleted {}", spec.migration_uuid, path);
  }
  // What libvirt pre-created without telling: new since prepare and used by no domain here.
  if (auto before = impl_->incoming->Load(spec.migration_uuid)) {
    const auto in_use = DiskPathsInUse(impl_->Conn(), impl_->config);
    for (const auto& path : VolumePaths(pool.get())) {
      if (before->count(path) || in_use.count(path)) continue;
      if (DeleteVolumeAt(pool.get(), path)) {
        spdlog::info("libvirt: rollback of {} deleted {}", spec.migration_uuid, path);
      }
    }
  }
  impl_->incoming->Erase(spec.migration_uuid);
}

}  // namespace ferry::agent::libvirt
