// ferry-controller: wiring only.
//   ferry-controller db upgrade|status --db DSN
//   ferry-controller serve --db DSN --listen 127.0.0.1:8774 --tokens FILE ...
#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/tokens.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/api/api_server.hpp"
#include "controller/conductor/host_liveness.hpp"
#include "controller/conductor/host_registry.hpp"
#include "controller/conductor/periodic.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/database.hpp"
#include "controller/store/schema_migrator.hpp"

namespace {

using namespace ferry;
using namespace ferry::controller;

struct ServeOptions {
  std::string dsn;
  std::string listen = "127.0.0.1:8774";       // Nova's compute API port
  std::string tokens_file;
  std::string agent_command_token_file;
  int service_down_time_s = 60;                // Nova's service_down_time default
  int heartbeat_interval_s = 10;               // Nova's report_interval default
  int api_threads = 16;                        // concurrent API connections (keep-alive pins one)
  int db_pool = 8;                             // the API threads share these; 2-core hosts
  int build_workers = 4;                       // server create/delete drivers in parallel
  std::string port_file;
  std::string log_level = "info";
  std::string log_file;
};

std::string ReadSecret(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (!in || !std::getline(in, s) || s.empty()) throw std::runtime_error("cannot read token from " + path);
  return s;
}

std::atomic<api::ApiServer*> g_server{nullptr};

void OnSignal(int) {
  if (auto* s = g_server.load()) s->Stop();
}

int Serve(const ServeOptions& o) {
  auto colon = o.listen.rfind(':');
  const std::string port_text = colon == std::string::npos ? "" : o.listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos || std::stoi(port_text) > 65535) {
    throw std::runtime_error("--listen must be host:port with a port in 0-65535, got '" + o.listen + "'");
  }
  InitLogging("controller", o.log_level, o.log_file);
  store::RequireCurrentSchema(o.dsn);
  auto tokens = TokenTable::LoadFile(o.tokens_file);
  agent_client::AgentClient agents(ReadSecret(o.agent_command_token_file));
  store::Database db(o.dsn, o.db_pool);
  Clock& clock = DefaultClock();
  conductor::HostRegistry registry(db, clock, std::chrono::seconds(o.heartbeat_interval_s));
  conductor::ServerLifecycle lifecycle(db, agents, clock, o.build_workers);
  conductor::HostLiveness liveness(db, clock, std::chrono::seconds(o.service_down_time_s));
  api::Deps deps{db, clock, registry, lifecycle, std::chrono::seconds(o.service_down_time_s)};
  api::ApiServer server(tokens, o.api_threads);
  api::RegisterAllRoutes(server, deps);

  int port = server.Bind(o.listen.substr(0, colon), std::stoi(port_text));
  if (!o.port_file.empty()) std::ofstream(o.port_file) << port << "\n";

  // Check often enough that a host is marked down at most a quarter period late.
  auto check_every = std::chrono::milliseconds(std::max(250, o.service_down_time_s * 1000 / 4));
  conductor::Periodic liveness_task("host-liveness", check_every, [&] { liveness.CheckOnce(); });
  // 10 s: a build or delete interrupted by an unreachable agent is retried this often.
  conductor::Periodic reconcile_task("server-reconcile", std::chrono::seconds(10), [&] { lifecycle.Reconcile(); });
  registry.OnRegistered([&] { reconcile_task.Wake(); });
  lifecycle.Start();
  liveness_task.Start();
  reconcile_task.Start();

  g_server = &server;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  spdlog::info("controller listening address={}:{} service_down_time={}s", o.listen.substr(0, colon), port,
               o.service_down_time_s);
  server.Serve();
  spdlog::info("controller stopping");
  g_server = nullptr;
  reconcile_task.Stop();
  liveness_task.Stop();
  lifecycle.Stop();
  return 0;
}

int DbUpgrade(const std::string& dsn) {
  InitLogging("controller", "info", "");
  auto applied = store::UpgradeSchema(dsn);
  std::cout << (applied.empty() ? "schema is current\n" : "");
  for (const auto& name : applied) std::cout << "applied " << name << "\n";
  return 0;
}

int DbStatus(const std::string& dsn) {
  auto s = store::ReadSchemaStatus(dsn);
  for (const auto& n : s.applied) std::cout << "applied  " << n << "\n";
  for (const auto& n : s.pending) std::cout << "pending  " << n << "\n";
  for (const auto& n : s.edited) std::cout << "EDITED   " << n << " (applied text differs)\n";
  for (const auto& n : s.unknown) std::cout << "unknown  " << n << " (newer than this binary)\n";
  return s.pending.empty() && s.edited.empty() && s.unknown.empty() ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry-controller: moves virtual machines between hypervisor hosts"};
  app.require_subcommand(1);
  app.set_config("--config", "", "TOML/INI file with option values");
  std::string dsn;
  auto* db = app.add_subcommand("db", "schema management");
  db->require_subcommand(1);
  auto* upgrade = db->add_subcommand("upgrade", "apply pending migrations-sql files");
  auto* status = db->add_subcommand("status", "show applied and pending migrations (exit 3 if not current)");
  for (auto* c : {upgrade, status}) c->add_option("--db", dsn, "libpq connection string")->required()->envname("FERRY_DB");

  ServeOptions o;
  auto* serve = app.add_subcommand("serve", "run the API, conductor and liveness checks");
  serve->add_option("--db", o.dsn, "libpq connection string")->required()->envname("FERRY_DB");
  serve->add_option("--listen", o.listen, "host:port (port 0: any free port)")->capture_default_str();
  serve->add_option("--tokens", o.tokens_file, "token file: '<token> <admin|member|agent> [name]' per line")->required();
  serve->add_option("--agent-command-token-file", o.agent_command_token_file,
                    "file holding the token agents require on commands")->required();
  serve->add_option("--service-down-time", o.service_down_time_s, "seconds of heartbeat silence before a host is down")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  serve->add_option("--heartbeat-interval", o.heartbeat_interval_s, "seconds between agent heartbeats (told to agents)")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  serve->add_option("--api-threads", o.api_threads)->check(CLI::Range(2, 1024))->capture_default_str();
  serve->add_option("--db-pool", o.db_pool)->check(CLI::Range(1, 256))->capture_default_str();
  serve->add_option("--port-file", o.port_file, "write the bound port here");
  serve->add_option("--log-level", o.log_level)->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))->capture_default_str();
  serve->add_option("--log-file", o.log_file, "default: stderr");
  CLI11_PARSE(app, argc, argv);
  try {
    if (serve->parsed()) return Serve(o);
    if (upgrade->parsed()) return DbUpgrade(dsn);
    if (status->parsed()) return DbStatus(dsn);
  } catch (const std::exception& e) {
    std::cerr << "ferry-controller: " << e.what() << "\n";
    spdlog::error("fatal: {}", e.what());
    return 1;
  }
  return 2;
}
