// API latency under load (issue 14, P4; performance.md G4): the same requests timed on an idle
// controller (phase A) and while 10,000 running live migrations post progress at the real rate
// (phase B), in one run against one real controller process and its PostgreSQL:
//   - GET /v2.1/servers/{id} (a random one of the seeded servers each time),
//   - GET /v2.1/servers/detail?limit=100 and GET /v2.1/os-migrations?limit=100 (2.80),
//   - POST /v2.1/servers/{id}/action os-migrateLive (2.80, host given) of a server on a real sim
//     agent: the request's full write (server task_state CAS, the migration row and its first
//     event) answered 202; the move then runs on the sim agents after the answer,
//   - the dashboard's view queries (migrations-sql/0014_dashboard_views.sql) as SQL from a
//     persistent connection, as Grafana sends them: v_migrations_in_progress (100 rows),
//     v_host_load (the first 100 by name, one host; and, printed without a target, every host
//     summed for the 100 busiest), v_migration_history (the last 50), v_host_drain_status (the
//     last 100 drains),
//   - the same views through the built-in dashboard's JSON endpoints (GET /dashboard/api/moves,
//     hosts, history, drains) with an admin's session cookie, when the controller serves them.
// Both phases hold the same data: the 10,000 running migrations (leased by the bench, so the
// controller's engine leaves them alone, as progress_ingest_bench does) and their servers on
// 1,250 hosts, as many idle servers, 200,000 finished migrations and 200 finished drains, all
// seeded in SQL before phase A. Phase A: no agent traffic. Phase B: load generator threads post
// every host's reports every 5 s (per-host batches of 8: 1,250 POSTs/5 s = 2,000 rows/s) through
// POST /agent/v1/migration-progress, spread evenly over the period as agents would be; the rows
// actually accepted per second are printed and checked against what landed in the database.
// The measured requests go one after another from one keep-alive client, in rounds (every
// request once per round, os-migrateLive every second round, the whole-fleet v_host_load every
// tenth), one round per 100 ms at most.
//
// Targets (loaded p99): GET one server <= 5 ms, a list page <= 20 ms, os-migrateLive <= 30 ms,
// dashboard queries <= 20 ms. Full mode exits 1 when a loaded p99 misses its target, when the
// generator did not reach 95 % of its rate, or when a request failed. --quick (ctest, label
// bench: 1,000 migrations at 200 rows/s, 8 s phases) asserts sanity only: every request
// answered as expected, every view present, the generator at >= 90 % of its rate and every
// accepted report in the database; its latencies and PASS/FAIL are printed, not asserted (this
// 2-core box runs the controller, PostgreSQL, the sim agents and the load generator at once,
// beside whatever else ctest runs).
//
// Run: FERRY_TEST_PG_DIR=<deploy/pg dir> api_latency_bench [--quick] [--migrations N]
//        [--seconds S] [--threads T]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "tests/bench/progress_body.hpp"
#include "tests/support/stack.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::testing::Stack;

constexpr int kPerHost = 8;                  // running migrations per source host = one batch
constexpr int64_t kMemoryTotal = 8LL << 30;  // the seeded guests: 8 GiB
constexpr int64_t kStep = 1 << 20;           // each report copies 1 MiB more
constexpr double kPeriodS = 5;               // Nova's live_migration monitor interval
const char* kOwner = "api-latency-bench";    // the seeded migrations' lease holder
const char* kMicroversion = "compute 2.80";

struct Settings {
  bool quick = false;
  int migrations = 10000;
  int seconds = 60;      // each phase
  int threads = 16;      // load generator threads (agent connections)
  int history = 200000;  // finished migrations
  int drains = 200;      // finished drains of 16 servers each
  int pool = 40;         // servers on the two sim agents, for os-migrateLive
  int hosts() const { return migrations / kPerHost; }
  double rate() const { return migrations / kPeriodS; }  // rows/s the generator must post
};

std::string HostName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "bench-host-%05d", i);
  return buf;
}

// ---- seeding (SQL) ----

struct Seeded {
  std::vector<std::string> servers;  // every seeded server's uuid (GET one server)
  // per source host (index = host number): its running migrations' uuids
  std::vector<std::vector<std::string>> by_host;
};

