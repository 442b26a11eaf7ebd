#include "agent/drivers/libvirt/libvirt_cold_manifest.hpp"

#include <nlohmann/json.hpp>

#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_shared_paths.hpp"
#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

using nlohmann::json;

constexpr size_t kMaxDisks = 16;

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
      // A disk the destination uses where it is must be a file in the directory every host
      // shares, once every symlink is resolved (the manifest is input).
      if (disk.kind != "local") disk.path = SharedDiskPath(disk, config.shared_dir);
      out.push_back(std::move(disk));
    }
  } catch (const json::exception& e) {
    throw Error(Errc::kConflict,
                std::string("libvirt: the source's disk manifest is malformed: ") + e.what());
  }
  return out;
}

}  // namespace ferry::agent::libvirt
