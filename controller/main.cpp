// ferry-controller: wiring only.
//   ferry-controller db upgrade|status --db DSN
//   ferry-controller serve --db DSN --listen 127.0.0.1:8774 --tokens FILE ...
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/stop_signals.hpp"
#include "common/token_file.hpp"
#include "common/tokens.hpp"
#include "common/uuid.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/metrics_api.hpp"
#include "controller/auth/keystone_authenticator.hpp"
#include "controller/cold_migration/kind.hpp"
#include "controller/cold_migration/service.hpp"
#include "controller/conductor/host_liveness.hpp"
#include "controller/conductor/host_registry.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/conductor/periodic.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/drains/runner.hpp"
#include "controller/drains/service.hpp"
#include "controller/evacuation/kind.hpp"
#include "controller/evacuation/service.hpp"
#include "controller/live_migration/kind.hpp"
#include "controller/live_migration/progress_ingest.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/moves/engine.hpp"
#include "controller/store/dashboard_store.hpp"
#include "controller/store/database.hpp"
#include "controller/store/schema_migrator.hpp"
#include "controller/web/dashboard.hpp"

namespace {

using namespace ferry;
using namespace ferry::controller;

struct ServeOptions {
  std::string dsn;
  std::string listen = "127.0.0.1:8774";  // Nova's compute API port
  std::string tokens_file;
  std::string agent_command_token_file;
  int service_down_time_s = 60;   // Nova's service_down_time default
  int heartbeat_interval_s = 10;  // Nova's report_interval default
  // 30 s: sim and libvirt create/delete answer well within it; a command still running then is
  // asked again under the same id (the agent answers 202 until it has finished).
  int agent_command_timeout_ms = 30000;
  int max_domains_per_host = conductor::kDefaultMaxDomainsPerHost;  // see its comment
  api::ApiServerOptions http;  // HTTP limits, API and agent worker pools
  store::DatabaseOptions db;   // pool of 8: the API threads share these; 2-core hosts
  int build_workers = 4;       // server create/delete drivers in parallel
  std::string port_file;
  moves::EngineOptions moves;    // every kind of move: leases, workers, slot limits, retries
  live_migration::Options live;  // live migration: destinations tried, policy defaults
  cold_migration::Options cold;  // cold migration and resize
  drains::Options drains;        // host drains
  std::string log_level = "info";
  std::string log_file;
  bool log_journal = false;                // systemd-journald (common/journal_sink.hpp)
  std::string auth = "token-file";         // who may call the API: token-file or keystone
  auth::KeystoneOptions keystone;          // with --auth keystone
  auth::TokenCacheOptions keystone_cache;  // its validation cache
  std::string keystone_password_file;
  api::MetricsOptions metrics;    // /metrics: its cache and what counts as a stuck move
  web::SessionOptions dashboard;  // the built-in dashboard's sessions
};

void AddKeystoneOptions(CLI::App& app, ServeOptions& o) {
  const std::string g = "Keystone (--auth keystone)";
  app.add_option("--auth", o.auth,
                 "who may call the API: token-file (--tokens) or keystone (Keystone's tokens; "
                 "agents still use --tokens)")
      ->check(CLI::IsMember({"token-file", "keystone"}))
      ->capture_default_str();
  app.add_option("--keystone-url", o.keystone.url,
                 "Keystone's v3 root, e.g. http://127.0.0.1:5000/v3")
      ->group(g);
  app.add_option("--keystone-service-user", o.keystone.service_user,
                 "the user the controller validates tokens as (needs Keystone's service role)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--keystone-service-password-file", o.keystone_password_file,
                 "file whose first line is that user's password")
      ->group(g);
  app.add_option("--keystone-service-project", o.keystone.service_project)
      ->capture_default_str()
      ->group(g);
  app.add_option("--keystone-service-domain", o.keystone.service_domain,
                 "domain of the service user and of its project")
      ->capture_default_str()
      ->group(g);
  app.add_option_function<int>(
         "--keystone-cache-seconds",
         [&o](int s) { o.keystone_cache.ttl = std::chrono::seconds(s); },
         "seconds a validated token is trusted without asking Keystone again; a revoked token "
         "works this long (default 300, keystonemiddleware's token_cache_time; 0: no cache)")
      ->check(CLI::Range(0, 86400))
      ->group(g);
  app.add_option("--keystone-cache-entries", o.keystone_cache.max_entries,
                 "validated tokens kept at most; the oldest make room")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str()
      ->group(g);
}

// The authenticator of API callers with --auth keystone; none with the token file.
std::unique_ptr<auth::KeystoneAuthenticator> MakeKeystone(const ServeOptions& o,
                                                          const Clock& clock) {
  if (o.auth != "keystone") return nullptr;
  return auth::KeystoneAuthenticator::FromFlags(o.keystone, o.keystone_password_file,
                                                o.keystone_cache, clock);
}

// Crash tests (tests/integration/*_crash_test): FERRY_TEST_CRASH_AFTER="from>to" makes this
// process die like kill -9 right after it commits that transition, of any kind of move.
template <typename Steps>
void InstallCrashHook(Steps& steps) {
  const char* spec = std::getenv("FERRY_TEST_CRASH_AFTER");
  if (!spec || !*spec) return;
  spdlog::warn("FERRY_TEST_CRASH_AFTER={}: this controller will die after that transition", spec);
  // "from>to" crashes on any event between the two, "from>to:event" on that one only.
  steps.OnTransition([want = std::string(spec)](store::MigrationStatus from,
                                                store::MigrationStatus to,
                                                const std::string& event) {
    const auto edge = fmt::format("{}>{}", from, to);
    if (want == edge || want == edge + ":" + event) _exit(137);
  });
}

// The same for a host drain's own transitions (controller/drains/states.hpp):
// "drain:from>to[:event]" for a drain server's state, "drain-status:from>to[:event]" for the
// drain's status.
drains::TransitionHook DrainCrashHook() {
  const char* spec = std::getenv("FERRY_TEST_CRASH_AFTER");
  if (!spec || !*spec) return nullptr;
  return [want = std::string(spec)](const drains::Transition& t, const std::string&) {
    const auto edge = drains::EdgeName(t);  // "drain:from>to:event"
    if (want == edge || want + ":" + std::string(t.event) == edge) _exit(137);
  };
}

void AddColdMigrationOptions(CLI::App& app, cold_migration::Options& o) {
  const std::string g = "Cold migration and resize";
  app.add_option_function<int64_t>(
         "--resize-confirm-window",
         [&o](int64_t s) { o.resize_confirm_window = std::chrono::seconds(s); },
         "seconds after which a move waiting for confirm (VERIFY_RESIZE) is confirmed "
         "automatically; 0 = never (Nova's resize_confirm_window)")
      ->check(CLI::Range(int64_t{0}, int64_t{365} * 24 * 3600))
      ->group(g);
  app.add_option("--shutdown-timeout", o.shutdown_timeout_s,
                 "seconds a guest has to shut down gracefully before it is destroyed (Nova's "
                 "shutdown_timeout)")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str()
      ->group(g);
  app.add_option("--cold-migration-bandwidth", o.bandwidth_mibps,
                 "MiB/s a cold move's disk copy may use; 0 = unlimited")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str()
      ->group(g);
}

void AddLiveMigrationOptions(CLI::App& app, moves::EngineOptions& m, live_migration::Options& o) {
  const std::string g = "Live migration";
  auto range = [](int lo, int hi) { return CLI::Range(lo, hi); };
  app.add_option("--max-concurrent-live-migrations", m.limits.max_outbound_per_host,
                 "outbound live migrations per host at once (Nova's default 1)")
      ->check(range(1, 1000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-inbound-live-migrations", m.limits.max_inbound_per_host,
                 "inbound live migrations per host at once")
      ->check(range(1, 1000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-cluster-live-migrations", m.limits.max_total,
                 "live migrations in the whole cluster at once (0: no limit)")
      ->check(range(0, 100000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--migrate-max-retries", o.migrate_max_retries,
                 "destinations tried after failed pre-checks (-1: until out of hosts)")
      ->check(range(-1, 1000))
      ->capture_default_str()
      ->group(g);
  app.add_option_function<int>(
         "--live-migration-lease", [&m](int s) { m.lease = std::chrono::seconds(s); },
         "seconds a crashed controller's migrations wait before another takes them (default 15)")
      ->check(range(2, 3600))
      ->group(g);
  app.add_option_function<int>(
         "--live-migration-tick-ms", [&m](int ms) { m.tick = std::chrono::milliseconds(ms); },
         "how often leases are renewed and migrations looked at (default 1000)")
      ->check(range(50, 60000))
      ->group(g);
  app.add_option("--live-migration-workers", m.workers)
      ->check(range(1, 256))
      ->capture_default_str()
      ->group(g);
  app.add_option("--step-retry-budget", m.step_retry_budget,
                 "failures in a row of one move's step before the move ends in error")
      ->check(range(1, 100000))
      ->capture_default_str()
      ->group(g);
  app.add_option_function<int>(
         "--step-retry-window", [&m](int s) { m.step_retry_window = std::chrono::seconds(s); },
         "seconds the failures of a move's step must span before it is given up (default 60)")
      ->check(range(0, 86400))
      ->group(g);
  auto& p = o.policy;
  app.add_option("--live-migration-completion-timeout", p.completion_timeout_per_gib_s,
                 "seconds per GiB of memory (+ copied disk), each at least 2 GiB; 0: none")
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-timeout-action", p.timeout_action)
      ->check(CLI::IsMember({"abort", "force_complete"}))
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-progress-timeout", p.progress_timeout_s,
                 "seconds without a new low of data remaining before the timeout action; 0: off")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--live-migration-permit-post-copy", p.permit_post_copy)->group(g);
  app.add_flag("--live-migration-permit-auto-converge", p.permit_auto_converge)->group(g);
  app.add_option("--live-migration-bandwidth", p.bandwidth_mibps,
                 "MiB/s, always sent to the hypervisor")
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-downtime", p.max_downtime_ms, "max downtime in ms (min 100)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-downtime-steps", p.downtime_steps)
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-downtime-delay", p.downtime_delay_s,
                 "seconds per GiB between steps")
      ->capture_default_str()
      ->group(g);
  app.add_option("--live-migration-monitor-interval", p.monitor_interval_s,
                 "seconds between progress reports from agents (Nova's default 5)")
      ->capture_default_str()
      ->group(g);
}

void AddHttpOptions(CLI::App& app, api::ApiServerOptions& o) {
  const std::string g = "HTTP limits";
  app.add_option("--api-threads", o.api_threads, "worker threads for API requests")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str()
      ->group(g);
  app.add_option("--agent-api-threads", o.agent_threads,
                 "worker threads for /agent/v1 (heartbeats, progress), apart from the API's")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-body-bytes", o.body_bytes, "largest API request body (413 beyond)")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-agent-body-bytes", o.agent_body_bytes,
                 "largest /agent/v1 request body (a heartbeat carries the inventory)")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-header-bytes", o.http.max_header_bytes,
                 "request line and headers together (431 beyond)")
      ->check(CLI::Range(1024, 1 << 20))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-connections", o.http.max_connections,
                 "open connections in all; beyond, the oldest one waiting for a request is closed")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-connections-per-peer", o.http.max_connections_per_peer,
                 "open connections from one address")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str()
      ->group(g);
  app.add_option_function<int>(
         "--header-timeout", [&o](int s) { o.http.header_timeout = std::chrono::seconds(s); },
         "seconds to send a request's line and headers (default 10)")
      ->check(CLI::Range(1, 3600))
      ->group(g);
}

