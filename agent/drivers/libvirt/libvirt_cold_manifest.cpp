#include "agent/drivers/libvirt/libvirt_cold_manifest.hpp"

#include <nlohmann/json.hpp>

#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

using nlohmann::json;

constexpr size_t kMaxDisks = 16;

// `path` lies inside `dir` with no ".." on the way (the manifest is input).
bool Inside(const std::string& path, const std::string& dir) {
  if (dir.empty() || path.size() <= dir.size() + 1 || path.compare(0, dir.size(), dir) != 0 ||
      path[dir.size()] != '/') {
    return false;
  }
  return path.find("/../") == std::string::npos && path.find("/./") == std::string::npos &&
         path.find("//") == std::string::npos;
}

}  // namespace

std::string ColdManifest(const std::vector<wire::Disk>& disks) {
  if (disks.size() > kMaxDisks) throw Error(Errc::kConflict, "libvirt: more than 16 disks");
  json out = json::array();
  for (const auto& disk : disks) {
    CheckDefinableDisk(disk);
    out.push_back({{"target", disk.target},
                   {"kind", disk.kind},
                   {"format", disk.format},
                   {"path", disk.path},
                   {"capacity_bytes", disk.capacity_bytes}});
  }
  return json{{"disks", out}}.dump();
}

std::vector<wire::Disk> ParseColdManifest(const std::string& text, const LibvirtConfig& config) {
  std::vector<wire::Disk> out;
  try {
    const json j = json::parse(text);
    const json& disks = j.at("disks");
    if (!disks.is_array() || disks.size() > kMaxDisks) {
      throw Error(Errc::kConflict, "libvirt: the source's disk manifest is malformed");
    }
    for (const auto& d : disks) {
      wire::Disk disk;
      disk.target = d.at("target").get<std::string>();
      disk.kind = d.at("kind").get<std::string>();
      disk.format = d.at("format").get<std::string>();
      disk.path = d.at("path").get<std::string>();
      disk.capacity_bytes = d.at("capacity_bytes").get<int64_t>();
      CheckDefinableDisk(disk);
      for (const auto& seen : out) {
        if (seen.target == disk.target) {
          throw Error(Errc::kConflict, "libvirt: disk " + disk.target + " twice in the manifest");
        }
      }
      // A disk the destination uses where it is must be in the directory every host shares.
      if (disk.kind != "local" && !Inside(disk.path, config.shared_dir)) {
        throw Error(Errc::kConflict, "libvirt: shared disk " + disk.target + " (" + disk.path +
                                         ") is not in this host's shared directory");
      }
      out.push_back(std::move(disk));
    }
  } catch (const json::exception& e) {
    throw Error(Errc::kConflict,
                std::string("libvirt: the source's disk manifest is malformed: ") + e.what());
  }
  return out;
}

}  // namespace ferry::agent::libvirt
