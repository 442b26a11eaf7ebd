// POST /v1/commands on an agent: what happens to the body before the driver acts. As
// CommandServer::HandleCommand and Execute do it: DecodeCommand, FindCommand (unknown kind:
// 400), the command log's fingerprint (kind + args.dump()), then the command's own decoding of
// its args (a Domain, a LiveMigrationSpec, ColdMigrationSpec or EvacuationSpec and its checks) up
// to the driver call. The driver here does nothing: whatever reaches it has passed every check of
// the agent's decoding. Findings: a sanitizer report, a refusal that is not a 400 with a
// serializable body, an exception the server would not expect, or a spec reaching the driver that
// the checks of DecodeLiveMigrationSpec should have stopped.
#include <cstdint>
#include <string>

#include "agent/commands.hpp"
#include "common/uuid.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ferry::fuzz::Finding;
namespace agent = ferry::agent;
namespace wire = ferry::wire;

void CheckSpec(const wire::LiveMigrationSpec& s) {
  if (!ferry::IsUuid(s.migration_uuid) || !ferry::IsUuid(s.domain.uuid)) Finding("spec uuids");
  if (s.domain.memory_mb < 1 || s.downtime_steps < 1 || s.monitor_interval_s < 1 ||
      s.monitor_interval_s > 3600 || s.bandwidth_mibps < 0 || s.max_downtime_ms < 0) {
    Finding("spec out of range reached the driver");
  }
}

// What DecodeColdMigrationSpec promises the driver.
void CheckColdSpec(const wire::ColdMigrationSpec& s) {
  if (!ferry::IsUuid(s.migration_uuid) || !ferry::IsUuid(s.domain.uuid)) Finding("cold uuids");
  if (s.new_disk_gb < s.domain.disk_gb) Finding("a disk shrink reached the driver");
  if (s.transfer_token.size() > 512 || s.source_host.empty() || s.dest_host.empty() ||
      s.bandwidth_mibps < 0 || s.shutdown_timeout_s < 0 || s.shutdown_timeout_s > 3600 ||
      s.monitor_interval_s < 1 || s.monitor_interval_s > 3600) {
    Finding("cold spec out of range reached the driver");
  }
}

// What DecodeEvacuationSpec promises the driver.
void CheckEvacuationSpec(const wire::EvacuationSpec& s) {
  if (!ferry::IsUuid(s.migration_uuid) || !ferry::IsUuid(s.domain.uuid)) {
    Finding("evacuation uuids");
  }
  if (s.domain.vcpus < 1 || s.domain.memory_mb < 1 || s.domain.disk_gb < 0 ||
      s.domain.disks.size() > 64 || s.source_host.size() > 255 || s.dest_host.size() > 255 ||
      s.image_ref.size() > 1024) {
    Finding("evacuation spec out of range reached the driver");
  }
  for (const auto& disk : s.domain.disks) {
    if (disk.path.empty() || disk.path.size() > 4096 || disk.capacity_bytes < 0) {
      Finding("an evacuation disk out of range reached the driver");
    }
    for (unsigned char c : disk.path) {
      if (c < 0x20 || c == 0x7f) Finding("a control character in a disk path reached the driver");
    }
  }
}

// Accepts everything, changes nothing: the fuzz target is the decoding in front of it.
class NullDriver : public agent::Driver {
 public:
  agent::DriverInfo Info() override { return {}; }
  std::vector<wire::Domain> ListDomains() override { return {}; }
  wire::Domain CreateDomain(const wire::Domain& d) override { return d; }
  void DeleteDomain(const std::string&) override {}
  void CheckLiveMigrationDestination(const wire::LiveMigrationSpec& s) override { CheckSpec(s); }
  std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    CheckSpec(s);
    return "tcp:127.0.0.1:1";
  }
  void StartLiveMigration(const wire::LiveMigrationSpec& s) override {
    CheckSpec(s);
    if (s.incoming_uri.empty()) Finding("start without incoming_uri reached the driver");
  }
  std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(const std::string&) override {
    return std::nullopt;
  }
  std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() override { return {}; }
  void LiveMigrationJobReported(const std::string&) override {}
  void SetLiveMigrationJobEndListener(std::function<void(const std::string&)>) override {}
  void AbortLiveMigration(const std::string&) override {}
  void ForceCompleteLiveMigration(const std::string&, bool) override {}
  wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    CheckSpec(s);
    return s.domain;
  }
  void CleanupLiveMigrationSource(const wire::LiveMigrationSpec& s) override { CheckSpec(s); }
  void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& s) override { CheckSpec(s); }
  std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    CheckColdSpec(s);
    return "tcp:127.0.0.1:1";
  }
  void PowerOffForColdMigration(const wire::ColdMigrationSpec& s) override { CheckColdSpec(s); }
  void StartColdMigrationCopy(const wire::ColdMigrationSpec& s) override {
    CheckColdSpec(s);
    if (s.receive_uri.empty()) Finding("a cold copy without receive_uri reached the driver");
  }
  void AbortColdMigrationCopy(const std::string&) override {}
  wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    CheckColdSpec(s);
    return s.domain;
  }
  void ConfirmColdMigrationSource(const wire::ColdMigrationSpec& s) override { CheckColdSpec(s); }
  void RevertColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    CheckColdSpec(s);
  }
  wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& s) override {
    CheckColdSpec(s);
    return s.domain;
  }
  wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec& s) override {
    CheckEvacuationSpec(s);
    return s.domain;
  }
  void RevertEvacuationDestination(const wire::EvacuationSpec& s) override {
    CheckEvacuationSpec(s);
  }
  void CleanUpEvacuatedSource(const wire::EvacuationSpec& s) override { CheckEvacuationSpec(s); }
  // Only the reporter fences, never a command: unreachable from this target.
  void FenceEvacuatedDomain(const std::string&) override {
    throw ferry::Error(ferry::Errc::kInternal, "not supported by the fuzz driver");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static NullDriver driver;
  wire::Command cmd;
  try {
    cmd = agent::DecodeCommand(ferry::fuzz::AsText(data, size));
  } catch (const ferry::Error& e) {
    if (e.code() != ferry::Errc::kBadRequest) Finding(std::string("not a 400: ") + e.what());
    ferry::fuzz::ExpectClientError(e, /*raw_message=*/true);
    return 0;
  } catch (const std::exception& e) {
    Finding(std::string("DecodeCommand let through: ") + e.what());
  }
  const agent::CommandFn* run = agent::FindCommand(cmd.kind);
  if (run == nullptr) return 0;                                       // 400 unknown command kind
  const std::string fingerprint = cmd.kind + "\n" + cmd.args.dump();  // as HandleCommand
  agent::CommandContext ctx{driver, nullptr};
  try {
    (*run)(ctx, cmd.args);
  } catch (const nlohmann::json::exception&) {
    // Execute answers 400 "invalid args for <kind>: ..." (a library text, valid UTF-8).
  } catch (const ferry::Error& e) {
    if (e.code() != ferry::Errc::kBadRequest) Finding(std::string("not a 400: ") + e.what());
    ferry::fuzz::ExpectClientError(e, /*raw_message=*/true);
  } catch (const std::exception& e) {
    Finding(std::string("unexpected exception: ") + e.what());
  }
  return 0;
}
