#include "agent/lease_fences.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "common/durable_file.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

namespace fs = std::filesystem;

std::optional<int64_t> ReadEpoch(const fs::path& path) {
  std::ifstream in(path);
  int64_t epoch = -1;
  if (!(in >> epoch) || epoch < 0) return std::nullopt;
  return epoch;
}

}  // namespace

LeaseFences::LeaseFences(std::string dir) : dir_(std::move(dir)) { LoadAll(); }

void LeaseFences::LoadAll() {
  std::error_code ec;
  if (dir_.empty()) return;
  fs::create_directories(dir_, ec);
  if (!fs::is_directory(dir_, ec)) {
    spdlog::error("lease fences: {} is not a directory; every new epoch will be refused", dir_);
    return;
  }
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!IsUuid(name)) continue;  // *.tmp left by a crash mid-write: the old record stands
    if (now - entry.last_write_time(ec) > kLeaseEpochRetention) {
      fs::remove(entry.path(), ec);
      continue;
    }
    if (auto epoch = ReadEpoch(entry.path())) {
      highest_[name] = *epoch;
    } else {
      spdlog::warn("lease fences: ignoring unreadable {}", entry.path().string());
    }
  }
  spdlog::info("lease fences: {} migrations' epochs loaded from {}", highest_.size(), dir_);
}

LeaseFences::Verdict LeaseFences::Admit(const std::string& migration_uuid, int64_t epoch) {
  std::lock_guard lock(mu_);
  Verdict v;
  auto it = highest_.find(migration_uuid);
  v.highest = it == highest_.end() ? 0 : it->second;
  if (it != highest_.end() && epoch < it->second) {
    v.kind = Verdict::Kind::kStale;
    return v;
  }
  if (it != highest_.end() && epoch == it->second) return v;
  if (!dir_.empty()) {
    std::string error;
    if (!WriteFileDurably(dir_ + "/" + migration_uuid, std::to_string(epoch) + "\n", &error)) {
      v.kind = Verdict::Kind::kUnrecorded;
      v.error = error;
      return v;
    }
  }
  highest_[migration_uuid] = epoch;
  return v;
}

std::optional<int64_t> LeaseFences::HighestForTest(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  auto it = highest_.find(migration_uuid);
  if (it == highest_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ferry::agent
