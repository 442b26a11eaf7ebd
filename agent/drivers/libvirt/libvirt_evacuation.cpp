// Evacuation through libvirt. On the destination: rebuild (the guest defined from the
// controller's spec, marked with the evacuation: its shared disks and volumes where they are,
// each path checked against this host's shared directory, or a fresh root volume from its
// image; started when asked) and revert (only what rebuild made). On the source, once it is
// back: fence (the stale copy destroyed at once, autostart off, kept) and clean up (undefined,
// and ferry's own local volumes of the guest deleted when asked). A file under the shared
// directory is never deleted: the destination runs from it.
#include "agent/drivers/libvirt/libvirt_cold_marks.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_marked_guest.hpp"
#include "agent/drivers/libvirt/libvirt_shared_paths.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::libvirt {
namespace {

void CheckUuid(const std::string& uuid) {
  if (!IsUuid(uuid)) throw Error(Errc::kBadRequest, "libvirt: '" + uuid + "' is not a uuid");
}

void CheckSpec(const wire::EvacuationSpec& spec) {
  CheckUuid(spec.domain.uuid);
  CheckUuid(spec.migration_uuid);
}

bool InsideOrAt(const std::string& path, const std::string& dir) {
  return !dir.empty() && (path == dir || LexicallyInside(path, dir));
}

// The guest's disks where they are: shared disks and volumes only (a local disk died with the
// source), each a file in this host's shared directory (SharedDiskPath: the paths are the
// network's word).
std::vector<FileDisk> SharedDisksOf(const wire::EvacuationSpec& spec, const LibvirtConfig& c) {
  if (spec.domain.disks.empty() && spec.domain.disk_gb > 0) {
    throw Error(Errc::kConflict, "libvirt: no disk of " + spec.domain.uuid +
                                     " is listed, but its flavor has a " +
                                     std::to_string(spec.domain.disk_gb) +
                                     " GB root disk: rebuild it from its image");
  }
  std::vector<FileDisk> disks;
  for (const auto& disk : spec.domain.disks) {
    CheckDefinableDisk(disk);
    disks.push_back(FileDisk{disk.target, SharedDiskPath(disk, c.shared_dir), disk.format});
  }
  return disks;
}

// Deletes ferry's root volume of `uuid` in the images pool (the one rebuild made), never a file
// in the shared directory.
void DeleteRootVolume(virStoragePoolPtr pool, const std::string& uuid, const LibvirtConfig& c,
                      const std::string& migration_uuid) {
  const std::string name = RootVolumeName(uuid);
  VolPtr vol(virStorageVolLookupByName(pool, name.c_str()));
  if (!vol) {
    if (LastErrorCode() == VIR_ERR_NO_STORAGE_VOL) return;
    ThrowLibvirt("looking up volume " + name);
  }
  CString path(virStorageVolGetPath(vol.get()));
  if (!path) ThrowLibvirt("path of volume " + name);
  if (InsideOrAt(path.get(), c.shared_dir)) {
    spdlog::warn("libvirt: evacuation {}: {} is in the shared directory: left in place",
                 migration_uuid, path.get());
    return;
  }
  if (Timed("virStorageVolDelete", [&] { return virStorageVolDelete(vol.get(), 0); }) < 0 &&
      LastErrorCode() != VIR_ERR_NO_STORAGE_VOL) {
    ThrowLibvirt("deleting volume " + name);
  }
  spdlog::info("libvirt: evacuation {}: deleted the root volume it made {}", migration_uuid,
               path.get());
}

}  // namespace

wire::Domain LibvirtDriver::RebuildEvacuatedDomain(const wire::EvacuationSpec& spec) {
  CheckSpec(spec);
  std::lock_guard move_lock(MoveLock(spec.migration_uuid));
  const auto& cfg = impl_->config;
  const std::string& uuid = spec.domain.uuid;
  virConnectPtr conn = impl_->Conn();
  DomainPtr d = LookupByUuid(conn, uuid);
  if (d && DefinedBy(d.get()) != spec.migration_uuid) {
    throw Error(Errc::kConflict, "libvirt: domain " + uuid +
                                     " is defined here, but not by evacuation " +
                                     spec.migration_uuid + ": it is never replaced");
  }
  if (!d) {
    if (cfg.guest_kernel.empty()) {
      throw Error(Errc::kConflict,
                  "libvirt: no guest image: start the agent with --libvirt-guest-kernel");
    }
    std::vector<FileDisk> disks;
    bool made_root = false;
    std::optional<PoolPtr> pool;
    if (spec.rebuild_from_image) {
      if (spec.domain.disk_gb > 0) {
        // As CreateDomain makes a root disk: a sparse qcow2 in the images pool (a repeat after a
        // crash before the definition finds it and uses it).
        pool = impl_->ImagesPool();
        disks.push_back(FileDisk{"vda",
                                 EnsureVolume(pool->get(), RootVolumeName(uuid),
                                              spec.domain.disk_gb * kGiB, "qcow2", &made_root),
                                 "qcow2"});
      }
    } else {
      disks = SharedDisksOf(spec, cfg);
    }
    try {
      d = DefineMarkedGuest(conn, cfg, spec.domain, disks, spec.migration_uuid);
    } catch (const Error&) {
      if (made_root) DeleteRootVolume(pool->get(), uuid, cfg, spec.migration_uuid);
      throw;
    }
    spdlog::info(
        "libvirt: evacuation {}: rebuilt {} from {} ({}), {} vCPUs, {} MiB, {} disk(s)",
        spec.migration_uuid, uuid, spec.source_host,
        spec.rebuild_from_image ? "a fresh root disk, image " + spec.image_ref : "its shared disks",
        spec.domain.vcpus, spec.domain.memory_mb, disks.size());
  }
  if (spec.power_on && StartUnlessRunning(d.get(), uuid, "rebuilt by evacuation")) {
    spdlog::info("libvirt: evacuation {}: started {}", spec.migration_uuid, uuid);
  }
  return Describe(d.get(), cfg);
}