Seeded Seed(const std::string& dsn, const Settings& s) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec("SET LOCAL synchronous_commit = off");
  const int hosts = s.hosts();
  // Hosts as a sim agent registers them (hypervisor ferry-sim, simulated), up: their heartbeat
  // is now and the controller's --service-down-time is an hour (heartbeats are not part of the
  // measured load; agent_url is empty: the controller sends these hosts nothing).
  w.exec_params(R"sql(
    INSERT INTO hosts (service_uuid, node_uuid, name, hypervisor_type, hypervisor_version,
                       simulated, host_ip, state, last_heartbeat_at, vcpus, memory_mb, local_gb)
    SELECT gen_random_uuid(), gen_random_uuid(), 'bench-host-' || lpad(g::text, 5, '0'),
           'ferry-sim', 1000000, true, '10.0.' || (g / 250) || '.' || (g % 250), 'up', now(),
           64, 262144, 4000
    FROM generate_series(0, $1 - 1) g)sql",
                hosts);
  // 2N servers: the first N migrating (8 per host), N idle (8 per host); a tenth in the admin's
  // project (the list page), the rest in 49 others.
  w.exec_params(R"sql(
    INSERT INTO servers (uuid, name, host_id, node, flavor_id, flavorid, flavor_name, vcpus,
                         memory_mb, root_gb, vm_state, task_state, power_state,
                         availability_zone, user_id, project_id, created_at, updated_at,
                         launched_at, hostname, image_ref)
    SELECT gen_random_uuid(), 'bench-vm-' || g, h.id, h.name,
           (SELECT id FROM flavors WHERE flavorid = 'bench-8g'), 'bench-8g', 'bench-8g', 2,
           8192, 20, 'active', CASE WHEN g < $1 THEN 'migrating' END, 1, 'nova',
           'user-' || (g % 200),
           CASE WHEN g % 10 = 0 THEN 'admin' ELSE 'project-' || (g % 49) END,
           now() - g * interval '1 minute', now(), now() - g * interval '1 minute',
           'bench-vm-' || g, 'cirros'
    FROM generate_series(0, 2 * $1 - 1) g
    JOIN hosts h ON h.name = 'bench-host-' || lpad(((g % $1) / 8)::text, 5, '0'))sql",
                s.migrations);
  // One running live migration per migrating server, to the next host, started within the
  // last 10 minutes, leased by the bench for two hours.
  w.exec_params(R"sql(
    INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                            source_node, dest_compute, dest_node, dest_host, memory_total,
                            memory_processed, memory_remaining, disk_total, disk_processed,
                            disk_remaining, user_id, project_id, created_at, updated_at,
                            started_at, job_state, job_phase, block_migration, lease_owner,
                            lease_until)
    SELECT gen_random_uuid(), s.uuid, 'live-migration', 'running', h.name, h.name, d.name, d.name,
           d.host_ip, $2, 0, $2, 0, 0, 0, 'admin', s.project_id,
           now() - (s.id % 600) * interval '1 second', now(),
           now() - (s.id % 600) * interval '1 second' + interval '1 second', 'running', 'precopy',
           'auto', $3, now() + interval '2 hours'
    FROM servers s JOIN hosts h ON h.id = s.host_id
    JOIN hosts d ON d.name = 'bench-host-' || lpad(((substr(h.name, 12)::int + 1) % $1)::text, 5, '0')
    WHERE s.task_state = 'migrating' AND s.name LIKE 'bench-vm-%')sql",
                hosts, kMemoryTotal, kOwner);
  // Claims: every server's on its host, every running migration's on its destination.
  w.exec(R"sql(
    INSERT INTO claims (consumer_uuid, host_id, resource, amount)
    SELECT s.uuid, s.host_id, r.resource, r.amount
    FROM servers s, (VALUES ('VCPU', 2), ('MEMORY_MB', 8192), ('DISK_GB', 20)) r(resource, amount)
    WHERE s.name LIKE 'bench-vm-%')sql");
  w.exec_params(R"sql(
    INSERT INTO claims (consumer_uuid, host_id, resource, amount)
    SELECT m.uuid, d.id, r.resource, r.amount
    FROM migrations m JOIN hosts d ON d.name = m.dest_compute,
         (VALUES ('VCPU', 2), ('MEMORY_MB', 8192), ('DISK_GB', 20)) r(resource, amount)
    WHERE m.lease_owner = $1)sql",
                kOwner);
  // History: finished moves, one every 10 s back from now; 1 % in error, 0.5 % cancelled.
  w.exec_params(R"sql(
    INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                            source_node, dest_compute, dest_node, memory_total, memory_processed,
                            memory_remaining, disk_total, disk_processed, disk_remaining,
                            downtime_ms, user_id, project_id, created_at, updated_at, started_at,
                            finished_at, error_reason, block_migration)
    SELECT gen_random_uuid(), gen_random_uuid(),
           CASE WHEN g % 5 = 0 THEN 'migration' ELSE 'live-migration' END,
           CASE WHEN g % 100 = 0 THEN 'error' WHEN g % 200 = 1 THEN 'cancelled'
                WHEN g % 5 = 0 THEN 'confirmed' ELSE 'completed' END,
           'bench-host-' || lpad((g % $2)::text, 5, '0'), 'bench-host-' || lpad((g % $2)::text, 5, '0'),
           'bench-host-' || lpad(((g * 7) % $2)::text, 5, '0'),
           'bench-host-' || lpad(((g * 7) % $2)::text, 5, '0'),
           $3, $3, 0, 0, 0, 0, 20 + g % 300, 'admin', 'project-' || (g % 49),
           now() - interval '1 hour' - g * interval '10 seconds',
           now() - interval '1 hour' - g * interval '10 seconds' + interval '150 seconds',
           now() - interval '1 hour' - g * interval '10 seconds' + interval '2 seconds',
           now() - interval '1 hour' - g * interval '10 seconds' + interval '150 seconds',
           CASE WHEN g % 100 = 0 THEN 'pre-check failed: not enough memory' END, 'auto'
    FROM generate_series(1, $1) g)sql",
                s.history, hosts, kMemoryTotal);
  // Finished drains (done), 16 servers each, all moved.
  w.exec_params(R"sql(
    WITH d AS (
      INSERT INTO drains (uuid, host, mode, status, max_parallel, plan, user_id, project_id,
                          created_at, updated_at, finished_at)
      SELECT gen_random_uuid(), 'bench-host-' || lpad((g % $2)::text, 5, '0'), 'live', 'done', 2,
             '[]'::jsonb, 'admin', 'admin', now() - g * interval '1 hour',
             now() - g * interval '1 hour' + interval '20 minutes',
             now() - g * interval '1 hour' + interval '20 minutes'
      FROM generate_series(1, $1) g
      RETURNING id, host, created_at)
    INSERT INTO drain_servers (drain_id, server_uuid, name, position, kind, planned_dest, state,
                               bytes, predicted_seconds, migration_uuid, attempts, dest,
                               started_at, finished_at)
    SELECT d.id, gen_random_uuid(), 'drained-' || d.id || '-' || p, p, 'live', 'bench-host-00000',
           'moved', $3, 64, gen_random_uuid(), 1, 'bench-host-00000',
           d.created_at + p * interval '1 minute', d.created_at + (p + 1) * interval '1 minute'
    FROM d, generate_series(0, 15) p)sql",
                s.drains, hosts, kMemoryTotal);
  Seeded out;
  out.by_host.resize(hosts);
  for (const auto& r :
       w.exec_params("SELECT uuid::text, substr(source_compute, 12)::int FROM migrations "
                     "WHERE lease_owner = $1 ORDER BY source_compute, uuid",
                     kOwner)) {
    out.by_host[r[1].as<int>()].push_back(r[0].as<std::string>());
  }
  for (const auto& r : w.exec("SELECT uuid::text FROM servers WHERE name LIKE 'bench-vm-%'"))
    out.servers.push_back(r[0].as<std::string>());
  w.commit();
  pqxx::nontransaction n(c);
  // As autovacuum would after a bulk load (only these tables: ctest runs other benches' schemas
  // in the same database).
  n.exec("VACUUM ANALYZE hosts, servers, migrations, claims, drains, drain_servers");
  return out;
}

