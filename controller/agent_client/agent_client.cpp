#include "controller/agent_client/agent_client.hpp"

#include <httplib.h>

#include "common/errors.hpp"
#include "common/json_limits.hpp"

namespace ferry::controller::agent_client {
namespace {

httplib::Client MakeClient(const std::string& url, std::chrono::seconds timeout) {
  httplib::Client cli(url);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  cli.set_tcp_nodelay(true);  // no 40 ms delayed-ACK stall on kept-alive connections
  return cli;
}

}  // namespace

AgentClient::AgentClient(std::string command_token, std::chrono::seconds timeout)
    : token_(std::move(command_token)), timeout_(timeout) {}

std::string AgentClient::CommandId(const std::string& consumer, const std::string& step,
                                   int attempt) {
  return consumer + ":" + step + ":" + std::to_string(attempt);
}

wire::CommandResult AgentClient::Send(const std::string& agent_url,
                                      const wire::Command& command) const {
  auto cli = MakeClient(agent_url, timeout_);
  httplib::Headers headers{{"X-Auth-Token", token_}};
  auto res = cli.Post("/v1/commands", headers, nlohmann::json(command).dump(), "application/json");
  if (!res) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " unreachable: " +
                                        httplib::to_string(res.error()));
  }
  if (res->status != 200) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " answered HTTP " +
                                        std::to_string(res->status) + ": " + res->body);
  }
  try {
    return ParseBoundedJson(res->body).get<wire::CommandResult>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " sent a malformed result: " + e.what());
  }
}

wire::Inventory AgentClient::FetchInventory(const std::string& agent_url) const {
  auto cli = MakeClient(agent_url, timeout_);
  auto res = cli.Get("/v1/inventory", httplib::Headers{{"X-Auth-Token", token_}});
  if (!res || res->status != 200) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " inventory unavailable");
  }
  try {
    return ParseBoundedJson(res->body).get<wire::Inventory>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " sent a malformed inventory");
  }
}

std::optional<wire::LiveMigrationJob> AgentClient::FetchMigrationJob(
    const std::string& agent_url, const std::string& migration_uuid) const {
  auto cli = MakeClient(agent_url, timeout_);
  auto res = cli.Get("/v1/migrations/" + migration_uuid, httplib::Headers{{"X-Auth-Token", token_}});
  if (!res) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " unreachable: " +
                                        httplib::to_string(res.error()));
  }
  if (res->status == 404) return std::nullopt;
  if (res->status != 200) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " answered HTTP " +
                                        std::to_string(res->status) + " for migration job");
  }
  try {
    return ParseBoundedJson(res->body).get<wire::LiveMigrationJob>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kUnavailable, "agent " + agent_url + " sent a malformed migration job");
  }
}

}  // namespace ferry::controller::agent_client
