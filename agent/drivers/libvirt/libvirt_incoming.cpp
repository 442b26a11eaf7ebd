#include "agent/drivers/libvirt/libvirt_incoming.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_durable_file.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {

namespace fs = std::filesystem;

IncomingRecords::IncomingRecords(std::string state_dir)
    : dir_(state_dir.empty() ? "" : state_dir + "/libvirt-incoming") {}

std::string IncomingRecords::Path(const std::string& migration_uuid) const {
  return dir_ + "/" + migration_uuid + ".json";
}

void IncomingRecords::Save(const std::string& migration_uuid,
                           const std::vector<std::string>& pool_before) {
  std::lock_guard lock(mu_);
  if (memory_.count(migration_uuid)) return;  // a repeated prepare keeps the first picture
  memory_[migration_uuid] = {pool_before.begin(), pool_before.end()};
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (fs::exists(Path(migration_uuid), ec)) return;
  std::string error;
  if (!WriteFileDurably(Path(migration_uuid), nlohmann::json(pool_before).dump(), &error)) {
    // kept in memory: only a rollback after an agent restart would miss it
    spdlog::error("libvirt: migration {}: the incoming record was not saved: {}", migration_uuid,
                  error);
  }
}

std::optional<std::set<std::string>> IncomingRecords::Load(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  if (auto it = memory_.find(migration_uuid); it != memory_.end()) return it->second;
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(Path(migration_uuid));
  if (!in) return std::nullopt;
  try {
    auto paths = nlohmann::json::parse(in).get<std::vector<std::string>>();
    return std::set<std::string>(paths.begin(), paths.end());
  } catch (const nlohmann::json::exception& e) {
    spdlog::warn("libvirt: unreadable {}: {}", Path(migration_uuid), e.what());
    return std::nullopt;
  }
}

void IncomingRecords::Erase(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  memory_.erase(migration_uuid);
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove(Path(migration_uuid), ec);
}

std::set<std::string> DiskPathsInUse(virConnectPtr conn, const LibvirtConfig& config) {
  std::set<std::string> out;
  for (auto& d : AllDomains(conn)) {
    CString xml(virDomainGetXMLDesc(d.get(), 0));
    if (!xml) continue;  // vanished meanwhile
    for (const auto& disk : ParseDisks(xml.get(), config.shared_dir)) out.insert(disk.path);
  }
  return out;
}

}  // namespace ferry::agent::libvirt
