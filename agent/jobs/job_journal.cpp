#include "agent/jobs/job_journal.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "common/durable_file.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

namespace fs = std::filesystem;

// 1 MiB: a record is a spec and one sample (a few KiB); anything larger was not written by us.
constexpr std::uintmax_t kMaxRecordBytes = 1 << 20;

}  // namespace

JobJournal::JobJournal(std::string dir) : dir_(std::move(dir)) {}

std::string JobJournal::PathOf(const std::string& migration_uuid) const {
  return dir_ + "/" + migration_uuid + ".json";
}

bool JobJournal::Put(const JobRecord& record) {
  if (dir_.empty()) return true;
  // The uuid becomes a file name: only a uuid may (the spec was validated, this is the backstop).
  if (!IsUuid(record.spec.migration_uuid)) {
    ++failed_writes_;
    spdlog::error("agent: job record for '{}' not written: not a uuid", record.spec.migration_uuid);
    return false;
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const std::string path = PathOf(record.spec.migration_uuid);
  std::string error;
  try {
    // A hypervisor's error text may hold bytes that are not UTF-8: replaced, never a throw
    // that would leave the previous state on disk unnoticed.
    const std::string content =
        nlohmann::json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (WriteFileDurably(path, content, &error)) return true;
  } catch (const std::exception& e) {
    error = e.what();
  }
  ++failed_writes_;
  spdlog::error(
      "agent: migration {}: the job record was not saved ({}); {} keeps the previous one, and "
      "an agent restart now would not know this state",
      record.spec.migration_uuid, error, path);
  return false;
}

void JobJournal::Remove(const std::string& migration_uuid) {
  if (dir_.empty() || !IsUuid(migration_uuid)) return;
  std::error_code ec;
  fs::remove(PathOf(migration_uuid), ec);
  if (ec) spdlog::warn("agent: removing job record {}: {}", migration_uuid, ec.message());
}

std::vector<JobRecord> JobJournal::LoadAll() {
  std::vector<JobRecord> out;
  std::error_code ec;
  if (dir_.empty() || !fs::is_directory(dir_, ec)) return out;
  fs::directory_iterator it(dir_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const fs::path path = entry.path();
    if (path.extension() == ".tmp") {  // a write a crash interrupted: its record is intact
      std::error_code rm_ec;
      fs::remove(path, rm_ec);
      continue;
    }
    if (path.extension() != ".json") continue;
    std::string why;
    try {
      const std::string stem = path.stem().string();
      if (!IsUuid(stem)) {
        why = "the file name is not a migration uuid";
      } else if (std::error_code size_ec; !entry.is_regular_file(size_ec) ||
                                          entry.file_size(size_ec) > kMaxRecordBytes || size_ec) {
        why = "not a regular file of at most 1 MiB";
      } else {
        std::ifstream in(path);
        JobRecord record = nlohmann::json::parse(in).get<JobRecord>();
        if (record.spec.migration_uuid != stem) {
          why = "it names migration '" + record.spec.migration_uuid + "'";
        } else if (record.cold && (record.cold->migration_uuid != record.spec.migration_uuid ||
                                   record.cold->domain.uuid != record.spec.domain.uuid)) {
          why = "its cold spec names another migration or domain";
        } else if (!wire::ParseJobState(record.last.state)) {
          why = "unknown job state '" + record.last.state + "'";
        } else {
          out.push_back(std::move(record));
          continue;
        }
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
    ++quarantined_;
    const std::string aside = path.string() + ".corrupt";
    std::error_code mv_ec;
    fs::rename(path, aside, mv_ec);
    spdlog::error(
        "agent: job record {} is unreadable ({}): moved to {}; this agent no longer knows that "
        "migration, and the controller decides from where the guest is",
        path.string(), why, aside);
  }
  return out;
}

}  // namespace ferry::agent
