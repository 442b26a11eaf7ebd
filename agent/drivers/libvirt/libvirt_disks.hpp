#pragma once
// A domain's disks as they really are, from its XML: where each lives and whether block
// migration must copy it. Kinds (wire::Disk::kind):
//   "volume"  a network disk (nbd, rbd, iscsi, ...) or a file under <shared_dir>/volumes/:
//             attached storage that every host reaches; never copied
//   "shared"  any other file under <shared_dir>: every host sees it; never copied
//   "local"   everything else: only this host has it; block migration copies it
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

// The kind of a file disk at `path` (as libvirtd sees it).
std::string FileDiskKind(const std::string& path, const std::string& shared_dir);

// Disks (device='disk', not cdroms or floppies) of the domain XML; capacity_bytes is 0 here.
std::vector<wire::Disk> ParseDisks(const std::string& domain_xml, const std::string& shared_dir);

// ParseDisks of d's live XML with each disk's virtual size (virDomainGetBlockInfo; 0 when
// libvirt cannot tell, e.g. a network disk of a stopped domain).
std::vector<wire::Disk> ReadDisks(virDomainPtr d, const LibvirtConfig& config,
                                  const std::string& what);

bool IsCopiedByBlockMigration(const wire::Disk& disk);

// What a live migration does with each disk.
struct DiskPlan {
  std::vector<wire::Disk> copied;  // local disks: VIR_MIGRATE_PARAM_MIGRATE_DISKS (selective)
  // VIR_MIGRATE_UNSAFE: a file disk stays in place on a filesystem libvirt does not trust as
  // shared (it trusts only network filesystems: NFS, GFS2, OCFS2, CephFS, ... by statfs type),
  // so libvirt would refuse with "Migration without shared storage is unsafe".
  bool unsafe = false;
  std::string refusal;  // non-empty: this migration must not run (a local disk left behind)
};
// shared_is_network_fs: whether the shared directory is on a network filesystem.
DiskPlan PlanDisks(const std::vector<wire::Disk>& disks, bool block_migration,
                   bool shared_is_network_fs);

// statfs type of `dir` is one libvirt treats as shared storage (false when it cannot tell).
bool IsNetworkFilesystem(const std::string& dir);

}  // namespace ferry::agent::libvirt
