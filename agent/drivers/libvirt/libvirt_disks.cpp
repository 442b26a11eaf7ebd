#include "agent/drivers/libvirt/libvirt_disks.hpp"

#include <sys/vfs.h>

#include <pugixml.hpp>

#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

bool Under(const std::string& path, std::string dir) {
  if (dir.empty()) return false;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// "nbd://host:port/name", "rbd:pool/image", "iscsi://host/iqn/lun": what the disk points at.
std::string NetworkPath(const pugi::xml_node& source) {
  std::string protocol = source.attribute("protocol").value();
  std::string name = source.attribute("name").value();
  auto host = source.child("host");
  std::string where;
  if (host) {
    if (host.attribute("socket")) {
      where = std::string("unix:") + host.attribute("socket").value();
    } else {
      where = host.attribute("name").value();
      if (host.attribute("port")) where += std::string(":") + host.attribute("port").value();
    }
  }
  return protocol + "://" + where + (name.empty() ? "" : "/" + name);
}

// "pool/volume" of a type='volume' disk -> the volume's path, or "" when libvirt cannot tell.
std::string PoolVolumePath(virConnectPtr conn, const std::string& pool_and_volume) {
  auto slash = pool_and_volume.find('/');
  if (conn == nullptr || slash == std::string::npos) return "";
  PoolPtr pool(Timed("virStoragePoolLookupByName", [&] {
    return virStoragePoolLookupByName(conn, pool_and_volume.substr(0, slash).c_str());
  }));
  if (!pool) return "";
  VolPtr vol(virStorageVolLookupByName(pool.get(), pool_and_volume.substr(slash + 1).c_str()));
  if (!vol) return "";
  CString path(virStorageVolGetPath(vol.get()));
  return path ? path.get() : "";
}

}  // namespace

std::string FileDiskKind(const std::string& path, const std::string& shared_dir) {
  if (shared_dir.empty()) return "local";
  std::string dir = shared_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (Under(path, dir + "/volumes")) return "volume";
  if (Under(path, dir)) return "shared";
  return "local";
}

std::vector<wire::Disk> ParseDisks(const std::string& domain_xml, const std::string& shared_dir) {
  pugi::xml_document doc;
  if (!doc.load_string(domain_xml.c_str())) {
    throw Error(Errc::kInternal, "libvirt: unparsable domain XML");
  }
  std::vector<wire::Disk> out;
  for (auto disk : doc.child("domain").child("devices").children("disk")) {
    std::string device = disk.attribute("device").as_string("disk");
    if (device != "disk" && device != "lun") continue;  // cdrom/floppy: media, not the guest's
    wire::Disk d;
    d.target = disk.child("target").attribute("dev").value();
    d.format = disk.child("driver").attribute("type").value();
    auto source = disk.child("source");
    std::string type = disk.attribute("type").as_string("file");
    if (type == "network") {
      d.path = NetworkPath(source);
      d.kind = "volume";
    } else if (type == "volume") {
      // A pool volume: libvirt resolves it; the live XML does not carry the file's path.
      d.path =
          std::string(source.attribute("pool").value()) + "/" + source.attribute("volume").value();
      d.kind = "local";
    } else {
      d.path = type == "block" ? source.attribute("dev").value() : source.attribute("file").value();
      d.kind = FileDiskKind(d.path, shared_dir);
    }
    // The shared datastore is the shared directory, under its own name (libvirt_inventory.cpp
    // registers it so): the controller keeps such a server on hosts that see it.
    if (d.kind == "shared") d.datastore = shared_dir;
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<wire::Disk> ReadDisks(virDomainPtr d, const LibvirtConfig& config,
                                  const std::string& what) {
  auto disks = ParseDisks(XmlDesc(d, what), config.shared_dir);
  for (auto& disk : disks) {
    if (disk.path.find("://") == std::string::npos && !disk.path.empty() && disk.path[0] != '/') {
      // type='volume' (ParseDisks left "pool/volume"): classify by where the volume lives
      if (auto path = PoolVolumePath(virDomainGetConnect(d), disk.path); !path.empty()) {
        disk.path = path;
        disk.kind = FileDiskKind(path, config.shared_dir);
        disk.datastore = disk.kind == "shared" ? config.shared_dir : "";
      }
    }
    virDomainBlockInfo info;
    if (!disk.target.empty() && virDomainGetBlockInfo(d, disk.target.c_str(), &info, 0) == 0) {
      disk.capacity_bytes = static_cast<int64_t>(info.capacity);
    }
  }
  return disks;
}

bool IsCopiedByBlockMigration(const wire::Disk& disk) { return disk.kind == "local"; }

DiskPlan PlanDisks(const std::vector<wire::Disk>& disks, bool block_migration,
                   bool shared_is_network_fs) {
  DiskPlan plan;
  for (const auto& disk : disks) {
    if (IsCopiedByBlockMigration(disk)) {
      if (!block_migration) {
        plan.refusal = "libvirt: disk " + disk.target + " (" + disk.path +
                       ") is local to this host: only a block migration can move this guest";
        return plan;
      }
      plan.copied.push_back(disk);
    } else if (disk.path.find("://") == std::string::npos && !shared_is_network_fs) {
      plan.unsafe = true;  // network disks (nbd, rbd, ...) are shared storage to libvirt
    }
  }
  return plan;
}

bool IsNetworkFilesystem(const std::string& dir) {
  struct statfs fs {};
  if (dir.empty() || statfs(dir.c_str(), &fs) != 0) return false;
  // The magic numbers libvirt's virFileIsSharedFS checks (src/util/virfile.c).
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969:      // NFS
    case 0x01161970:  // GFS2
    case 0x7461636f:  // OCFS2
    case 0x00c36400:  // CephFS
    case 0x47504653:  // GPFS
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x0BD00BD0:  // Lustre
    case 0x65735546:  // FUSE (GlusterFS, Quobyte, ...: libvirt checks the subtype; close enough)
      return true;
    default:
      return false;
  }
}

}  // namespace ferry::agent::libvirt