void LibvirtDriver::RevertEvacuationDestination(const wire::EvacuationSpec& spec) {
  CheckSpec(spec);
  std::lock_guard move_lock(MoveLock(spec.migration_uuid));
  const std::string& uuid = spec.domain.uuid;
  DomainPtr d = LookupByUuid(impl_->Conn(), uuid);
  if (d) {
    // Only a guest this evacuation rebuilt is its to remove; another one (here before: rebuild
    // refused) is left exactly as it is, with its disks.
    if (DefinedBy(d.get()) != spec.migration_uuid) {
      spdlog::warn("libvirt: evacuation {}: {} is defined here but not by it: left as it is",
                   spec.migration_uuid, uuid);
      return;
    }
    DestroyAndUndefine(d.get(), uuid);
    spdlog::info("libvirt: evacuation {}: removed the rebuilt {}", spec.migration_uuid, uuid);
  }
  // Shared disks and volumes are the guest's own (its source may run from them again): only the
  // root volume a rebuild from the image made goes.
  if (spec.rebuild_from_image && spec.domain.disk_gb > 0) {
    PoolPtr pool = impl_->ImagesPool();
    DeleteRootVolume(pool.get(), uuid, impl_->config, spec.migration_uuid);
  }
}

void LibvirtDriver::CleanUpEvacuatedSource(const wire::EvacuationSpec& spec) {
  CheckSpec(spec);
  const auto& cfg = impl_->config;
  const std::string& uuid = spec.domain.uuid;
  DomainPtr d = LookupByUuid(impl_->Conn(), uuid);
  if (d) {
    // Marked by this evacuation: the rebuilt guest runs here, this host is not its source (a
    // command sent to the wrong host must not destroy the only running copy).
    if (DefinedBy(d.get()) == spec.migration_uuid) {
      throw Error(Errc::kConflict, "libvirt: " + uuid + " here was rebuilt by evacuation " +
                                       spec.migration_uuid + ": this host is not its source");
    }
    DestroyAndUndefine(d.get(), uuid);
    spdlog::info("libvirt: evacuation {}: undefined the stale copy of {}", spec.migration_uuid,
                 uuid);
  }
  if (!spec.delete_local_disks) return;
  // ferry's own volumes of this guest in the images pool, never a file in the shared directory
  // (the destination runs from it): a pool inside it is left alone.
  if (InsideOrAt(cfg.images_pool_path, cfg.shared_dir)) {
    spdlog::warn(
        "libvirt: evacuation {}: the images pool {} is in the shared directory: no disk "
        "of {} deleted",
        spec.migration_uuid, cfg.images_pool_path, uuid);
    return;
  }
  PoolPtr pool = impl_->ImagesPool();
  for (const auto& path : DeleteVolumesNamed(pool.get(), FerryVolumePrefix(uuid))) {
    spdlog::info("libvirt: evacuation {}: deleted the stale local disk {}", spec.migration_uuid,
                 path);
  }
}

void LibvirtDriver::FenceEvacuatedDomain(const std::string& uuid) {
  CheckUuid(uuid);
  DomainPtr d = LookupByUuid(impl_->Conn(), uuid);
  if (!d) return;
  // Destroyed first, no graceful shutdown: the destination may run it already, from the same
  // shared disks, and every second both run corrupts them.
  if (IsActive(d.get(), uuid)) {
    if (Timed("virDomainDestroy", [&] { return virDomainDestroy(d.get()); }) < 0 &&
        IsActive(d.get(), uuid)) {
      ThrowLibvirt("destroying evacuated domain " + uuid);
    }
    spdlog::warn("libvirt: fenced evacuated domain {}: destroyed (it runs elsewhere now)", uuid);
  }
  // Then no libvirtd or host restart may start it again. Its definition and disks stay for
  // clean_up_evacuated_source.
  if (Timed("virDomainIsPersistent", [&] { return virDomainIsPersistent(d.get()); }) == 1) {
    int on = 0;
    if (virDomainGetAutostart(d.get(), &on) < 0) ThrowLibvirt("autostart of " + uuid);
    if (on != 0 && virDomainSetAutostart(d.get(), 0) < 0) {
      ThrowLibvirt("turning autostart of evacuated domain " + uuid + " off");
    }
  }
}

}  // namespace ferry::agent::libvirt
