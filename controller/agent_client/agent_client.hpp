#pragma once
// Sends commands to agents. Every command carries an id built from (consumer, step, attempt)
// so a resend after a timeout or a controller crash is answered, not executed twice.
#include <chrono>
#include <optional>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"

namespace ferry::controller::agent_client {

// What the controller asks of agents. An interface, so that the conductor's and the move
// engine's steps can be driven in tests by an agent written in the test (no processes);
// HttpAgentClient is the real one.
class AgentClient {
 public:
  virtual ~AgentClient() = default;

  // Throws AgentError (agent_answer.hpp) for every answer but 200, classified: unreachable,
  // in progress (202), refused with the agent's reason (4xx), unauthorized (401/403, logged as
  // a misconfiguration), conflict (409), server error (5xx or a garbled body). A command the
  // agent ran and that failed comes back as status "failed".
  virtual wire::CommandResult Send(const std::string& agent_url,
                                   const wire::Command& command) const = 0;
  virtual wire::Inventory FetchInventory(const std::string& agent_url) const = 0;
  // GET /v1/migrations/{uuid}: what the agent's hypervisor says about a live-migration job;
  // nullopt when it knows no such job (404). Throws AgentError like Send.
  virtual std::optional<wire::LiveMigrationJob> FetchMigrationJob(
      const std::string& agent_url, const std::string& migration_uuid) const = 0;

  static std::string CommandId(const std::string& consumer, const std::string& step, int attempt);
};

// The agents' HTTP API (/v1/commands, /v1/inventory, /v1/migrations/{uuid}).
class HttpAgentClient final : public AgentClient {
 public:
  // command_token: what every agent expects in X-Auth-Token.
  explicit HttpAgentClient(std::string command_token,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  wire::CommandResult Send(const std::string& agent_url,
                           const wire::Command& command) const override;
  wire::Inventory FetchInventory(const std::string& agent_url) const override;
  std::optional<wire::LiveMigrationJob> FetchMigrationJob(
      const std::string& agent_url, const std::string& migration_uuid) const override;

 private:
  std::string token_;
  // 30 s by default (--agent-command-timeout-ms): sim and libvirt create/delete answer well
  // within it.
  std::chrono::milliseconds timeout_;
};

}  // namespace ferry::controller::agent_client
