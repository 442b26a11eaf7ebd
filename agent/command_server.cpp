#include "agent/command_server.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string_view>
#include <utility>

#include "agent/commands.hpp"
#include "common/errors.hpp"
#include "common/nova_fault.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kTokenHeader = "X-Auth-Token";
// 1 s: Stop() waits for idle keep-alive connections this long; commands are seconds apart, so
// reusing a connection buys little and a prompt shutdown matters more.
constexpr time_t kKeepAliveTimeoutS = 1;
// 1 MiB: a command is well under 1 KiB; anything near this size is garbage, refuse it early.
constexpr size_t kMaxPayloadBytes = 1 << 20;

// Time depends only on the presented token's length, never on where it first differs from the
// secret or on the secret's length.
bool ConstantTimeEquals(std::string_view presented, std::string_view secret) {
  if (secret.empty()) return false;
  unsigned char diff = presented.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ secret[i % secret.size()]);
  }
  return diff == 0;
}

void SendFault(httplib::Response& res, int status, const char* name, const std::string& message) {
  res.status = status;
  res.set_content(json{{name, {{"code", status}, {"message", message}}}}.dump(), kJson);
}

void SendError(httplib::Response& res, Errc code, const std::string& message) {
  // Nova's error names, so the controller's client parses agent and API errors alike.
  auto [status, name] = NovaFault(code);
  SendFault(res, status, name, message);
}

void SendJson(httplib::Response& res, const json& body) {
  res.status = 200;
  res.set_content(body.dump(), kJson);
}

// Decodes the body; on failure answers 400 and returns nullopt.
std::optional<wire::Command> ParseCommand(const httplib::Request& req, httplib::Response& res) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    SendError(res, Errc::kBadRequest, std::string("malformed JSON: ") + e.what());
    return std::nullopt;
  }
  wire::Command cmd;
  try {
    cmd = body.get<wire::Command>();
  } catch (const json::exception& e) {
    SendError(res, Errc::kBadRequest, std::string("not a command: ") + e.what());
    return std::nullopt;
  }
  if (cmd.id.empty()) {
    SendError(res, Errc::kBadRequest, "command id must not be empty");
    return std::nullopt;
  }
  return cmd;
}

}  // namespace

CommandServer::CommandServer(Driver& driver, std::string host, std::string command_token,
                             JobStartedFn job_started)
    : driver_(driver),
      host_(std::move(host)),
      token_(std::move(command_token)),
      simulated_(driver.Info().simulated),
      job_started_(std::move(job_started)) {
  if (token_.empty()) throw Error(Errc::kBadRequest, "the command token must not be empty");
  Route();
}

CommandServer::~CommandServer() { Stop(); }

void CommandServer::Route() {
  server_.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server_.set_keep_alive_timeout(kKeepAliveTimeoutS);
  server_.set_payload_max_length(kMaxPayloadBytes);
  server_.Post("/v1/commands", [this](const auto& req, auto& res) { HandleCommand(req, res); });
  server_.Get("/v1/inventory", [this](const auto& req, auto& res) { HandleInventory(req, res); });
  server_.Get(R"(/v1/migrations/([^/]+))",
              [this](const auto& req, auto& res) { HandleMigration(req, res); });
  server_.Get("/v1/health", [this](const auto& req, auto& res) { HandleHealth(req, res); });
  // Called for every status >= 400; only fill in bodies httplib left empty (404, 405, 413).
  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* name = res.status == 404 ? "itemNotFound" : "badRequest";
    SendFault(res, res.status, name, "cannot serve " + req.method + " " + req.path);
  });
  server_.set_exception_handler([](const auto&, auto& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(std::move(ep));
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("command server: unhandled exception error=\"{}\"", what);
    SendError(res, Errc::kInternal, what);
  });
}