// ---- the load generator: agents posting progress ----

using ferry::bench::AppendBody;  // tests/bench/progress_body.hpp

ferry::wire::LiveMigrationJob Report(const std::string& uuid, int64_t processed) {
  ferry::wire::LiveMigrationJob j;
  j.migration_uuid = uuid;
  j.state = "running";
  j.phase = "precopy";
  j.iteration = 1;
  j.memory_total = kMemoryTotal;
  j.memory_processed = processed;
  j.memory_remaining = kMemoryTotal - processed;
  j.transfer_rate_bps = 1LL << 30;
  j.sampled_at =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return j;
}

bool CheckBody() {
  ferry::wire::MigrationProgressBatch b{HostName(3), {}};
  b.reports = {Report("4f1c1f43-5f0e-4a43-9d55-0b7d1a3b1f10", 5 * kStep),
               Report("4f1c1f43-5f0e-4a43-9d55-0b7d1a3b1f11", 6 * kStep)};
  std::string body;
  AppendBody(body, b);
  return nlohmann::json::parse(body) == nlohmann::json(b);
}

class Generator {
 public:
  Generator(const Stack& stack, const Seeded& seeded, int threads)
      : stack_(stack), seeded_(seeded), threads_(threads) {
    processed_.resize(seeded.by_host.size());
    for (size_t h = 0; h < seeded.by_host.size(); ++h)
      processed_[h].assign(seeded.by_host[h].size(), 0);
  }
  ~Generator() { Stop(); }

  void Start() {
    start_ = Clock::now();
    for (int t = 0; t < threads_; ++t) pool_.emplace_back([this, t] { Run(t); });
  }
  void Stop() {
    stop_ = true;
    for (auto& t : pool_) t.join();
    pool_.clear();
  }
  int64_t acked() const { return acked_; }
  int64_t failed() const { return failed_; }
  double max_late_ms() const { return max_late_us_ / 1000.0; }
  std::string first_error() {
    std::lock_guard lock(mu_);
    return first_error_;
  }
  std::vector<double> post_ms() {
    std::lock_guard lock(mu_);
    return post_ms_;
  }
  // Every seeded migration's last acknowledged memory_processed (after Stop).
  const std::vector<std::vector<int64_t>>& processed() const { return processed_; }