// 4: heartbeats and registrations are one short transaction per agent every heartbeat
// interval (10 s); 4 connections carry hundreds of agents and leave the API's pool alone.
constexpr int kAgentPoolSize = 4;

store::DatabaseOptions WithPoolSize(store::DatabaseOptions options, int pool_size,
                                    const char* name) {
  options.pool_size = pool_size;
  options.name = name;  // ferry_db_pool_wait_seconds{pool=...}
  return options;
}

void AddDatabaseOptions(CLI::App& serve, store::DatabaseOptions& d) {
  const char* g = "PostgreSQL";
  auto ms = [](std::chrono::milliseconds& out) {
    return [&out](int v) { out = std::chrono::milliseconds(v); };
  };
  serve.add_option("--db-pool", d.pool_size)
      ->check(CLI::Range(1, 256))
      ->capture_default_str()
      ->group(g);
  serve
      .add_option_function<int>("--db-acquire-timeout-ms", ms(d.acquire_timeout),
                                "wait for a pooled connection, then 503 (default 5000)")
      ->check(CLI::Range(1, 600000))
      ->group(g);
  serve.add_option("--db-connect-timeout", d.session.connect_timeout_s, "seconds")
      ->check(CLI::Range(2, 600))
      ->capture_default_str()
      ->group(g);
  serve
      .add_option_function<int>("--db-statement-timeout-ms", ms(d.session.statement_timeout),
                                "default 10000; 0 disables")
      ->check(CLI::Range(0, 86400000))
      ->group(g);
  serve
      .add_option_function<int>("--db-lock-timeout-ms", ms(d.session.lock_timeout),
                                "default 5000; 0 disables")
      ->check(CLI::Range(0, 86400000))
      ->group(g);
  serve
      .add_option_function<int>("--db-idle-in-transaction-timeout-ms",
                                ms(d.session.idle_in_transaction_timeout),
                                "default 60000; 0 disables")
      ->check(CLI::Range(0, 86400000))
      ->group(g);
  serve.add_option("--db-keepalives-idle", d.session.keepalives_idle_s, "seconds")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str()
      ->group(g);
  serve.add_option("--db-keepalives-interval", d.session.keepalives_interval_s, "seconds")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str()
      ->group(g);
  serve.add_option("--db-keepalives-count", d.session.keepalives_count)
      ->check(CLI::Range(1, 100))
      ->capture_default_str()
      ->group(g);
}

