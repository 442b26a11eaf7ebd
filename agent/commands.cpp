#include "agent/commands.hpp"

#include <map>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

// 1 h: an interval longer than this is no longer "progress"; the controller's lease would lapse.
constexpr int kMaxMonitorIntervalS = 3600;

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

const std::map<std::string, CommandFn>& Table() {
  static const std::map<std::string, CommandFn> kTable = {
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
  return kTable;
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