 private:
  // Thread t is the agent of hosts t, t + threads, ...; host h posts at h/hosts of the period,
  // then every period: the posts spread evenly over time, as independent agents' would.
  void Run(int t) {
    httplib::Client cli(stack_.url());
    cli.set_keep_alive(true);
    cli.set_tcp_nodelay(true);
    const httplib::Headers headers = {{"X-Auth-Token", ferry::testing::kAgentToken}};
    const int hosts = static_cast<int>(seeded_.by_host.size());
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kPeriodS));
    std::string body;
    std::vector<double> mine;
    for (int64_t k = 0; !stop_; ++k) {
      for (int h = t; h < hosts && !stop_; h += threads_) {
        const auto due = start_ + k * period + period * h / hosts;
        while (!stop_ && Clock::now() < due) {
          std::this_thread::sleep_for(
              std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(100)));
        }
        if (stop_) break;
        const auto sent = Clock::now();
        const int64_t late =
            std::chrono::duration_cast<std::chrono::microseconds>(sent - due).count();
        int64_t seen = max_late_us_;
        while (late > seen && !max_late_us_.compare_exchange_weak(seen, late)) {
        }
        ferry::wire::MigrationProgressBatch batch{HostName(h), {}};
        const auto& uuids = seeded_.by_host[h];
        for (size_t i = 0; i < uuids.size(); ++i)
          batch.reports.push_back(Report(uuids[i], processed_[h][i] + kStep));
        body.clear();
        AppendBody(body, batch);
        auto r = cli.Post("/agent/v1/migration-progress", headers, body, "application/json");
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (!r || r->status / 100 != 2) {
          ++failed_;
          std::lock_guard lock(mu_);
          if (first_error_.empty()) {
            first_error_ = r ? "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200)
                             : "transport error " + httplib::to_string(r.error());
          }
          continue;
        }
        for (size_t i = 0; i < uuids.size(); ++i) processed_[h][i] += kStep;
        acked_ += static_cast<int64_t>(uuids.size());
      }
    }
    std::lock_guard lock(mu_);
    post_ms_.insert(post_ms_.end(), mine.begin(), mine.end());
  }

  const Stack& stack_;
  const Seeded& seeded_;
  const int threads_;
  Clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> max_late_us_{0};
  std::vector<std::vector<int64_t>> processed_;  // [host][i]: written by host's thread only
  std::vector<std::thread> pool_;
  std::mutex mu_;
  std::string first_error_;
  std::vector<double> post_ms_;
};

// What the database holds after the run: every seeded migration at its last acknowledged
// report (a 2xx promises the report is committed); returns the reports landed, counts
// mismatches.
int64_t Landed(const std::string& dsn, const Seeded& seeded,
               const std::vector<std::vector<int64_t>>& processed, int64_t* mismatches) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  std::map<std::string, int64_t> db;
  for (const auto& r : n.exec_params(
           "SELECT uuid::text, memory_processed FROM migrations WHERE lease_owner = $1", kOwner))
    db[r[0].as<std::string>()] = r[1].as<int64_t>();
  int64_t landed = 0;
  *mismatches = 0;
  for (size_t h = 0; h < seeded.by_host.size(); ++h) {
    for (size_t i = 0; i < seeded.by_host[h].size(); ++i) {
      const int64_t have = db[seeded.by_host[h][i]];
      landed += have / kStep;
      if (have != processed[h][i] && ++*mismatches <= 3) {
        std::fprintf(stderr, "  migration %s: database has %lld MiB, last acknowledged %lld MiB\n",
                     seeded.by_host[h][i].c_str(), static_cast<long long>(have / kStep),
                     static_cast<long long>(processed[h][i] / kStep));
      }
    }
  }
  return landed;
}

// ---- the measured requests ----

enum class Kind { kGetServer, kGet, kMigrateLive, kSql, kDashboard };

// A probe measured and printed beside the others, but not one of the issue's targets.
constexpr double kNoTarget = -1;

struct Probe {
  const char* name;
  Kind kind;
  std::string what;  // path (kGet, kDashboard) or SQL (kSql)
  double target_ms;  // for the loaded p99; kNoTarget: printed only
  int every = 1;     // measured in every `every`-th round
};

