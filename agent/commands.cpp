#include "agent/commands.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "agent/evacuation_commands.hpp"
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

// 1 h: an interval longer than this is no longer "progress"; the controller's lease would lapse.
constexpr int kMaxMonitorIntervalS = 3600;
// 1 h: Nova's shutdown_timeout is 60 s; a guest that has not shut down in an hour never will.
constexpr int kMaxShutdownTimeoutS = 3600;
// 4096: the most vCPUs QEMU's largest machine type (q35 with x2APIC) accepts.
constexpr int kMaxVcpus = 4096;
// 64 TiB of RAM and 1 PiB of disk: beyond the largest servers sold; disk bytes (GiB * 2^30)
// stay far from int64 overflow.
constexpr int64_t kMaxMemoryMb = int64_t{64} * 1024 * 1024;
constexpr int64_t kMaxDiskGb = int64_t{1024} * 1024;
// 1 TiB/s: no link carries more; anything above is a corrupt number.
constexpr int64_t kMaxBandwidthMibps = int64_t{1024} * 1024;
// 256 disks: far more than any flavor and its volumes attach (virtio-scsi's practical limit).
constexpr size_t kMaxDisks = 256;
// 255: a host name (RFC 1035); 1 KiB for a URI; 512 for the per-move token (a random secret is
// 32-64 characters; anything far longer is not one).
constexpr size_t kMaxHostChars = 255;
constexpr size_t kMaxUriChars = 1024;
constexpr size_t kMaxTokenChars = 512;
// 32: a guest device name ("vda", "sdb", "nvme0n1") is short; it names disks on the link.
constexpr size_t kMaxDiskTargetChars = 32;

CommandOutput CreateDomain(CommandContext& ctx, const nlohmann::json& args) {
  if (!args.is_object()) throw Error(Errc::kBadRequest, "create_domain args must be an object");
  return {ctx.driver.CreateDomain(args.get<wire::Domain>()), nullptr};
}

CommandOutput DeleteDomain(CommandContext& ctx, const nlohmann::json& args) {
  if (!args.is_object() || !args.contains("uuid") || !args.at("uuid").is_string()) {
    throw Error(Errc::kBadRequest, "delete_domain args must be {\"uuid\": \"...\"}");
  }
  ctx.driver.DeleteDomain(args.at("uuid").get<std::string>());
  return {};
}

void Require(bool ok, const std::string& kind, const std::string& what) {
  if (!ok) throw Error(Errc::kBadRequest, kind + ": " + what);
}

// One row per live-migration kind; the spec is decoded and validated before the driver runs.
using SpecFn = std::function<CommandOutput(CommandContext&, const wire::LiveMigrationSpec&)>;

CommandFn WithSpec(std::string kind, SpecFn fn) {
  return [kind = std::move(kind), fn = std::move(fn)](CommandContext& ctx,
                                                      const nlohmann::json& args) {
    return fn(ctx, DecodeLiveMigrationSpec(kind, args));
  };
}

// One row per cold-migration kind, the spec decoded and validated for its kind first.
using ColdFn = std::function<CommandOutput(CommandContext&, const wire::ColdMigrationSpec&)>;

CommandFn WithColdSpec(std::string kind, ColdFn fn) {
  return [kind = std::move(kind), fn = std::move(fn)](CommandContext& ctx,
                                                      const nlohmann::json& args) {
    return fn(ctx, DecodeColdMigrationSpec(kind, args));
  };
}

CommandOutput Done() { return CommandOutput{}; }

// The fields the job monitor reads, for a cold copy's job.
wire::LiveMigrationSpec MonitoredJobOf(const wire::ColdMigrationSpec& cold) {
  wire::LiveMigrationSpec spec;
  spec.migration_uuid = cold.migration_uuid;
  spec.domain = cold.domain;
  spec.source_host = cold.source_host;
  spec.dest_host = cold.dest_host;
  spec.bandwidth_mibps = cold.bandwidth_mibps;
  spec.monitor_interval_s = cold.monitor_interval_s;
  return spec;
}