int CommandServer::Start(const std::string& address, int port) {
  int bound = port;
  if (port == 0) {
    bound = server_.bind_to_any_port(address);
  } else if (!server_.bind_to_port(address, port)) {
    bound = -1;
  }
  if (bound < 0) {
    throw Error(Errc::kUnavailable, "cannot listen on " + address + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] {
    server_.listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so Stop() always works.
  while (!server_.is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("command server listening address={} port={} host={}", address, bound, host_);
  return bound;
}

void CommandServer::Stop() {
  if (!thread_.joinable()) return;
  server_.stop();
  thread_.join();
  spdlog::info("command server stopped");
}

bool CommandServer::Authorized(const httplib::Request& req, httplib::Response& res) const {
  if (ConstantTimeEquals(req.get_header_value(kTokenHeader), token_)) return true;
  std::string why = req.has_header(kTokenHeader) ? "invalid X-Auth-Token" : "missing X-Auth-Token";
  spdlog::warn("command server: refused request path={} remote={} reason=\"{}\"", req.path,
               req.remote_addr, why);
  SendError(res, Errc::kUnauthorized, why);
  return false;
}

void CommandServer::HandleHealth(const httplib::Request&, httplib::Response& res) {
  SendJson(res, json{{"status", "ok"}, {"host", host_}, {"simulated", simulated_}});
}

void CommandServer::HandleInventory(const httplib::Request& req, httplib::Response& res) {
  if (!Authorized(req, res)) return;
  try {
    SendJson(res, wire::Inventory{driver_.ListDomains()});
  } catch (const Error& e) {
    SendError(res, e.code(), e.what());
  }
}

void CommandServer::HandleMigration(const httplib::Request& req, httplib::Response& res) {
  if (!Authorized(req, res)) return;
  const std::string uuid = req.matches[1];
  try {
    auto job = driver_.LiveMigrationJobStats(uuid);
    if (!job) {
      SendError(res, Errc::kNotFound, "no live migration " + uuid + " on host " + host_);
      return;
    }
    SendJson(res, *job);
  } catch (const Error& e) {
    SendError(res, e.code(), e.what());
  }
}

void CommandServer::HandleCommand(const httplib::Request& req, httplib::Response& res) {
  if (!Authorized(req, res)) return;
  auto cmd = ParseCommand(req, res);
  if (!cmd) return;
  if (FindCommand(cmd->kind) == nullptr) {
    SendError(res, Errc::kBadRequest, "unknown command kind '" + cmd->kind + "'");
    return;
  }
  auto lookup = log_.Begin(cmd->id, cmd->kind + "\n" + cmd->args.dump());
  switch (lookup.claim) {
    case CommandLog::Claim::kMismatch:
      SendError(res, Errc::kConflict, "command id " + cmd->id + " was used for another command");
      return;
    case CommandLog::Claim::kInProgress:
      // 202: the controller reads it as "no final answer yet" and asks again later.
      res.status = 202;
      res.set_content(json{{"id", cmd->id}, {"status", "in_progress"}}.dump(), kJson);
      return;
    case CommandLog::Claim::kReplay:
      spdlog::info("command replayed id={} kind={} status={}", cmd->id, cmd->kind,
                   lookup.result.status);
      SendJson(res, lookup.result);
      return;
    case CommandLog::Claim::kExecute:
      Execute(*cmd, res);
      return;
  }
}

void CommandServer::Execute(const wire::Command& cmd, httplib::Response& res) {
  wire::CommandResult result{cmd.id, "done", "", std::nullopt, nullptr};
  CommandContext ctx{driver_, job_started_};
  try {
    CommandOutput out = (*FindCommand(cmd.kind))(ctx, cmd.args);
    result.domain = std::move(out.domain);
    result.data = std::move(out.data);
  } catch (const json::exception& e) {
    log_.Abandon(cmd.id);
    SendError(res, Errc::kBadRequest, "invalid args for " + cmd.kind + ": " + e.what());
    return;
  } catch (const Error& e) {
    if (e.code() == Errc::kBadRequest) {
      log_.Abandon(cmd.id);
      SendError(res, Errc::kBadRequest, e.what());
      return;
    }
    result.status = "failed";
    result.error = e.what();
  } catch (const std::exception& e) {
    result.status = "failed";
    result.error = e.what();
  } catch (...) {
    result.status = "failed";
    result.error = "unknown error";
  }
  log_.Finish(cmd.id, result);
  spdlog::info("command id={} kind={} status={} error=\"{}\"", cmd.id, cmd.kind, result.status,
               result.error);
  SendJson(res, result);
}

}  // namespace ferry::agent