std::vector<Probe> Probes() {
  return {
      {"GET /servers/{id}", Kind::kGetServer, "", 5},
      {"GET /servers/detail?limit=100", Kind::kGet, "/v2.1/servers/detail?limit=100", 20},
      {"GET /os-migrations?limit=100", Kind::kGet, "/v2.1/os-migrations?limit=100", 20},
      // Every second round: the pool's servers need the time to finish their last move.
      {"POST os-migrateLive", Kind::kMigrateLive, "", 30, 2},
      {"SQL v_migrations_in_progress", Kind::kSql,
       "SELECT * FROM v_migrations_in_progress ORDER BY created_at DESC, migration_id DESC "
       "LIMIT 100",
       20},
      // A page of 100 hosts by name and one host, as the dashboard and views.md read them.
      {"SQL v_host_load (100 by name)", Kind::kSql,
       "SELECT * FROM v_host_load ORDER BY host LIMIT 100", 20},
      {"SQL v_host_load (one host)", Kind::kSql,
       "SELECT * FROM v_host_load WHERE host = 'bench-host-00007'", 20},
      // Every host's load summed, the busiest 100 shown: a whole-fleet report, not a page (its
      // cost grows with the hosts; views.md says so and pages instead). Printed, no target; every
      // tenth round only, as a report is read now and then: at ~80 ms of the database's CPU it
      // would otherwise take more of the two cores than the load it is measured beside.
      {"SQL v_host_load (all, busiest)", Kind::kSql,
       "SELECT * FROM v_host_load ORDER BY outbound_moves + inbound_moves DESC, host LIMIT 100",
       kNoTarget, 10},
      {"SQL v_migration_history (50)", Kind::kSql,
       "SELECT * FROM v_migration_history ORDER BY finished_at DESC LIMIT 50", 20},
      {"SQL v_host_drain_status", Kind::kSql,
       "SELECT * FROM v_host_drain_status ORDER BY created_at DESC LIMIT 100", 20},
      // The same views through the built-in dashboard's JSON endpoints (controller/web), as
      // its page polls them, with an admin's session cookie: the 100 oldest moves in flight
      // with the counts of all, the first page of 100 hosts with the tiles' counts over every
      // host, the last 50 finished moves, the last 20 drains with their plans.
      {"GET /dashboard/api/moves", Kind::kDashboard, "/dashboard/api/moves", 20},
      {"GET /dashboard/api/hosts", Kind::kDashboard, "/dashboard/api/hosts", 20},
      {"GET /dashboard/api/history", Kind::kDashboard, "/dashboard/api/history?limit=50", 20},
      {"GET /dashboard/api/drains", Kind::kDashboard, "/dashboard/api/drains", 20},
  };
}

struct PoolServer {
  std::string uuid;
  std::string host;  // where it is (last seen)
};

struct Samples {
  std::vector<std::vector<double>> ms;
  std::vector<int> errors;
  std::vector<std::string> first_error;
  int pool_busy = 0;  // rounds whose os-migrateLive found no idle pool server (skipped)
  int rounds = 0;
};

class Measurer {
 public:
  Measurer(const Stack& stack, const Seeded& seeded, std::vector<PoolServer> pool)
      : seeded_(seeded),
        pool_(std::move(pool)),
        http_(stack.url()),
        dash_(stack.dsn()),
        control_(stack.dsn()),
        probes_(Probes()) {
    http_.set_keep_alive(true);
    http_.set_tcp_nodelay(true);
    headers_ = {{"X-Auth-Token", ferry::testing::kAdminToken},
                {"OpenStack-API-Version", kMicroversion}};
    // A dashboard session for the admin (POST /dashboard/login, as the page's login form).
    auto login = http_.Post("/dashboard/login", headers_,
                            nlohmann::json{{"token", ferry::testing::kAdminToken}}.dump(),
                            "application/json");
    if (login && login->status == 200) {
      const std::string cookie = login->get_header_value("Set-Cookie");
      dashboard_headers_ = {{"Cookie", cookie.substr(0, cookie.find(';'))}};
    } else {
      std::printf("dashboard login: %s; the /dashboard/api rows are not measured\n",
                  login ? ("HTTP " + std::to_string(login->status)).c_str() : "no answer");
    }
    control_.prepare("pool_state",
                     "SELECT s.vm_state, s.task_state, h.name FROM servers s "
                     "LEFT JOIN hosts h ON h.id = s.host_id WHERE s.uuid = $1::uuid");
  }
  const std::vector<Probe>& probes() const { return probes_; }
  bool dashboard() const { return !dashboard_headers_.empty(); }

