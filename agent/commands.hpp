#pragma once
// The command kinds the agent understands, one row each: decode args, call the driver.
// The command server stays unchanged when a kind is added.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/driver.hpp"

namespace ferry::agent {

// What a command leaves behind, copied into wire::CommandResult.
struct CommandOutput {
  std::optional<wire::Domain> domain;
  nlohmann::json data;  // kind-specific (prepare: {"incoming_uri": ...}); null when none
};

// Called after start_live_migration or start_cold_migration_copy started a job, so the job
// monitor reports its progress (a cold copy's spec carries the fields they share).
using JobStartedFn = std::function<void(const wire::LiveMigrationSpec& spec)>;

struct CommandContext {
  Driver& driver;
  JobStartedFn job_started;  // may be empty
};

// Runs one command. Throws ferry::Error(kBadRequest) or nlohmann::json::exception for invalid
// args, and whatever the driver throws for failures.
using CommandFn = std::function<CommandOutput(CommandContext& ctx, const nlohmann::json& args)>;

// A POST /v1/commands body as the command server reads it, before anything runs: JSON, the
// Command's shape, a non-empty id. Throws ferry::Error(kBadRequest) saying what is wrong. The
// kind is not looked up here (FindCommand) and the args are decoded by the command itself.
wire::Command DecodeCommand(std::string_view body);

// nullptr for an unknown kind.
const CommandFn* FindCommand(const std::string& kind);

// Decodes and validates a LiveMigrationSpec. Throws ferry::Error(kBadRequest) naming the field.
wire::LiveMigrationSpec DecodeLiveMigrationSpec(const std::string& kind,
                                                const nlohmann::json& args);

// Decodes and validates a ColdMigrationSpec for `kind` (what that step needs: receive_uri for
// start_cold_migration_copy, the transfer token where disks move). Throws
// ferry::Error(kBadRequest) naming the field.
wire::ColdMigrationSpec DecodeColdMigrationSpec(const std::string& kind,
                                                const nlohmann::json& args);

}  // namespace ferry::agent
