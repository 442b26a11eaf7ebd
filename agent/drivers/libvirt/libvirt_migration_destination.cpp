// Live migration, destination side: check, prepare, finish, rollback.
#include <chrono>
#include <set>
#include <thread>

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

// How often a prepared block migration's destination looks for its incoming domain. libvirt
// creates it (paused, reason migration) when the copy starts and keeps it for the whole copy,
// which lasts seconds at the least: 200 ms sees it early and costs one lookup.
constexpr auto kIncomingPoll = std::chrono::milliseconds(200);

bool IsIncomingCopy(virDomainPtr d, const std::string& uuid) {
  DomState s = GetState(d, uuid);
  return s.state == VIR_DOMAIN_PAUSED && s.reason == VIR_DOMAIN_PAUSED_MIGRATION;
}

// Deletes the volumes this migration made here: those its prepare created, and those libvirt
// pre-created for its incoming domain (that domain's disk paths, or volumes named for this
// guest) that appeared after prepare. Never one in use by a domain here, one that was there
// before prepare, or one another pending inbound migration created.
void DeleteThisMigrationsVolumes(LibvirtDriver::Impl& impl, const wire::LiveMigrationSpec& spec,
                                 const IncomingRecord& record,
                                 const std::vector<std::string>& incoming_disks) {
  PoolPtr pool = impl.ImagesPool();
  const std::string pool_path = Trimmed(impl.config.images_pool_path);
  const std::string named_for_guest = pool_path + "/" + FerryVolumePrefix(spec.domain.uuid);
  std::set<std::string> ours = record.created;
  ours.insert(record.domain_disks.begin(), record.domain_disks.end());
  ours.insert(incoming_disks.begin(), incoming_disks.end());
  for (const auto& path : VolumePaths(pool.get())) {
    if (path.rfind(named_for_guest, 0) == 0) ours.insert(path);
  }
  const auto in_use = DiskPathsInUse(impl.Conn(), impl.config);
  const auto others = impl.incoming->CreatedByOthers(spec.migration_uuid);
  for (const auto& path : ours) {
    const bool made_now = record.created.count(path) || !record.pool_before.count(path);
    if (!made_now || in_use.count(path) || others.count(path) || DirName(path) != pool_path) {
      continue;
    }
    if (DeleteVolumeAt(pool.get(), path)) {
      spdlog::info("libvirt: rollback of {} deleted {}", spec.migration_uuid, path);
    }
  }
}

}  // namespace

void LibvirtDriver::Impl::WatchIncoming(const std::string& migration_uuid,
                                        const std::string& domain_uuid) {
  std::lock_guard lock(watch_mu);
  // Watchers that ended (their migration finished, rolled back or arrived) are joined here, so
  // a long-running agent keeps one thread per pending inbound migration only.
  std::erase_if(watchers, [](Watcher& w) {
    if (!*w.done) return false;
    w.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([this, migration_uuid, domain_uuid, done] {
    while (!stopping && incoming->Load(migration_uuid)) {  // erased by finish and rollback
      try {
        DomainPtr d = LookupByUuid(Conn(), domain_uuid);
        if (d && IsIncomingCopy(d.get(), domain_uuid)) {
          incoming->AddDomainDisks(migration_uuid, DiskPathsOf(d.get(), config));
          break;  // its disk paths do not change
        }
      } catch (const std::exception& e) {
        spdlog::debug("libvirt: watching incoming {}: {}", migration_uuid, e.what());
      }
      std::this_thread::sleep_for(kIncomingPoll);
    }
    *done = true;
  });
  watchers.push_back(Watcher{std::move(t), done});
}

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
    impl_->incoming->Begin(spec.migration_uuid, VolumePaths(impl_->ImagesPool().get()));
    impl_->WatchIncoming(spec.migration_uuid, spec.domain.uuid);
  }
  if (spec.block_migration) {
    for (const auto& disk : spec.domain.disks) {
      if (!IsCopiedByBlockMigration(disk) || disk.capacity_bytes <= 0) continue;
      if (DirName(disk.path) != Trimmed(impl_->config.images_pool_path)) {
        throw Error(Errc::kConflict, "libvirt: disk " + disk.path + " is outside the images pool");
      }
      PoolPtr pool = impl_->ImagesPool();
      bool created = false;
      std::string path = EnsureVolume(pool.get(), BaseName(disk.path), disk.capacity_bytes,
                                      disk.format.empty() ? "qcow2" : disk.format, &created);
      if (created) impl_->incoming->AddCreated(spec.migration_uuid, path);
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
      Timed("virDomainIsPersistent", [&] { return virDomainIsPersistent(d.get()); }) != 1) {
    throw Error(Errc::kConflict,
                "libvirt: domain " + spec.domain.uuid + " is still arriving (incoming migration)");
  }
  if (s.state == VIR_DOMAIN_PAUSED) {
    if (Timed("virDomainResume", [&] { return virDomainResume(d.get()); }) < 0)
      ThrowLibvirt("resuming domain " + spec.domain.uuid);
  }
  impl_->incoming->Erase(spec.migration_uuid);  // the disks made for it are the guest's now
  return Describe(d.get(), impl_->config);
}

void LibvirtDriver::RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& spec) {
  std::vector<std::string> incoming_disks;
  DomainPtr d = LookupByUuid(impl_->Conn(), spec.domain.uuid);
  if (d) {  // else libvirt removed the failed incoming domain itself
    DomState s = GetState(d.get(), spec.domain.uuid);
    if (IsIncomingCopy(d.get(), spec.domain.uuid)) {
      incoming_disks = DiskPathsOf(d.get(), impl_->config);
      DestroyAndUndefine(d.get(), spec.domain.uuid);
    } else if (s.state == VIR_DOMAIN_SHUTOFF) {
      // Not this migration's incoming copy (that one is paused until finish): a guest defined
      // here by someone else, or by a later move, is never this rollback's to remove.
      spdlog::warn(
          "libvirt: rollback of {}: domain {} is defined here but shut off, not an "
          "incoming copy: left in place",
          spec.migration_uuid, spec.domain.uuid);
    } else {
      throw Error(Errc::kConflict, "libvirt: domain " + spec.domain.uuid +
                                       " has switched over and runs on this host");
    }
  }
  if (!spec.block_migration || !impl_->HasImagesPool()) return;
  auto record = impl_->incoming->Load(spec.migration_uuid);
  if (!record) {
    spdlog::warn(
        "libvirt: rollback of {}: no record of what its prepare made here: no disk is "
        "deleted",
        spec.migration_uuid);
    return;
  }
  DeleteThisMigrationsVolumes(*impl_, spec, *record, incoming_disks);
  impl_->incoming->Erase(spec.migration_uuid);
}

}  // namespace ferry::agent::libvirt