  // Rounds for `seconds` (at most one per `round_ms`); record=false: a warm-up.
  Samples Run(double seconds, int round_ms, bool record = true) {
    Samples s;
    s.ms.resize(probes_.size());
    s.errors.assign(probes_.size(), 0);
    s.first_error.resize(probes_.size());
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds));
    for (int round = 0; Clock::now() < end; ++round) {
      const auto next = Clock::now() + std::chrono::milliseconds(round_ms);
      for (size_t i = 0; i < probes_.size(); ++i) {
        if (round % probes_[i].every != 0) continue;
        if (probes_[i].kind == Kind::kDashboard && !dashboard()) continue;
        std::string error;
        const double ms = One(probes_[i], &error, &s.pool_busy);
        if (ms < 0 && error.empty()) continue;  // nothing to time (no idle pool server)
        if (!error.empty()) {
          if (s.errors[i]++ == 0) s.first_error[i] = error;
          continue;
        }
        if (record) s.ms[i].push_back(ms);
      }
      ++s.rounds;
      std::this_thread::sleep_until(next);
    }
    return s;
  }

 private:
  static double Since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }

  double Get(const std::string& path, std::string* error, bool dashboard = false) {
    const auto t0 = Clock::now();
    auto r = http_.Get(path, dashboard ? dashboard_headers_ : headers_);
    const double ms = Since(t0);
    if (!r) {
      *error = "transport error " + httplib::to_string(r.error());
    } else if (r->status != 200) {
      *error = "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200);
    }
    return ms;
  }

  // The next pool server with no task (its last move over, whatever its end), on its host.
  PoolServer* IdlePoolServer() {
    for (size_t k = 0; k < pool_.size(); ++k) {
      PoolServer& p = pool_[(cursor_ + k) % pool_.size()];
      pqxx::nontransaction n(control_);
      auto r = n.exec_prepared1("pool_state", p.uuid);
      if (r[0].as<std::string>() == "active" && r[1].is_null() && !r[2].is_null()) {
        p.host = r[2].as<std::string>();
        cursor_ = (cursor_ + k + 1) % pool_.size();
        return &p;
      }
    }
    return nullptr;
  }

  double One(const Probe& p, std::string* error, int* pool_busy) {
    switch (p.kind) {
      case Kind::kGetServer: {
        std::uniform_int_distribution<size_t> pick(0, seeded_.servers.size() - 1);
        return Get("/v2.1/servers/" + seeded_.servers[pick(rng_)], error);
      }
      case Kind::kGet:
        return Get(p.what, error);
      case Kind::kDashboard:
        return Get(p.what, error, true);
      case Kind::kMigrateLive: {
        PoolServer* s = IdlePoolServer();
        if (!s) {
          ++*pool_busy;
          return -1;
        }
        const std::string dest = s->host == "sim-a" ? "sim-b" : "sim-a";
        const std::string body =
            nlohmann::json{{"os-migrateLive", {{"host", dest}, {"block_migration", "auto"}}}}
                .dump();
        const auto t0 = Clock::now();
        auto r =
            http_.Post("/v2.1/servers/" + s->uuid + "/action", headers_, body, "application/json");
        const double ms = Since(t0);
        if (!r) {
          *error = "transport error " + httplib::to_string(r.error());
        } else if (r->status != 202) {
          *error = "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200);
        }
        return ms;
      }
      case Kind::kSql: {
        const auto t0 = Clock::now();
        try {
          pqxx::nontransaction n(dash_);
          auto r = n.exec(p.what);
          (void)r.size();
        } catch (const std::exception& e) {
          *error = e.what();
        }
        return Since(t0);
      }
    }
    return -1;
  }

  const Seeded& seeded_;
  std::vector<PoolServer> pool_;
  size_t cursor_ = 0;
  httplib::Client http_;
  httplib::Headers headers_;
  httplib::Headers dashboard_headers_;  // the session cookie; empty: no dashboard
  pqxx::connection dash_;               // the dashboard's connection (measured)
  pqxx::connection control_;            // the bench's own look-ups (not measured)
  std::vector<Probe> probes_;
  std::mt19937_64 rng_{14};
};

// Nearest-rank percentile of an unsorted sample, in ms; -1 if empty.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

bool ViewsPresent(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  bool all = true;
  for (const char* v :
       {"v_migrations_in_progress", "v_host_load", "v_migration_history", "v_host_drain_status"}) {
    if (n.exec_params1("SELECT to_regclass($1) IS NOT NULL", v)[0].as<bool>()) continue;
    std::printf("view %s is missing (migrations-sql/0014_dashboard_views.sql not applied)\n", v);
    all = false;
  }
  return all;
}

// The machine's 1-minute load average: both phases share two cores with whatever else runs.
double LoadAverage() {
  double one = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &one) != 1) one = -1;
    std::fclose(f);
  }
  return one;
}