int Serve(const ServeOptions& o) {
  // Before any thread starts, so that every thread inherits the mask.
  sigset_t stop_signals = BlockStopSignals();
  auto colon = o.listen.rfind(':');
  const std::string port_text = colon == std::string::npos ? "" : o.listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    throw std::runtime_error("--listen must be host:port with a port in 0-65535, got '" + o.listen +
                             "'");
  }
  InitLogging("controller", o.log_level, o.log_file, o.log_journal);
  store::RequireCurrentSchema(o.dsn);
  auto tokens = TokenTable::LoadFile(o.tokens_file);
  agent_client::HttpAgentClient agents(ReadTokenFile(o.agent_command_token_file),
                                       std::chrono::milliseconds(o.agent_command_timeout_ms));
  store::Database db(o.dsn, o.db);
  // Pools of their own, so a starved shared pool cannot stop heartbeats from landing, hosts
  // from being judged, or this controller's leases from being renewed.
  store::Database agent_db(o.dsn, WithPoolSize(o.db, kAgentPoolSize, "agents"));
  store::Database liveness_db(o.dsn, WithPoolSize(o.db, 1, "liveness"));
  store::Database lease_db(o.dsn, WithPoolSize(o.db, 1, "leases"));
  // /metrics reads the database through one connection of its own: scrapes never wait for,
  // nor take, the API's connections.
  // A scrape waits at most 1 s for it (only one refresh runs at a time; others answer the last
  // values), so a slow database cannot hold API workers through /metrics.
  store::DatabaseOptions metrics_db_options = WithPoolSize(o.db, 1, "metrics");
  metrics_db_options.acquire_timeout = std::chrono::seconds(1);
  store::Database metrics_db(o.dsn, metrics_db_options);
  Clock& clock = DefaultClock();
  conductor::HostRegistry registry(agent_db, clock, std::chrono::seconds(o.heartbeat_interval_s),
                                   o.max_domains_per_host);
  // One in-memory view of every host for all placements (new servers and live migrations).
  conductor::HostSnapshot host_snapshot(db, clock);
  conductor::ServerLifecycle lifecycle(db, agents, clock, o.build_workers, host_snapshot);
  conductor::HostLiveness liveness(liveness_db, clock, std::chrono::seconds(o.service_down_time_s));

  live_migration::Validate(o.live.policy);
  // Leases are renewed once half has run out (store::RenewLeases), on a tick.
  if (o.moves.tick * 4 > o.moves.lease) {
    throw std::runtime_error(
        "--live-migration-tick-ms must be at most a quarter of --live-migration-lease");
  }
  auto move_options = o.moves;
  auto live_options = o.live;
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  // Unique per process: a restarted controller must not resume leases it held before the crash
  // without waiting for them to expire, or two incarnations could overlap.
  move_options.owner =
      std::string(hostname) + ":" + std::to_string(getpid()) + ":" + NewUuid().substr(0, 8);
  // Fencing test (tests/integration/live_migration_fencing_test):
  // FERRY_TEST_PAUSE_BEFORE_SEND=[check:]<kind> makes this process SIGSTOP itself right before
  // it sends that live-migration command (or before its lease check).
  if (const char* pause = std::getenv("FERRY_TEST_PAUSE_BEFORE_SEND")) {
    live_options.test_pause_before_send = pause;
  }
  scheduler::Scheduler live_scheduler;
  moves::StatusWaiters status_waiters;
  live_migration::Context live_ctx{
      db, agents, clock, live_scheduler, host_snapshot, move_options, live_options, status_waiters};
  moves::Engine engine(move_options, db, lease_db);
  live_migration::Kind live_migrations(live_ctx);
  engine.AddKind(live_migrations);
  live_migrations.steps().OnClaimsChanged(
      [&host_snapshot](int64_t host_id) { host_snapshot.MarkDirty(host_id); });
  InstallCrashHook(live_migrations.steps());
  live_migration::Service live_service(live_ctx, engine);
  auto cold_options = o.cold;
  cold_options.test_pause_before_send = live_options.test_pause_before_send;
  cold_options.monitor_interval_s = live_options.policy.monitor_interval_s;
  cold_migration::Context cold_ctx{
      db, agents, clock, live_scheduler, host_snapshot, move_options, cold_options, status_waiters};
  cold_migration::Steps cold_steps(cold_ctx);
  cold_migration::Kind cold_migrations(cold_ctx, cold_steps, store::ColdType::kMigration);
  cold_migration::Kind resizes(cold_ctx, cold_steps, store::ColdType::kResize);
  engine.AddKind(cold_migrations);
  engine.AddKind(resizes);
  cold_steps.OnClaimsChanged(
      [&host_snapshot](int64_t host_id) { host_snapshot.MarkDirty(host_id); });
  InstallCrashHook(cold_steps);
  cold_migration::Service cold_service(cold_ctx, engine);
  evacuation::Context evacuation_ctx{db,
                                     agents,
                                     clock,
                                     live_scheduler,
                                     host_snapshot,
                                     move_options,
                                     status_waiters,
                                     live_options.test_pause_before_send};
  evacuation::Steps evacuation_steps(evacuation_ctx);
  evacuation::Kind evacuations(evacuation_ctx, evacuation_steps);
  engine.AddKind(evacuations);
  evacuation_steps.OnClaimsChanged(
      [&host_snapshot](int64_t host_id) { host_snapshot.MarkDirty(host_id); });
  InstallCrashHook(evacuation_steps);
  evacuation::Service evacuation_service(evacuation_ctx, engine);
  auto drain_options = o.drains;
  drain_options.live_cap_mibps = static_cast<double>(o.live.policy.bandwidth_mibps);
  drain_options.cold_cap_mibps = static_cast<double>(o.cold.bandwidth_mibps);
  drains::Context drain_ctx{db, clock, live_scheduler, host_snapshot, move_options, drain_options};
  drains::Service drain_service(drain_ctx);
  drains::Runner drain_runner(drain_ctx, live_service, cold_service, evacuation_service);
  drain_service.OnTransition(DrainCrashHook());
  drain_runner.OnTransition(DrainCrashHook());
  live_migration::ProgressIngest progress(
      db, [&engine](const store::MoveRef& move) { engine.Wake(move); });
  api::Deps deps{db,
                 clock,
                 registry,
                 lifecycle,
                 std::chrono::seconds(o.service_down_time_s),
                 live_service,
                 progress,
                 cold_service,
                 evacuation_service,
                 drain_service};
  auto keystone = MakeKeystone(o, clock);
  const Authenticator& users = keystone ? static_cast<const Authenticator&>(*keystone) : tokens;
  api::ApiServer server(users, tokens, o.http);
  api::RegisterAllRoutes(server, deps);
  api::RegisterMetricsRoutes(server, metrics_db, clock, o.metrics);
  // The dashboard's session lookups and view reads, and its sessions' writes, on connections of
  // their own: a flood of made-up session cookies (or of logins) cannot take the API's.
  store::Database dashboard_db(o.dsn, store::DashboardReadPool(o.db));
  store::Database dashboard_kept_plan_db(o.dsn, store::DashboardKeptPlanPool(o.db));
  store::Database dashboard_session_db(o.dsn, store::DashboardSessionPool(o.db));
  web::Sessions dashboard_sessions(dashboard_db, dashboard_session_db, o.dashboard);
  web::CountRefresher dashboard_counts;
  web::RegisterDashboardRoutes(server, {dashboard_db, dashboard_kept_plan_db, users, tokens,
                                        dashboard_sessions, dashboard_counts});

  int port = server.Bind(o.listen.substr(0, colon), std::stoi(port_text));
  if (!o.port_file.empty()) std::ofstream(o.port_file) << port << "\n";

  // Check often enough that a host is marked down at most a quarter period late.
  auto check_every = std::chrono::milliseconds(std::max(250, o.service_down_time_s * 1000 / 4));
  conductor::Periodic liveness_task("host-liveness", check_every, [&] { liveness.CheckOnce(); });
  // 10 s: a build or delete interrupted by an unreachable agent is retried this often.
  conductor::Periodic reconcile_task("server-reconcile", std::chrono::seconds(10),
                                     [&] { lifecycle.Reconcile(); });
  // 1 s: claims, heartbeats and host rows changed by anyone (another controller included)
  // reach the scheduler's view within a second; this process's own claims mark hosts at once.
  conductor::Periodic snapshot_task("host-snapshot", std::chrono::seconds(1),
                                    [&] { host_snapshot.Tick(); });
  registry.OnRegistered([&] {
    reconcile_task.Wake();
    snapshot_task.Wake();  // a new host is a destination at once
  });
  lifecycle.Start();
  progress.Start();
  engine.Start();
  status_waiters.OnEveryChange([&drain_runner] { drain_runner.Poke(); });
  drain_service.OnChanged([&drain_runner] { drain_runner.Poke(); });
  drain_runner.Start();
  liveness_task.Start();
  reconcile_task.Start();
  snapshot_task.Start();
  // 250 ms: an eighth of the dashboard's 2 s poll; a look at a count that is not due is a lock.
  conductor::Periodic dashboard_counts_task("dashboard-counts", std::chrono::milliseconds(250),
                                            [&] { dashboard_counts.RefreshDue(); });
  dashboard_counts_task.Start();

  std::thread signal_waiter([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("controller got signal={}", signal);
    server.Stop();
  });
  spdlog::info("controller listening address={}:{} service_down_time={}s auth={}",
               o.listen.substr(0, colon), port, o.service_down_time_s, o.auth);
  server.Serve();
  signal_waiter.join();  // Serve returns only after Stop(), which only signal_waiter calls
  spdlog::info("controller stopping");
  snapshot_task.Stop();
  reconcile_task.Stop();
  liveness_task.Stop();
  drain_runner.Stop();
  engine.Stop();
  status_waiters.OnEveryChange(nullptr);
  progress.Stop();
  lifecycle.Stop();
  dashboard_counts_task.Stop();  // last: a read during an outage waits out its pool's timeouts
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
  auto* status =
      db->add_subcommand("status", "show applied and pending migrations (exit 3 if not current)");
  for (auto* c : {upgrade, status})
    c->add_option("--db", dsn, "libpq connection string")->required()->envname("FERRY_DB");

  ServeOptions o;
  auto* serve = app.add_subcommand("serve", "run the API, conductor and liveness checks");
  serve->add_option("--db", o.dsn, "libpq connection string")->required()->envname("FERRY_DB");
  serve->add_option("--listen", o.listen, "host:port (port 0: any free port)")
      ->capture_default_str();
  serve
      ->add_option("--tokens", o.tokens_file,
                   "token file: '<token> <admin|member|agent> [name]' per line")
      ->required();
  serve
      ->add_option("--agent-command-token-file", o.agent_command_token_file,
                   "file holding the token agents require on commands")
      ->required();
  serve
      ->add_option("--service-down-time", o.service_down_time_s,
                   "seconds of heartbeat silence before a host is down")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve
      ->add_option("--heartbeat-interval", o.heartbeat_interval_s,
                   "seconds between agent heartbeats (told to agents)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve
      ->add_option("--agent-command-timeout-ms", o.agent_command_timeout_ms,
                   "how long the controller waits for one agent command's answer before it "
                   "asks again later under the same command id")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  serve
      ->add_option("--max-domains-per-host", o.max_domains_per_host,
                   "domains one registration or heartbeat may report; more gets 400")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  AddHttpOptions(*serve, o.http);
  AddKeystoneOptions(*serve, o);
  AddDatabaseOptions(*serve, o.db);
  serve->add_option("--port-file", o.port_file, "write the bound port here");
  AddLiveMigrationOptions(*serve, o.moves, o.live);
  AddColdMigrationOptions(*serve, o.cold);
  serve
      ->add_option("--migration-link-mibps", o.drains.link_mibps,
                   "MiB/s a move's bytes travel at, for drain plans' predictions and ETAs")
      ->check(CLI::Range(1.0, 1e6))
      ->group("Host drains");
  serve
      ->add_option_function<int64_t>(
          "--drain-busy-wait", [&o](int64_t s) { o.drains.busy_wait = std::chrono::seconds(s); },
          "seconds a drain waits for a server busy with a task of its own (default 3600) before "
          "its move is asked for anyway (and refused while the task lasts)")
      ->check(CLI::Range(int64_t{0}, int64_t{7} * 24 * 3600))
      ->group("Host drains");
  serve
      ->add_option_function<int>(
          "--dashboard-session-idle", [&o](int s) { o.dashboard.idle = std::chrono::seconds(s); },
          "seconds without a request that end a dashboard session (default 1800)")
      ->check(CLI::Range(60, 86400))
      ->group("Dashboard");
  serve
      ->add_option_function<int>(
          "--dashboard-session-lifetime",
          [&o](int s) { o.dashboard.lifetime = std::chrono::seconds(s); },
          "seconds after login that end a dashboard session in any case (default 43200)")
      ->check(CLI::Range(60, 30 * 86400))
      ->group("Dashboard");
  serve
      ->add_flag("--dashboard-secure-cookie", o.dashboard.secure_cookie,
                 "mark the session cookie Secure (behind a TLS proxy that sends no "
                 "X-Forwarded-Proto: https)")
      ->group("Dashboard");
  serve
      ->add_option_function<int>(
          "--metrics-stuck-after",
          [&o](int s) { o.metrics.query.stuck_after = std::chrono::seconds(s); },
          "seconds without a status change or progress report after which /metrics counts a "
          "move as stuck (default 3600)")
      ->check(CLI::Range(60, 7 * 86400))
      ->group("Metrics");
  serve->add_option("--log-level", o.log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->add_option("--log-file", o.log_file, "default: stderr");
  serve->add_flag("--log-journal", o.log_journal,
                  "log to systemd-journald's native socket, key=value pairs as fields of their "
                  "own (the systemd unit sets it; --log-file is then ignored)");
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
