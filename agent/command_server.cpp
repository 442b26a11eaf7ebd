#include "agent/command_server.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <string_view>
#include <utility>

#include "agent/commands.hpp"
#include "common/errors.hpp"
#include "common/http/server.hpp"
#include "common/json_limits.hpp"
#include "common/metrics/metrics.hpp"
#include "common/nova_fault.hpp"
#include "common/token_file.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kTokenHeader = "X-Auth-Token";
constexpr const char* kMigrationsPrefix = "/v1/migrations/";
constexpr const char* kMetricsPath = "/metrics";

bool IsMetrics(const http::Request& req) { return req.method == "GET" && req.path == kMetricsPath; }

struct CommandMetrics {
  metrics::CounterFamily& commands;
  metrics::HistogramFamily& duration;
};

// Commands that ran (kinds are FindCommand's, the only ones that reach Execute), by status:
// done, failed, or invalid (400: arguments the command refused).
CommandMetrics& Metrics() {
  static CommandMetrics m{
      metrics::DefaultRegistry().AddCounter(
          "ferry_agent_commands_total",
          "Commands from the controller this agent ran, by kind and status (done, failed, "
          "invalid: refused with 400). Replays of a remembered command id are not counted.",
          {"kind", "status"}),
      metrics::DefaultRegistry().AddHistogram(
          "ferry_agent_command_duration_seconds",
          "Seconds a command took to run, by kind (a job's command returns once it started).",
          {"kind"}, metrics::LatencyBuckets()),
  };
  return m;
}

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

