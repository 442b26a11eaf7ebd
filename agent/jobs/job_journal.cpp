#include "agent/jobs/job_journal.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/durable_file.hpp"
#include "common/record_dir.hpp"
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
  std::string error;
  if (!RemoveRecord(dir_, migration_uuid, &error)) {
    spdlog::warn("agent: removing job record {}: {}", migration_uuid, error);
  }
}

std::vector<JobRecord> JobJournal::LoadAll() {
  std::vector<JobRecord> out;
  quarantined_ += ReadRecords(
      dir_, kMaxRecordBytes,
      [&](const std::string& uuid, const std::string& text) -> std::string {
        JobRecord record = nlohmann::json::parse(text).get<JobRecord>();
        if (record.spec.migration_uuid != uuid) {
          return "it names migration '" + record.spec.migration_uuid + "'";
        }
        if (record.cold && (record.cold->migration_uuid != record.spec.migration_uuid ||
                            record.cold->domain.uuid != record.spec.domain.uuid)) {
          return "its cold spec names another migration or domain";
        }
        if (!wire::ParseJobState(record.last.state)) {
          return "unknown job state '" + record.last.state + "'";
        }
        out.push_back(std::move(record));
        return "";
      },
      [](const std::string& path, const std::string& why, const std::string& aside) {
        spdlog::error(
            "agent: job record {} is unreadable ({}): moved to {}; this agent no longer knows "
            "that migration, and the controller decides from where the guest is",
            path, why, aside);
      });
  return out;
}

}  // namespace ferry::agent
