#pragma once
// The agent's HTTP face toward the controller (contract: api/wire/messages.hpp):
//   POST /v1/commands   Command -> CommandResult   (X-Auth-Token: command token)
//   GET  /v1/inventory  -> Inventory               (X-Auth-Token: command token)
//   GET  /v1/migrations/{migration uuid} -> LiveMigrationJob (X-Auth-Token: command token);
//                       404 itemNotFound when the hypervisor knows no such job
//   GET  /v1/health     -> {"status","host","simulated"} (no auth: for load balancers/probes)
// Errors use Nova's body shape: {"<kind>": {"code": N, "message": "..."}}.
//
// A command the agent understood and ran answers 200 with status "done" or "failed" (the
// outcome is data, and it is what a retry with the same id gets back). A request the agent could
// not understand (bad JSON, unknown kind, invalid args) answers 400 and is not remembered.
#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "agent/command_log.hpp"
#include "agent/commands.hpp"
#include "agent/driver.hpp"

namespace ferry::agent {

// 10,000 remembered command ids: a command is retried within the controller's lease and
// reconciliation window (minutes), while even a full host drain sends a few hundred commands
// (~100 guests x a handful of steps). 10k covers days of history at ~200 B each (~2 MB).
inline constexpr size_t kCommandLogCapacity = 10000;
// 8 worker threads: commands are short and per-host migration concurrency is low (Nova's
// max_concurrent_live_migrations defaults to 1); 8 leaves room for inventory polls and probes.
inline constexpr size_t kServerThreads = 8;

class CommandServer {
 public:
  // job_started (optional) is told about every live-migration job a command starts.
  CommandServer(Driver& driver, std::string host, std::string command_token,
                JobStartedFn job_started = nullptr);
  ~CommandServer();
  CommandServer(const CommandServer&) = delete;
  CommandServer& operator=(const CommandServer&) = delete;

  // Binds (port 0 = any free port) and serves on a background thread; returns once accepting.
  // Returns the bound port. Throws ferry::Error when the address cannot be bound.
  int Start(const std::string& address, int port);
  // Stops accepting, finishes in-flight requests, joins. Safe to call twice.
  void Stop();

 private:
  void Route();
  bool Authorized(const httplib::Request& req, httplib::Response& res) const;
  void HandleCommand(const httplib::Request& req, httplib::Response& res);
  void HandleInventory(const httplib::Request& req, httplib::Response& res);
  void HandleMigration(const httplib::Request& req, httplib::Response& res);
  void HandleHealth(const httplib::Request& req, httplib::Response& res);
  // Runs a command the log has handed to this caller; never leaves the claim dangling.
  void Execute(const wire::Command& cmd, httplib::Response& res);

  Driver& driver_;
  const std::string host_;
  const std::string token_;
  const bool simulated_;
  const JobStartedFn job_started_;
  CommandLog log_{kCommandLogCapacity};
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
};

}  // namespace ferry::agent
