#include "agent/drivers/libvirt/libvirt_job_store.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/durable_file.hpp"
#include "common/log.hpp"

namespace ferry::agent::libvirt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 7 days: far longer than the controller takes to hear an outcome (it asks at once after its
// own restart); bounded so the directory does not grow forever.
constexpr auto kKeepEnded = std::chrono::hours(24 * 7);

json ToJson(const StoredJob& j) {
  return json{{"spec", j.spec},
              {"last", j.last},
              {"ended", j.ended},
              {"final_read", j.final_read},
              {"copied_disks", j.copied_disks},
              {"source_persistent", j.source_persistent}};
}

StoredJob FromJson(const json& j) {
  StoredJob out;
  j.at("spec").get_to(out.spec);
  j.at("last").get_to(out.last);
  out.ended = j.value("ended", false);
  out.final_read = j.value("final_read", false);
  out.copied_disks = j.value("copied_disks", std::vector<std::string>{});
  // absent (older records): unknown, so "gone" cannot count as completed
  out.source_persistent = j.value("source_persistent", false);
  return out;
}

}  // namespace

JobStore::JobStore(std::string state_dir)
    : dir_(state_dir.empty() ? "" : state_dir + "/libvirt-migrations") {}

bool JobStore::Save(const StoredJob& job) const {
  if (dir_.empty()) return true;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const std::string path = dir_ + "/" + job.spec.migration_uuid + ".json";
  std::string error;
  if (WriteFileDurably(path, ToJson(job).dump(), &error)) return true;
  ++failed_saves_;
  spdlog::error(
      "libvirt: migration {}: the job record was not saved ({}); {} keeps the previous "
      "one, and an agent restart now would not know this state",
      job.spec.migration_uuid, error, path);
  return false;
}

std::vector<StoredJob> JobStore::LoadAll() const {
  std::vector<StoredJob> out;
  std::error_code ec;
  if (dir_.empty() || !fs::is_directory(dir_, ec)) return out;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    try {
      std::ifstream in(entry.path());
      StoredJob job = FromJson(json::parse(in));
      if (job.ended && now - entry.last_write_time() > kKeepEnded) {
        fs::remove(entry.path(), ec);
        continue;
      }
      out.push_back(std::move(job));
    } catch (const std::exception& e) {
      spdlog::warn("libvirt: ignoring unreadable job file {}: {}", entry.path().string(), e.what());
    }
  }
  return out;
}

}  // namespace ferry::agent::libvirt