// The machine's CPU time from /proc/stat (every core): busy and total jiffies. Busy over a
// phase says how much of the two cores the phase's load left for the measured requests.
struct CpuTimes {
  long long busy = 0, total = 0;
};
CpuTimes ReadCpuTimes() {
  CpuTimes t;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    long long v[8] = {};
    if (std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8) {
      for (long long x : v) t.total += x;
      t.busy = t.total - v[3] - v[4];  // minus idle and iowait
    }
    std::fclose(f);
  }
  return t;
}
double BusyPercent(const CpuTimes& from, const CpuTimes& to) {
  const long long total = to.total - from.total;
  return total > 0 ? 100.0 * static_cast<double>(to.busy - from.busy) / total : -1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: api_latency_bench [--quick] [--migrations N] [--seconds S] "
               "[--threads T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::stoi(argv[++i]) : -1; };
    if (a == "--quick") {
      s.quick = true;
      s.migrations = 1000;
      s.seconds = 8;
      s.threads = 4;
      s.history = 10000;
      s.drains = 20;
      s.pool = 8;
    } else if (a == "--migrations") {
      s.migrations = value();
    } else if (a == "--seconds") {
      s.seconds = value();
    } else if (a == "--threads") {
      s.threads = value();
    } else {
      return Usage();
    }
  }
  if (s.migrations < kPerHost || s.seconds < 1 || s.threads < 1) return Usage();
  s.migrations -= s.migrations % kPerHost;
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn) {
    std::fprintf(stderr, "api_latency_bench: no PostgreSQL (%s); set FERRY_TEST_PG_DIR\n",
                 why.c_str());
    return 2;
  }
  if (!CheckBody()) {
    std::printf("the bench's progress body differs from the wire serialisation\n");
    return 1;
  }
  ferry::testing::StackOptions options;
  options.controller_log_level = "info";  // a deployment's level: no log line per request
  options.heartbeat_interval_s = 10;      // Nova's report_interval
  options.service_down_time_s = 3600;     // the seeded hosts send no heartbeats (see Seed)
  const std::string pool = std::to_string(s.pool);
  options.controller_args = {// the agent pool: one connection per generator thread, plus room
                             "--agent-api-threads", std::to_string(s.threads + 8),
                             // every pool server may move at once: the limits are not measured
                             "--max-concurrent-live-migrations", pool,
                             "--max-inbound-live-migrations", pool};
  Stack stack(*dsn, options);
  stack.StartController();
  for (const char* host : {"sim-a", "sim-b"}) {
    stack.StartAgent(host, {"--sim-bandwidth-mbps", "10000", "--sim-vcpus", "256",
                            "--sim-memory-mb", "262144", "--sim-disk-gb", "10000"});
  }
  if (!stack.WaitUntilUp({"sim-a", "sim-b"}, std::chrono::seconds(60))) {
    std::fprintf(stderr, "the sim agents never came up\n");
    return 1;
  }
  stack.EnsureFlavor("1");  // m1.tiny: the pool's (512 MB: a sim move takes well under a second)
  stack.EnsureFlavor("bench-8g", 2, 8192, 20);
  std::vector<PoolServer> pool_servers;
  for (int i = 0; i < s.pool; ++i) {
    const std::string host = i % 2 ? "sim-b" : "sim-a";
    pool_servers.push_back(
        {stack.CreateServer("pool-" + std::to_string(i), "1", "nova:" + host), host});
  }
  for (const auto& p : pool_servers) {
    if (stack.WaitServerSettled(p.uuid, std::chrono::seconds(120))["status"] != "ACTIVE") {
      std::fprintf(stderr, "pool server %s never became ACTIVE\n", p.uuid.c_str());
      return 1;
    }
  }
  const auto seed_start = Clock::now();
  const Seeded seeded = Seed(stack.dsn(), s);
  std::printf(
      "api latency under load: %d running live migrations on %d hosts (%d per host), %zu "
      "servers, %d finished migrations, %d finished drains; seeded in %.1f s\n",
      s.migrations, s.hosts(), kPerHost, seeded.servers.size(), s.history, s.drains,
      std::chrono::duration<double>(Clock::now() - seed_start).count());
  {
    pqxx::connection c(stack.dsn());
    pqxx::nontransaction n(c);
    std::printf("PostgreSQL fsync=%s synchronous_commit=%s; %u cores; mode %s\n",
                n.exec1("SHOW fsync")[0].c_str(), n.exec1("SHOW synchronous_commit")[0].c_str(),
                std::thread::hardware_concurrency(), s.quick ? "quick (sanity asserted)" : "full");
  }
  const bool views = ViewsPresent(stack.dsn());
  Measurer measurer(stack, seeded, pool_servers);
  std::printf(
      "dashboard: the view queries as direct SQL on a persistent libpqxx connection%s\n",
      measurer.dashboard() ? ", and the dashboard's JSON endpoints over HTTP with a session" : "");
  const int round_ms = 100;
  measurer.Run(s.quick ? 2 : 5, round_ms, false);  // warm-up: connections, plans, caches
  std::printf("phase A (idle): %d s of rounds (load average %.2f)\n", s.seconds, LoadAverage());
  const CpuTimes idle_from = ReadCpuTimes();
  const Samples idle = measurer.Run(s.seconds, round_ms);
  const double idle_busy = BusyPercent(idle_from, ReadCpuTimes());

  Generator gen(stack, seeded, s.threads);
  gen.Start();
  // One period first: every agent has posted once and the controller's ingest is in its stride.
  // Its rounds are not recorded; they keep the measuring connection in use, which the
  // controller would otherwise close as idle (5 s, common/http idle_timeout) just as phase B
  // sends on it.
  measurer.Run(kPeriodS, round_ms, false);
  std::printf(
      "phase B (loaded): %d s of rounds while %d agents post every %.0f s (%.0f rows/s; load "
      "average %.2f)\n",
      s.seconds, s.hosts(), kPeriodS, s.rate(), LoadAverage());
  const int64_t acked0 = gen.acked();
  const auto t0 = Clock::now();
  const CpuTimes loaded_from = ReadCpuTimes();
  const Samples loaded = measurer.Run(s.seconds, round_ms);
  const double loaded_busy = BusyPercent(loaded_from, ReadCpuTimes());
  const double window = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("  (load average at the end of phase B %.2f)\n", LoadAverage());
  std::printf(
      "CPU busy (every core, whole machine): phase A %.0f %%, phase B %.0f %% - what was left "
      "of %u cores for the measured requests\n",
      idle_busy, loaded_busy, std::thread::hardware_concurrency());
  const int64_t acked_window = gen.acked() - acked0;
  gen.Stop();
  const double rate = acked_window / window;
  int64_t mismatches = 0;
  const int64_t landed = Landed(stack.dsn(), seeded, gen.processed(), &mismatches);
  const auto post = gen.post_ms();

  std::printf("\n%-32s %9s %9s %9s %9s %13s %9s  %s\n", "request (ms)", "idle p50", "idle p99",
              "load p50", "load p99", "ratio p50/p99", "target", "loaded p99");
  bool targets = true;
  bool sane = views;
  const auto& probes = measurer.probes();
  for (size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].kind == Kind::kDashboard && !measurer.dashboard()) {
      std::printf("%-32s not served by this controller\n", probes[i].name);
      continue;
    }
    const double i50 = Percentile(idle.ms[i], 0.5), i99 = Percentile(idle.ms[i], 0.99);
    const double l50 = Percentile(loaded.ms[i], 0.5), l99 = Percentile(loaded.ms[i], 0.99);
    const bool targeted = probes[i].target_ms != kNoTarget;
    const bool ok = !targeted || (l99 >= 0 && l99 <= probes[i].target_ms);
    targets = targets && ok;
    const std::string target =
        targeted ? std::to_string(static_cast<int>(probes[i].target_ms)) + " ms" : "-";
    std::printf("%-32s %9.2f %9.2f %9.2f %9.2f %6.2fx/%4.2fx %9s  %s (n=%zu/%zu)\n", probes[i].name,
                i50, i99, l50, l99, i50 > 0 ? l50 / i50 : 0.0, i99 > 0 ? l99 / i99 : 0.0,
                target.c_str(),
                !targeted ? "printed"
                : ok      ? "PASS"
                          : "FAIL",
                idle.ms[i].size(), loaded.ms[i].size());
    for (const Samples* ph : {&idle, &loaded}) {
      if (ph->errors[i] == 0) continue;
      sane = false;
      std::printf("    %d failed in phase %s, first: %s\n", ph->errors[i], ph == &idle ? "A" : "B",
                  ph->first_error[i].c_str());
    }
    if (idle.ms[i].empty() || loaded.ms[i].empty()) sane = false;
  }
  if (idle.pool_busy + loaded.pool_busy > 0) {
    std::printf("os-migrateLive skipped %d times: no pool server idle (its last move running)\n",
                idle.pool_busy + loaded.pool_busy);
  }
  {
    pqxx::connection c(stack.dsn());
    pqxx::nontransaction n(c);
    std::string ends;
    for (const auto& r : n.exec(
             "SELECT status, count(*) FROM migrations WHERE source_compute IN ('sim-a', 'sim-b') "
             "GROUP BY status ORDER BY status"))
      ends += std::string(" ") + r[0].c_str() + "=" + r[1].c_str();
    std::printf("the os-migrateLive moves on the sim agents, by status:%s\n", ends.c_str());
  }

  const double target_rate = s.rate();
  const bool rate_ok = rate >= (s.quick ? 0.90 : 0.95) * target_rate;
  std::printf(
      "\nprogress load: %.0f rows/s accepted over the %.1f s of phase B (target %.0f rows/s: "
      "%s); %lld POSTs failed%s%s\n",
      rate, window, target_rate,
      rate_ok ? "reached"
              : "NOT reached - the generator could not keep up; loaded figures are "
                "under less load than asked",
      static_cast<long long>(gen.failed()), gen.failed() ? ", first: " : "",
      gen.first_error().c_str());
  std::printf(
      "progress POSTs (8 reports each): p50 %.2f ms, p99 %.2f ms, n=%zu; the generator ran up "
      "to %.0f ms behind its schedule\n",
      Percentile(post, 0.5), Percentile(post, 0.99), post.size(), gen.max_late_ms());
  std::printf(
      "database: %lld reports landed of %lld acknowledged; %lld migrations not at their last "
      "acknowledged report\n",
      static_cast<long long>(landed), static_cast<long long>(gen.acked()),
      static_cast<long long>(mismatches));
  sane = sane && rate_ok && gen.failed() == 0 && mismatches == 0 && landed == gen.acked();

  std::printf("\nsanity (every request answered, views present, load reached and landed): %s\n",
              sane ? "ok" : "FAILED");
  std::printf("targets (loaded p99): %s%s\n", targets ? "all met" : "NOT all met",
              s.quick ? " (quick mode: printed, not asserted)" : "");
  if (!sane) return 1;
  if (!s.quick && !targets) return 1;
  return 0;
}
