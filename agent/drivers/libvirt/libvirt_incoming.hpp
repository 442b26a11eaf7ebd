#pragma once
// What a block migration's destination may remove when it is rolled back: exactly what THIS
// migration made here, never what another inbound migration, a create or an operator made in
// the same pool meanwhile, and never a domain that is not this migration's incoming copy.
//
// Prepare records the pool's volumes as they were and the volumes it created itself. libvirt
// pre-creates a missing destination disk in the pool covering its path when the copy starts
// and does NOT delete it when the migration fails (libvirt 9.0, seen in tests/e2e); the disks
// of the incoming domain (watched for while the migration is prepared) are recorded too, so
// rollback knows those paths even after libvirt removed the failed incoming domain.
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

struct IncomingRecord {
  std::set<std::string> pool_before;   // volumes in the pool before prepare
  std::set<std::string> created;       // volumes prepare created for this migration
  std::set<std::string> domain_disks;  // disk paths of this migration's incoming domain
  // A cold migration's destination (libvirt_cold_destination.cpp): the domain whose disks
  // arrive, so the transfer's storage is found again after an agent restart.
  std::string cold_domain;
};

class IncomingRecords {
 public:
  // Kept in memory and, when state_dir is set, in <state_dir>/libvirt-incoming/<uuid>.json
  // (written durably) so a rollback after an agent restart still knows.
  explicit IncomingRecords(std::string state_dir);
  // At prepare; a repeated prepare keeps the first picture of the pool.
  void Begin(const std::string& migration_uuid, const std::vector<std::string>& pool_before);
  // At a cold migration's prepare; a repeat keeps the first record.
  void BeginCold(const std::string& migration_uuid, const std::string& domain_uuid);
  void AddCreated(const std::string& migration_uuid, const std::string& path);
  void AddDomainDisks(const std::string& migration_uuid, const std::vector<std::string>& paths);
  std::optional<IncomingRecord> Load(const std::string& migration_uuid);
  // Volumes other pending inbound migrations created (never this one's to delete).
  std::set<std::string> CreatedByOthers(const std::string& migration_uuid);
  void Erase(const std::string& migration_uuid);

 private:
  std::string Path(const std::string& migration_uuid) const;
  std::optional<IncomingRecord> LoadLocked(const std::string& migration_uuid);
  void SaveLocked(const std::string& migration_uuid, const IncomingRecord& record);
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, IncomingRecord> memory_;
};

// The disk paths of every domain this libvirtd has (running, incoming or only defined).
std::set<std::string> DiskPathsInUse(virConnectPtr conn, const LibvirtConfig& config);
// The disk paths of one domain.
std::vector<std::string> DiskPathsOf(virDomainPtr d, const LibvirtConfig& config);

}  // namespace ferry::agent::libvirt
