#include "controller/agent_client/agent_client.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "controller/agent_client/agent_answer.hpp"

namespace ferry::controller::agent_client {
namespace {

httplib::Client MakeClient(const std::string& url, std::chrono::milliseconds timeout) {
  httplib::Client cli(url);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  cli.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  return cli;
}

// Throws AgentError unless the agent answered 200; a refused credential is logged loudly, as
// it never passes by itself (a wrong or stale --agent-command-token-file).
void ExpectOk(const httplib::Result& res, const std::string& agent_url, const std::string& what) {
  const bool fence_stale =
      res && res->get_header_value(wire::kFenceHeader) == std::string(wire::kFenceStale);
  const auto answer =
      ClassifyAgentAnswer(static_cast<bool>(res), res ? res->status : 0, fence_stale);
  if (answer == AgentAnswer::kOk) return;
  if (answer == AgentAnswer::kUnreachable) {
    throw AgentError(answer, "agent " + agent_url + " unreachable (" + what +
                                 "): " + httplib::to_string(res.error()));
  }
  const std::string message = "agent " + agent_url + " answered HTTP " +
                              std::to_string(res->status) + " (" + std::string(ToString(answer)) +
                              ") to " + what + ": " + FaultMessage(res->body);
  if (answer == AgentAnswer::kUnauthorized) {
    spdlog::error(
        "misconfiguration: {} (the agent's --command-token-file and the controller's "
        "--agent-command-token-file must hold the same token)",
        message);
  }
  throw AgentError(answer, message);
}

}  // namespace

HttpAgentClient::HttpAgentClient(std::string command_token, std::chrono::milliseconds timeout)
    : token_(std::move(command_token)), timeout_(timeout) {}

std::string AgentClient::CommandId(const std::string& consumer, const std::string& step,
                                   int attempt) {
  return consumer + ":" + step + ":" + std::to_string(attempt);
}

wire::CommandResult HttpAgentClient::Send(const std::string& agent_url,
                                          const wire::Command& command) const {
  auto cli = MakeClient(agent_url, timeout_);
  httplib::Headers headers{{"X-Auth-Token", token_}};
  auto res = cli.Post("/v1/commands", headers, nlohmann::json(command).dump(), "application/json");
  ExpectOk(res, agent_url, command.kind + " " + command.id);
  try {
    return ParseBoundedJson(res->body).get<wire::CommandResult>();
  } catch (const nlohmann::json::exception& e) {
    throw AgentError(AgentAnswer::kServerError,
                     "agent " + agent_url + " sent a malformed result: " + e.what());
  }
}

wire::Inventory HttpAgentClient::FetchInventory(const std::string& agent_url) const {
  auto cli = MakeClient(agent_url, timeout_);
  auto res = cli.Get("/v1/inventory", httplib::Headers{{"X-Auth-Token", token_}});
  ExpectOk(res, agent_url, "inventory");
  try {
    return ParseBoundedJson(res->body).get<wire::Inventory>();
  } catch (const nlohmann::json::exception& e) {
    throw AgentError(AgentAnswer::kServerError,
                     "agent " + agent_url + " sent a malformed inventory");
  }
}

std::optional<wire::LiveMigrationJob> HttpAgentClient::FetchMigrationJob(
    const std::string& agent_url, const std::string& migration_uuid) const {
  auto cli = MakeClient(agent_url, timeout_);
  auto res =
      cli.Get("/v1/migrations/" + migration_uuid, httplib::Headers{{"X-Auth-Token", token_}});
  if (res && res->status == 404) return std::nullopt;
  ExpectOk(res, agent_url, "migration job " + migration_uuid);
  try {
    return ParseBoundedJson(res->body).get<wire::LiveMigrationJob>();
  } catch (const nlohmann::json::exception& e) {
    throw AgentError(AgentAnswer::kServerError,
                     "agent " + agent_url + " sent a malformed migration job");
  }
}

}  // namespace ferry::controller::agent_client
