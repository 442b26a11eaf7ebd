#include "agent/disk_transfer/transfer_journal.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/disk_transfer/transfer_protocol.hpp"
#include "common/durable_file.hpp"
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/record_dir.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 64 KiB: a record of 64 disks is ~10 KiB; larger was not written by us.
constexpr std::uintmax_t kMaxRecordBytes = 64 << 10;
// 253: the longest DNS name.
constexpr size_t kMaxHostName = 253;

json ToJson(const JournalEntry& e) {
  json disks = json::array();
  for (const IncomingDisk& d : e.transfer.disks) {
    disks.push_back(
        {{"target", d.target}, {"bytes", d.bytes}, {"received", d.received}, {"sha256", d.sha256}});
  }
  return {{"migration_uuid", e.transfer.migration_uuid},
          {"source_host", e.transfer.source_host},
          {"token_sha256", e.token_sha256},
          {"sized", e.sized},
          {"source_declares", e.source_declares},
          {"manifest", e.transfer.manifest},
          {"verified", e.transfer.verified},
          {"disks", disks}};
}

// Every field checked as if it came from the network: a record is trusted only once it reads
// back as something Put could have written.
JournalEntry FromJson(const json& j) {
  JournalEntry e;
  e.transfer.migration_uuid = j.at("migration_uuid").get<std::string>();
  e.transfer.source_host = j.at("source_host").get<std::string>();
  e.token_sha256 = j.at("token_sha256").get<std::string>();
  e.sized = j.at("sized").get<bool>();
  e.transfer.verified = j.at("verified").get<bool>();
  e.source_declares = j.value("source_declares", false);
  e.transfer.manifest = j.value("manifest", "");
  if (e.transfer.manifest.size() > kMaxManifestBytes) throw std::runtime_error("bad manifest");
  if (!IsUuid(e.transfer.migration_uuid)) throw std::runtime_error("migration_uuid not a uuid");
  if (e.transfer.source_host.empty() || e.transfer.source_host.size() > kMaxHostName) {
    throw std::runtime_error("bad source_host");
  }
  if (!IsSha256Hex(e.token_sha256)) throw std::runtime_error("bad token_sha256");
  const json& disks = j.at("disks");
  // No disks: expected without a list and not sized yet, or a guest without local disks.
  if (!disks.is_array() || (disks.empty() && !e.source_declares) ||
      disks.size() > kMaxDisksPerHello) {
    throw std::runtime_error("bad disks");
  }
  std::set<std::string> seen;
  for (const json& d : disks) {
    IncomingDisk disk{d.at("target").get<std::string>(), d.at("bytes").get<int64_t>(),
                      d.at("received").get<int64_t>(), d.at("sha256").get<std::string>()};
    if (!IsDiskTarget(disk.target) || !seen.insert(disk.target).second) {
      throw std::runtime_error("bad or repeated target '" + disk.target + "'");
    }
    if (disk.bytes < 0 || disk.bytes > kMaxDiskBytes || disk.received < 0 ||
        disk.received > disk.bytes || (!disk.sha256.empty() && !IsSha256Hex(disk.sha256))) {
      throw std::runtime_error("disk " + disk.target + ": bad bytes, received or sha256");
    }
    e.transfer.disks.push_back(std::move(disk));
  }
  return e;
}

}  // namespace

TransferJournal::TransferJournal(const std::string& state_dir)
    : dir_(state_dir.empty() ? "" : state_dir + "/disk-transfers") {}

std::string TransferJournal::PathOf(const std::string& migration_uuid) const {
  return dir_ + "/" + migration_uuid + ".json";
}

void TransferJournal::Put(const JournalEntry& entry) {
  if (dir_.empty()) return;
  const std::string& uuid = entry.transfer.migration_uuid;
  // The uuid becomes a file name: only a uuid may.
  if (!IsUuid(uuid)) throw Error(Errc::kBadRequest, "not a migration uuid: '" + uuid + "'");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::string error;
  if (!WriteFileDurably(PathOf(uuid), ToJson(entry).dump(), &error)) {
    throw Error(Errc::kUnavailable, "disk transfer record of " + uuid + " not saved: " + error);
  }
}

void TransferJournal::Remove(const std::string& migration_uuid) {
  std::string error;
  if (!RemoveRecord(dir_, migration_uuid, &error)) {
    spdlog::warn("disk transfer: removing record {}: {}", migration_uuid, error);
  }
}

std::vector<JournalEntry> TransferJournal::LoadAll() {
  std::vector<JournalEntry> out;
  ReadRecords(
      dir_, kMaxRecordBytes,
      [&](const std::string& uuid, const std::string& text) -> std::string {
        JournalEntry entry = FromJson(ParseBoundedJson(text, 4));
        if (entry.transfer.migration_uuid != uuid) return "it names another migration";
        out.push_back(std::move(entry));
        return "";
      },
      [](const std::string& path, const std::string& why, const std::string& aside) {
        spdlog::error(
            "disk transfer: record {} is unreadable ({}): moved to {}; that move's disks are no "
            "longer expected here until it is prepared again",
            path, why, aside);
      });
  return out;
}

}  // namespace ferry::agent::transfer
