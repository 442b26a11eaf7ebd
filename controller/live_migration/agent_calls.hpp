#pragma once
// One live-migration command to one agent, with the three outcomes a step must tell apart:
// the agent did it, the agent refused (a failed command, or an HTTP 4xx with its reason), or no
// final answer yet (unreachable, still running, a 5xx: try again later; the command id makes
// the retry safe).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::live_migration {

struct CallResult {
  enum class Outcome { kDone, kRefused, kUnreachable } outcome;
  std::string error;                      // refused or unreachable: why
  wire::CommandResult result;             // done: what the agent answered
  bool ok() const { return outcome == Outcome::kDone; }
};

// step names the command in its id "<migration uuid>:<step>:<attempt>".
CallResult Call(const agent_client::AgentClient& agents, const store::Host& host,
                const std::string& kind, const std::string& step, int attempt,
                const wire::LiveMigrationSpec& spec);

// The spec every command of migration `m` carries. With `source`, also the source host's CPU
// as its agent registered it (source_cpu: the destination's CPU check compares it).
wire::LiveMigrationSpec BuildSpec(const store::LiveMigration& m, const store::Server& server,
                                  const store::Host& dest, const store::Host* source = nullptr);

}  // namespace ferry::controller::live_migration
