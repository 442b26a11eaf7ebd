#pragma once
// What a block migration's destination must remove when it is rolled back. libvirt pre-creates
// a missing destination disk in the pool covering its path and does NOT delete it when the
// migration fails or is aborted (libvirt 9.0, seen in tests/e2e). So prepare records the pool's
// volumes as they were; rollback deletes the volumes that appeared since and that no domain on
// this host uses (an incoming domain still being copied uses its disks, so two migrations into
// one host do not take each other's).
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

class IncomingRecords {
 public:
  // Kept in memory and, when state_dir is set, in <state_dir>/libvirt-incoming/<uuid>.json so a
  // rollback after an agent restart still knows.
  explicit IncomingRecords(std::string state_dir);
  void Save(const std::string& migration_uuid, const std::vector<std::string>& pool_before);
  std::optional<std::set<std::string>> Load(const std::string& migration_uuid);
  void Erase(const std::string& migration_uuid);

 private:
  std::string Path(const std::string& migration_uuid) const;
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> memory_;
};

// The disk paths of every domain this libvirtd has (running, incoming or only defined).
std::set<std::string> DiskPathsInUse(virConnectPtr conn, const LibvirtConfig& config);

}  // namespace ferry::agent::libvirt