void AddColdMigrationRows(std::map<std::string, CommandFn>& table) {
  using Spec = wire::ColdMigrationSpec;
  table.emplace(
      "prepare_cold_migration_destination",
      WithColdSpec("prepare_cold_migration_destination", [](CommandContext& ctx, const Spec& spec) {
        std::string uri = ctx.driver.PrepareColdMigrationDestination(spec);
        return CommandOutput{std::nullopt, {{"receive_uri", uri}}};
      }));
  table.emplace(
      "power_off_for_cold_migration",
      WithColdSpec("power_off_for_cold_migration", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.PowerOffForColdMigration(spec);
        return Done();
      }));
  table.emplace(
      "start_cold_migration_copy",
      WithColdSpec("start_cold_migration_copy", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.StartColdMigrationCopy(spec);
        if (ctx.job_started) ctx.job_started(MonitoredJobOf(spec));
        return Done();
      }));
  table.emplace(
      "abort_cold_migration_copy",
      WithColdSpec("abort_cold_migration_copy", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.AbortColdMigrationCopy(spec.migration_uuid);
        return Done();
      }));
  table.emplace(
      "finish_cold_migration_destination",
      WithColdSpec("finish_cold_migration_destination", [](CommandContext& ctx, const Spec& spec) {
        return CommandOutput{ctx.driver.FinishColdMigrationDestination(spec), nullptr};
      }));
  table.emplace(
      "confirm_cold_migration_source",
      WithColdSpec("confirm_cold_migration_source", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.ConfirmColdMigrationSource(spec);
        return Done();
      }));
  table.emplace(
      "revert_cold_migration_destination",
      WithColdSpec("revert_cold_migration_destination", [](CommandContext& ctx, const Spec& spec) {
        ctx.driver.RevertColdMigrationDestination(spec);
        return Done();
      }));
  table.emplace(
      "revert_cold_migration_source",
      WithColdSpec("revert_cold_migration_source", [](CommandContext& ctx, const Spec& spec) {
        return CommandOutput{ctx.driver.RevertColdMigrationSource(spec), nullptr};
      }));
}

std::map<std::string, CommandFn> MakeTable();

const std::map<std::string, CommandFn>& Table() {
  static const std::map<std::string, CommandFn> kTable = MakeTable();
  return kTable;
}

std::map<std::string, CommandFn> MakeTable() {
  std::map<std::string, CommandFn> table = {
      {"create_domain", CreateDomain},
      {"delete_domain", DeleteDomain},
      {"check_live_migration_destination",
       WithSpec("check_live_migration_destination",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  ctx.driver.CheckLiveMigrationDestination(spec);
                  return CommandOutput{};
                })},
      {"prepare_live_migration_destination",
       WithSpec("prepare_live_migration_destination",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  std::string uri = ctx.driver.PrepareLiveMigrationDestination(spec);
                  return CommandOutput{std::nullopt, {{"incoming_uri", uri}}};
                })},
      {"start_live_migration",
       WithSpec("start_live_migration",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  Require(!spec.incoming_uri.empty(), "start_live_migration",
                          "incoming_uri is required (prepare's CommandResult.data)");
                  ctx.driver.StartLiveMigration(spec);
                  if (ctx.job_started) ctx.job_started(spec);
                  return CommandOutput{};
                })},
      {"abort_live_migration",
       WithSpec("abort_live_migration",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  ctx.driver.AbortLiveMigration(spec.migration_uuid);
                  return CommandOutput{};
                })},
      {"force_complete_live_migration",
       WithSpec("force_complete_live_migration",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  ctx.driver.ForceCompleteLiveMigration(spec.migration_uuid, spec.permit_post_copy);
                  return CommandOutput{};
                })},
      {"finish_live_migration_destination",
       WithSpec("finish_live_migration_destination",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  return CommandOutput{ctx.driver.FinishLiveMigrationDestination(spec), nullptr};
                })},
      {"cleanup_live_migration_source",
       WithSpec("cleanup_live_migration_source",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  ctx.driver.CleanupLiveMigrationSource(spec);
                  return CommandOutput{};
                })},
      {"rollback_live_migration_destination",
       WithSpec("rollback_live_migration_destination",
                [](CommandContext& ctx, const wire::LiveMigrationSpec& spec) {
                  ctx.driver.RollbackLiveMigrationDestination(spec);
                  return CommandOutput{};
                })},
  };
  AddColdMigrationRows(table);
  AddEvacuationRows(table);
  return table;
}

bool IsDiskTarget(const std::string& t) {
  return !t.empty() && t.size() <= kMaxDiskTargetChars &&
         std::all_of(t.begin(), t.end(),
                     [](unsigned char c) { return std::islower(c) != 0 || std::isdigit(c) != 0; });
}

}  // namespace

wire::LiveMigrationSpec DecodeLiveMigrationSpec(const std::string& kind,
                                                const nlohmann::json& args) {
  Require(args.is_object(), kind, "args must be a LiveMigrationSpec object");
  auto spec = args.get<wire::LiveMigrationSpec>();  // json::exception -> 400 at the server
  Require(IsUuid(spec.migration_uuid), kind, "migration_uuid must be a uuid");
  Require(IsUuid(spec.domain.uuid), kind, "domain.uuid must be a uuid");
  Require(spec.domain.memory_mb >= 1, kind, "domain.memory_mb must be >= 1");
  Require(spec.domain.disk_gb >= 0, kind, "domain.disk_gb must be >= 0");
  Require(spec.bandwidth_mibps >= 0, kind, "bandwidth_mibps must be >= 0");
  Require(spec.max_downtime_ms >= 0, kind, "max_downtime_ms must be >= 0");
  Require(spec.downtime_steps >= 1, kind, "downtime_steps must be >= 1");
  Require(spec.downtime_delay_s >= 0, kind, "downtime_delay_s must be >= 0");
  Require(spec.monitor_interval_s >= 1 && spec.monitor_interval_s <= kMaxMonitorIntervalS, kind,
          "monitor_interval_s must be in [1, 3600]");
  return spec;
}