void SendError(http::Response& res, Errc code, const std::string& message) {
  // Nova's error names, so the controller's client parses agent and API errors alike.
  auto body = NovaFaultBody(code, message);
  res.SetJson(NovaFault(code).status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void SendJson(http::Response& res, const json& body) {
  res.SetJson(200, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

// The uuid of GET /v1/migrations/{uuid}, or "" when the path is not one.
std::string MigrationUuid(const std::string& path) {
  if (path.rfind(kMigrationsPrefix, 0) != 0) return "";
  std::string uuid = path.substr(std::strlen(kMigrationsPrefix));
  return uuid.find('/') == std::string::npos ? uuid : "";
}

// Decodes the body (DecodeCommand); on failure answers 400 and returns nullopt.
std::optional<wire::Command> ParseCommand(const http::Request& req, http::Response& res) {
  try {
    return DecodeCommand(req.body);
  } catch (const Error& e) {
    SendError(res, e.code(), e.what());
    return std::nullopt;
  }
}

}  // namespace

CommandServer::CommandServer(Driver& driver, std::string host, std::string command_token,
                             JobStartedFn job_started, CommandServerOptions options)
    : driver_(driver),
      host_(std::move(host)),
      token_(std::move(command_token)),
      simulated_(driver.Info().simulated),
      job_started_(std::move(job_started)),
      body_bytes_(options.body_bytes),
      fences_(options.lease_epochs_dir) {
  if (token_.empty()) throw Error(Errc::kBadRequest, "the command token must not be empty");
  if (!options.metrics_token_file.empty()) {
    metrics_token_ = ReadTokenFile(options.metrics_token_file);
  }
  Metrics();                            // the families show from the start
  options.http.pool_threads.resize(1);  // one pool: every route is the controller's
  server_ = std::make_unique<http::Server>(
      std::move(options.http), [this](const http::Request& head) { return Admit(head); },
      [this](http::Request& req, http::Response& res) { Dispatch(req, res); });
}

CommandServer::~CommandServer() { Stop(); }

int CommandServer::Start(const std::string& address, int port) {
  int bound = 0;
  try {
    bound = server_->Bind(address, port);
  } catch (const std::exception& e) {
    throw Error(Errc::kUnavailable, e.what());
  }
  server_->Start();
  spdlog::info("command server listening address={} port={} host={}", address, bound, host_);
  return bound;
}

void CommandServer::Stop() {
  if (!server_) return;
  server_->Stop();
  server_.reset();
  spdlog::info("command server stopped");
}

http::Admission CommandServer::Admit(const http::Request& head) const {
  http::Admission admission{0, body_bytes_, std::nullopt};
  if (head.method == "GET" && head.path == "/v1/health") {
    admission.body_limit = 0;  // the one request without the token: it gets no body buffered
    return admission;
  }
  http::Response refusal;
  if (IsMetrics(head)) {
    admission.body_limit = 0;
    if (!MetricsAuthorized(head, &refusal)) admission.refusal = std::move(refusal);
    return admission;
  }
  if (!Authorized(head, &refusal)) admission.refusal = std::move(refusal);
  return admission;
}

void CommandServer::Dispatch(const http::Request& req, http::Response& res) {
  const std::string uuid = MigrationUuid(req.path);
  if (req.method == "GET" && req.path == "/v1/health") return HandleHealth(res);
  if (IsMetrics(req)) {
    if (MetricsAuthorized(req, &res)) HandleMetrics(res);
    return;
  }
  // Admit refused every other request without the token; this is the same check again.
  if (!Authorized(req, &res)) return;
  if (req.method == "POST" && req.path == "/v1/commands") return HandleCommand(req, res);
  if (req.method == "GET" && req.path == "/v1/inventory") return HandleInventory(res);
  if (req.method == "GET" && !uuid.empty()) return HandleMigration(uuid, res);
  SendError(res, Errc::kNotFound, "cannot serve " + req.method + " " + req.path);
}

bool CommandServer::Authorized(const http::Request& req, http::Response* refusal) const {
  auto token = req.Header(kTokenHeader);
  if (ConstantTimeEquals(token.value_or(""), token_)) return true;
  std::string why = token ? "invalid X-Auth-Token" : "missing X-Auth-Token";
  spdlog::warn("command server: refused request path={} remote={} reason=\"{}\"", req.path,
               req.remote_addr, why);
  SendError(*refusal, Errc::kUnauthorized, why);
  return false;
}

bool CommandServer::MetricsAuthorized(const http::Request& req, http::Response* refusal) const {
  // Prometheus sends "Authorization: Bearer <token>" (credentials_file); others X-Auth-Token.
  std::string token = req.Header(kTokenHeader).value_or("");
  const std::string authorization = req.Header("Authorization").value_or("");
  if (token.empty() && authorization.rfind("Bearer ", 0) == 0) token = authorization.substr(7);
  if (ConstantTimeEquals(token, metrics_token_) || ConstantTimeEquals(token, token_)) return true;
  return Authorized(req, refusal);
}

void CommandServer::HandleMetrics(http::Response& res) {
  res.status = 200;
  res.body = metrics::DefaultRegistry().Render();
  res.content_type = metrics::kContentType;
}

void CommandServer::HandleHealth(http::Response& res) {
  SendJson(res, json{{"status", "ok"}, {"host", host_}, {"simulated", simulated_}});
}

void CommandServer::HandleInventory(http::Response& res) {
  try {
    SendJson(res, wire::Inventory{driver_.ListDomains()});
  } catch (const Error& e) {
    SendError(res, e.code(), e.what());
  }
}

void CommandServer::HandleMigration(const std::string& uuid, http::Response& res) {
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

void CommandServer::HandleCommand(const http::Request& req, http::Response& res) {
  auto cmd = ParseCommand(req, res);
  if (!cmd) return;
  if (FindCommand(cmd->kind) == nullptr) {
    SendError(res, Errc::kBadRequest, "unknown command kind '" + cmd->kind + "'");
    return;
  }
  // Before the log: a stale sender gets 409 even for an id the new owner already ran.
  if (cmd->fence && !AdmitFence(*cmd, res)) return;
  auto lookup = log_.Begin(cmd->id, cmd->kind + "\n" + cmd->args.dump());
  switch (lookup.claim) {
    case CommandLog::Claim::kMismatch:
      SendError(res, Errc::kConflict, "command id " + cmd->id + " was used for another command");
      return;
    case CommandLog::Claim::kInProgress:
      // 202: the controller reads it as "no final answer yet" and asks again later.
      res.SetJson(202, json{{"id", cmd->id}, {"status", "in_progress"}}.dump());
      return;
    case CommandLog::Claim::kReplay:
      spdlog::info("command replayed id={} kind={} status={}", cmd->id, cmd->kind,
                   lookup.result.status);
      SendJson(res, lookup.result);
      return;
    case CommandLog::Claim::kExecute:
      ExecuteInDomainOrder(*cmd, res);
      return;
  }
}

void CommandServer::ExecuteInDomainOrder(const wire::Command& cmd, http::Response& res) {
  const auto admission = domain_order_.Begin(cmd);
  if (admission.turn == DomainCommandOrder::Turn::kBusy) {
    // Not claimed: once the command ahead has finished, the retry of this id runs.
    log_.Abandon(cmd.id);
    res.SetJson(
        202,
        json{{"id", cmd.id}, {"status", "in_progress"}, {"behind", admission.other_id}}.dump());
    return;
  }
  if (admission.turn == DomainCommandOrder::Turn::kDeleted) {
    wire::CommandResult refused{cmd.id, "failed",
                                "domain was deleted by command " + admission.other_id +
                                    "; a deleted domain is not created again",
                                std::nullopt, nullptr};
    log_.Finish(cmd.id, refused);
    spdlog::warn("command id={} kind={} refused: {}", cmd.id, cmd.kind, refused.error);
    SendJson(res, refused);
    return;
  }
  Execute(cmd, res);
  domain_order_.End(cmd);
}

bool CommandServer::AdmitFence(const wire::Command& cmd, http::Response& res) {
  const auto& fence = *cmd.fence;
  const bool names_it = cmd.args.is_object() && cmd.args.contains("migration_uuid") &&
                        cmd.args.at("migration_uuid") == fence.migration_uuid;
  if (!IsUuid(fence.migration_uuid) || fence.lease_epoch < 0 || !names_it) {
    SendError(res, Errc::kBadRequest,
              "fence must name the command's migration_uuid with a lease_epoch >= 0");
    return false;
  }
  const auto verdict = fences_.Admit(fence.migration_uuid, fence.lease_epoch);
  using Kind = LeaseFences::Verdict::Kind;
  if (verdict.kind == Kind::kStale) {
    const std::string why = "stale lease epoch " + std::to_string(fence.lease_epoch) + " < " +
                            std::to_string(verdict.highest) + " for migration " +
                            fence.migration_uuid + ": another controller drives it now";
    spdlog::warn("command refused id={} kind={} reason=\"{}\"", cmd.id, cmd.kind, why);
    SendError(res, Errc::kConflict, why);
    res.SetHeader(wire::kFenceHeader, wire::kFenceStale);
    return false;
  }
  if (verdict.kind == Kind::kUnrecorded) {
    spdlog::error("command refused id={} kind={}: lease epoch not recorded: {}", cmd.id, cmd.kind,
                  verdict.error);
    SendError(res, Errc::kUnavailable, "cannot record lease epoch: " + verdict.error);
    return false;
  }
  return true;
}

void CommandServer::Execute(const wire::Command& cmd, http::Response& res) {
  wire::CommandResult result{cmd.id, "done", "", std::nullopt, nullptr};
  CommandContext ctx{driver_, job_started_};
  metrics::ScopedTimer timer(Metrics().duration.With({cmd.kind}));
  auto count = [&](const char* status) { Metrics().commands.With({cmd.kind, status}).Inc(); };
  try {
    CommandOutput out = (*FindCommand(cmd.kind))(ctx, cmd.args);
    result.domain = std::move(out.domain);
    result.data = std::move(out.data);
  } catch (const json::exception& e) {
    log_.Abandon(cmd.id);
    count("invalid");
    SendError(res, Errc::kBadRequest, "invalid args for " + cmd.kind + ": " + e.what());
    return;
  } catch (const Error& e) {
    if (e.code() == Errc::kBadRequest) {
      log_.Abandon(cmd.id);
      count("invalid");
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
  if (result.status == "failed" && cmd.kind == "delete_domain") {
    // A delete is idempotent (a missing domain is done), so its failure is a passing one (the
    // hypervisor unreachable, a full disk): its retry must run again, not replay the failure,
    // or the server (or the domain a down host's reaper waits on) would never go.
    log_.Abandon(cmd.id);
  } else {
    log_.Finish(cmd.id, result);
  }
  count(result.status == "done" ? "done" : "failed");
  spdlog::info("command id={} kind={} status={} error=\"{}\"", cmd.id, cmd.kind, result.status,
               result.error);
  SendJson(res, result);
}

}  // namespace ferry::agent
