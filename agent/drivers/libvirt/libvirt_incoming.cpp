#include "agent/drivers/libvirt/libvirt_incoming.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "common/durable_file.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {

namespace fs = std::filesystem;
using nlohmann::json;

IncomingRecords::IncomingRecords(std::string state_dir)
    : dir_(state_dir.empty() ? "" : state_dir + "/libvirt-incoming") {}

std::string IncomingRecords::Path(const std::string& migration_uuid) const {
  return dir_ + "/" + migration_uuid + ".json";
}

void IncomingRecords::SaveLocked(const std::string& migration_uuid, const IncomingRecord& r) {
  memory_[migration_uuid] = r;
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const json j{{"pool_before", r.pool_before},
               {"created", r.created},
               {"domain_disks", r.domain_disks},
               {"cold_domain", r.cold_domain}};
  std::string error;
  if (!WriteFileDurably(Path(migration_uuid), j.dump(), &error)) {
    // kept in memory: only a rollback after an agent restart would miss it
    spdlog::error("libvirt: migration {}: the incoming record was not saved: {}", migration_uuid,
                  error);
  }
}

std::optional<IncomingRecord> IncomingRecords::LoadLocked(const std::string& migration_uuid) {
  if (auto it = memory_.find(migration_uuid); it != memory_.end()) return it->second;
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(Path(migration_uuid));
  if (!in) return std::nullopt;
  try {
    const json j = json::parse(in);
    IncomingRecord r;
    if (j.is_array()) {  // older records: the pool before prepare only
      r.pool_before = j.get<std::set<std::string>>();
    } else {
      r.pool_before = j.value("pool_before", std::set<std::string>{});
      r.created = j.value("created", std::set<std::string>{});
      r.domain_disks = j.value("domain_disks", std::set<std::string>{});
      r.cold_domain = j.value("cold_domain", "");
    }
    memory_[migration_uuid] = r;
    return r;
  } catch (const json::exception& e) {
    spdlog::warn("libvirt: unreadable {}: {}", Path(migration_uuid), e.what());
    return std::nullopt;
  }
}

void IncomingRecords::Begin(const std::string& migration_uuid,
                            const std::vector<std::string>& pool_before) {
  std::lock_guard lock(mu_);
  if (LoadLocked(migration_uuid)) return;  // a repeated prepare keeps the first picture
  SaveLocked(migration_uuid, IncomingRecord{{pool_before.begin(), pool_before.end()}, {}, {}, {}});
}

void IncomingRecords::BeginCold(const std::string& migration_uuid, const std::string& domain_uuid) {
  std::lock_guard lock(mu_);
  if (LoadLocked(migration_uuid)) return;
  IncomingRecord r;
  r.cold_domain = domain_uuid;
  SaveLocked(migration_uuid, r);
}

void IncomingRecords::AddCreated(const std::string& migration_uuid, const std::string& path) {
  std::lock_guard lock(mu_);
  auto r = LoadLocked(migration_uuid);
  if (!r || !r->created.insert(path).second) return;
  SaveLocked(migration_uuid, *r);
}

void IncomingRecords::AddDomainDisks(const std::string& migration_uuid,
                                     const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  auto r = LoadLocked(migration_uuid);
  if (!r) return;
  const size_t before = r->domain_disks.size();
  r->domain_disks.insert(paths.begin(), paths.end());
  if (r->domain_disks.size() != before) SaveLocked(migration_uuid, *r);
}

std::optional<IncomingRecord> IncomingRecords::Load(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  return LoadLocked(migration_uuid);
}

std::set<std::string> IncomingRecords::CreatedByOthers(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  if (!dir_.empty()) {  // records of prepares before an agent restart
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() == ".json") LoadLocked(entry.path().stem().string());
    }
  }
  std::set<std::string> out;
  for (const auto& [id, r] : memory_) {
    if (id != migration_uuid) out.insert(r.created.begin(), r.created.end());
  }
  return out;
}

void IncomingRecords::Erase(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  memory_.erase(migration_uuid);
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove(Path(migration_uuid), ec);
}

std::vector<std::string> DiskPathsOf(virDomainPtr d, const LibvirtConfig& config) {
  std::vector<std::string> out;
  CString xml(Timed("virDomainGetXMLDesc", [&] { return virDomainGetXMLDesc(d, 0); }));
  if (!xml) return out;  // vanished meanwhile
  for (const auto& disk : ParseDisks(xml.get(), config.shared_dir)) out.push_back(disk.path);
  return out;
}

std::set<std::string> DiskPathsInUse(virConnectPtr conn, const LibvirtConfig& config) {
  std::set<std::string> out;
  for (auto& d : AllDomains(conn)) {
    for (auto& path : DiskPathsOf(d.get(), config)) out.insert(std::move(path));
  }
  return out;
}

}  // namespace ferry::agent::libvirt