wire::ColdMigrationSpec DecodeColdMigrationSpec(const std::string& kind,
                                                const nlohmann::json& args) {
  Require(args.is_object(), kind, "args must be a ColdMigrationSpec object");
  auto spec = args.get<wire::ColdMigrationSpec>();  // json::exception -> 400 at the server
  const wire::Domain& d = spec.domain;
  Require(IsUuid(spec.migration_uuid), kind, "migration_uuid must be a uuid");
  Require(IsUuid(d.uuid), kind, "domain.uuid must be a uuid");
  Require(d.vcpus >= 1 && d.vcpus <= kMaxVcpus, kind, "domain.vcpus must be in [1, 4096]");
  Require(d.memory_mb >= 1 && d.memory_mb <= kMaxMemoryMb, kind,
          "domain.memory_mb must be in [1, 64 TiB]");
  Require(d.disk_gb >= 0 && d.disk_gb <= kMaxDiskGb, kind, "domain.disk_gb must be in [0, 1 PiB]");
  Require(d.disks.size() <= kMaxDisks, kind, "domain.disks: at most 256");
  for (const auto& disk : d.disks) {
    Require(IsDiskTarget(disk.target), kind,
            "domain.disks[].target must be 1-32 lowercase letters or digits");
    Require(disk.capacity_bytes >= 0 && disk.capacity_bytes / (int64_t{1} << 30) <= kMaxDiskGb,
            kind, "domain.disks[].capacity_bytes must be in [0, 1 PiB]");
  }
  Require(spec.new_vcpus >= 1 && spec.new_vcpus <= kMaxVcpus, kind,
          "new_vcpus must be in [1, 4096]");
  Require(spec.new_memory_mb >= 1 && spec.new_memory_mb <= kMaxMemoryMb, kind,
          "new_memory_mb must be in [1, 64 TiB]");
  Require(spec.new_disk_gb <= kMaxDiskGb, kind, "new_disk_gb must be at most 1 PiB");
  // Nova refuses a resize to a smaller disk (FlavorDiskSmallerThanImage): a disk is never shrunk.
  Require(spec.new_disk_gb >= d.disk_gb, kind,
          "new_disk_gb " + std::to_string(spec.new_disk_gb) + " is smaller than the guest's " +
              std::to_string(d.disk_gb) + " GB: a disk is never shrunk");
  Require(!spec.source_host.empty() && spec.source_host.size() <= kMaxHostChars, kind,
          "source_host must be 1-255 characters");
  Require(!spec.dest_host.empty() && spec.dest_host.size() <= kMaxHostChars, kind,
          "dest_host must be 1-255 characters");
  Require(spec.dest_migration_address.size() <= kMaxHostChars, kind,
          "dest_migration_address must be at most 255 characters");
  Require(spec.receive_uri.size() <= kMaxUriChars, kind, "receive_uri must be at most 1 KiB");
  Require(spec.transfer_token.size() <= kMaxTokenChars, kind,
          "transfer_token must be at most 512 characters");
  Require(spec.bandwidth_mibps >= 0 && spec.bandwidth_mibps <= kMaxBandwidthMibps, kind,
          "bandwidth_mibps must be in [0, 1048576]");
  Require(spec.shutdown_timeout_s >= 0 && spec.shutdown_timeout_s <= kMaxShutdownTimeoutS, kind,
          "shutdown_timeout_s must be in [0, 3600]");
  Require(spec.monitor_interval_s >= 1 && spec.monitor_interval_s <= kMaxMonitorIntervalS, kind,
          "monitor_interval_s must be in [1, 3600]");
  // Where disks move, the destination takes them only from a sender presenting the token.
  const bool moves_disks =
      kind == "prepare_cold_migration_destination" || kind == "start_cold_migration_copy";
  Require(!moves_disks || !spec.transfer_token.empty(), kind, "transfer_token is required");
  if (kind == "start_cold_migration_copy") {
    Require(!spec.receive_uri.empty(), kind,
            "receive_uri is required (prepare's CommandResult.data)");
  }
  return spec;
}

wire::Command DecodeCommand(std::string_view body) {
  nlohmann::json parsed;
  try {
    parsed = ParseBoundedJson(body);
  } catch (const nlohmann::json::parse_error& e) {
    // Not e.what(): it quotes the bytes last read, which need not be UTF-8, and the answer's
    // JSON body could then not be written (found by tests/fuzz/agent_command_fuzz).
    throw Error(Errc::kBadRequest, "malformed JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kBadRequest, std::string("malformed JSON: ") + e.what());  // 406 overflow
  }
  wire::Command cmd;
  try {
    cmd = parsed.get<wire::Command>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kBadRequest, std::string("not a command: ") + e.what());
  }
  if (cmd.id.empty()) throw Error(Errc::kBadRequest, "command id must not be empty");
  return cmd;
}

const CommandFn* FindCommand(const std::string& kind) {
  const auto& table = Table();
  auto it = table.find(kind);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace ferry::agent
