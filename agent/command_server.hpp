#pragma once
// The agent's HTTP face toward the controller (contract: api/wire/messages.hpp):
//   POST /v1/commands   Command -> CommandResult   (X-Auth-Token: command token)
//   GET  /v1/inventory  -> Inventory               (X-Auth-Token: command token)
//   GET  /v1/migrations/{migration uuid} -> LiveMigrationJob (X-Auth-Token: command token);
//                       404 itemNotFound when the hypervisor knows no such job
//   GET  /v1/health     -> {"status","host","simulated"} (no auth: for load balancers/probes)
//   GET  /metrics       -> Prometheus' text format (X-Auth-Token: command token, or the
//                       metrics token of --metrics-token-file, which may read nothing else)
// Errors use Nova's body shape: {"<kind>": {"code": N, "message": "..."}}.
//
// A command the agent understood and ran answers 200 with status "done" or "failed" (the
// outcome is data, and it is what a retry with the same id gets back). A request the agent could
// not understand (bad JSON, unknown kind, invalid args) answers 400 and is not remembered.
// A command fenced by an older lease epoch than this agent has seen for its migration answers
// 409 with X-Ferry-Fence: stale and runs nothing (LeaseFences, wire::LeaseFence).
#include <cstddef>
#include <memory>
#include <string>

#include "agent/command_log.hpp"
#include "agent/commands.hpp"
#include "agent/domain_command_order.hpp"
#include "agent/driver.hpp"
#include "agent/lease_fences.hpp"
#include "common/http/server_options.hpp"

namespace ferry::http {
class Server;
struct Request;
struct Response;
struct Admission;
}  // namespace ferry::http

namespace ferry::agent {

// 10,000 remembered command ids: a command is retried within the controller's lease and
// reconciliation window (minutes), while even a full host drain sends a few hundred commands
// (~100 guests x a handful of steps). 10k covers days of history at ~200 B each (~2 MB).
inline constexpr size_t kCommandLogCapacity = 10000;
// 8 worker threads: commands are short and per-host migration concurrency is low (Nova's
// max_concurrent_live_migrations defaults to 1); 8 leaves room for inventory polls and probes.
inline constexpr size_t kServerThreads = 8;
// 1 MiB: a command is well under 1 KiB; anything near this size is garbage, refuse it early.
inline constexpr size_t kMaxCommandBodyBytes = 1 << 20;

struct CommandServerOptions {
  http::ServerOptions http = DefaultHttpOptions();
  size_t body_bytes = kMaxCommandBodyBytes;
  // Where the highest lease epoch per migration is kept (LeaseFences); ferry-agent uses
  // <--state-dir>/lease-epochs. Empty: in memory only (tests).
  std::string lease_epochs_dir;
  // A file whose token may read GET /metrics and nothing else (ReadTokenFile). Empty: only the
  // command token may.
  std::string metrics_token_file;

  static http::ServerOptions DefaultHttpOptions() {
    http::ServerOptions o;
    o.name = "command server";
    o.pool_threads = {static_cast<int>(kServerThreads)};
    return o;
  }
};

class CommandServer {
 public:
  // job_started (optional) is told about every live-migration job a command starts.
  CommandServer(Driver& driver, std::string host, std::string command_token,
                JobStartedFn job_started = nullptr, CommandServerOptions options = {});
  ~CommandServer();
  CommandServer(const CommandServer&) = delete;
  CommandServer& operator=(const CommandServer&) = delete;

  // Binds (port 0 = any free port) and serves on a background thread; returns once accepting.
  // Returns the bound port. Throws ferry::Error when the address cannot be bound.
  int Start(const std::string& address, int port);
  // Stops accepting, finishes in-flight requests, joins. Safe to call twice.
  void Stop();

 private:
  // Before the body: 401 for a request without the command token (only /v1/health is open).
  http::Admission Admit(const http::Request& head) const;
  void Dispatch(const http::Request& req, http::Response& res);
  bool Authorized(const http::Request& req, http::Response* refusal) const;
  void HandleCommand(const http::Request& req, http::Response& res);
  void HandleInventory(http::Response& res);
  void HandleMigration(const std::string& uuid, http::Response& res);
  void HandleHealth(http::Response& res);
  static void HandleMetrics(http::Response& res);
  // GET /metrics: the command token or the metrics token.
  bool MetricsAuthorized(const http::Request& req, http::Response* refusal) const;
  // A fenced command: false (and the answer sent) when it is malformed, stale (409) or its new
  // epoch cannot be recorded (503).
  bool AdmitFence(const wire::Command& cmd, http::Response& res);
  // Runs a command the log has handed to this caller; never leaves the claim dangling.
  void Execute(const wire::Command& cmd, http::Response& res);
  // Execute, unless another create/delete of the same domain runs (202) or the domain was
  // deleted and this is a create (a failed result): see DomainCommandOrder.
  void ExecuteInDomainOrder(const wire::Command& cmd, http::Response& res);

  Driver& driver_;
  const std::string host_;
  const std::string token_;
  std::string metrics_token_;  // "" when none was given
  const bool simulated_;
  const JobStartedFn job_started_;
  const size_t body_bytes_;
  CommandLog log_{kCommandLogCapacity};
  DomainCommandOrder domain_order_;
  LeaseFences fences_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace ferry::agent
