// Progress ingest (performance.md G3): agents' reports through POST /agent/v1/migration-progress
// of a real controller into PostgreSQL, against the baseline of one
// `UPDATE migrations SET ... WHERE uuid = $1` per report over a direct libpqxx connection, both
// measured in this run with the same number of client threads for the same time. Counts the row
// updates that actually landed (from the values in the rows) and checks that every migration's
// final row holds the last report acknowledged for it. Target: >= 20,000 rows/s and >= 5x the
// baseline.
//
// Run: FERRY_TEST_PG_DIR=<deploy/pg dir> progress_ingest_bench [seconds=10] [threads=8]
//        [migrations=2000] [per_post=8]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "tests/bench/progress_body.hpp"
#include "tests/support/stack.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kHosts = 50;                   // 40 running migrations per source at 2,000
constexpr int64_t kMemoryTotal = 8LL << 30;  // an 8 GiB guest
constexpr int64_t kStep = 1 << 20;           // each report copies 1 MiB more

struct Settings {
  int seconds = 10;
  int threads = 8;
  int migrations = 2000;
  int per_post = 8;  // G3: per-host batches of at most 8 entries
};

struct Migration {
  std::string uuid;
  std::string host;
};

// N migrations in status running, each on one of kHosts sources, inserted straight into SQL.
// They hold a lease of the benchmark's for an hour: the controller's driver leaves leased
// migrations alone, where it would otherwise adopt them and fail them for want of real agents.
std::vector<Migration> CreateRunning(const std::string& dsn, int n) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  std::vector<Migration> out;
  for (const auto& r : w.exec_params(
           "INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
           "dest_compute, memory_total, memory_processed, memory_remaining, started_at, "
           "lease_owner, "
           "lease_until) "
           "SELECT gen_random_uuid(), gen_random_uuid(), 'live-migration', 'running', "
           "'bench-host-' || (g % $2), 'bench-dest', $3, 0, $3, now(), 'progress-bench', "
           "now() + interval '1 hour' "
           "FROM generate_series(0, $1 - 1) g RETURNING uuid::text, source_compute",
           n, kHosts, kMemoryTotal)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
  }
  w.exec("ANALYZE migrations");
  w.commit();
  return out;
}

// The last memory_processed acknowledged per migration uuid, shared by all threads.
struct Acked {
  std::mutex mu;
  std::map<std::string, int64_t> last;
  void Set(const std::string& uuid, int64_t v) {
    std::lock_guard lock(mu);
    last[uuid] = v;
  }
};

// Each thread owns the migrations of hosts t, t+threads, ...: one agent per host posts its own
// reports, so posts for one host never race (as a real agent sends them one after another).
std::vector<std::vector<const Migration*>> ByThread(const std::vector<Migration>& all,
                                                    int threads) {
  std::vector<std::vector<const Migration*>> out(threads);
  for (const auto& m : all) out[std::stoi(m.host.substr(11)) % threads].push_back(&m);
  return out;
}

// What the database holds for `set` after a run: each report adds kStep to memory_processed,
// so the sum counts the reports whose effect landed, and every row must hold the last value
// acknowledged for it (a 2xx promises the report is committed).
struct Landed {
  int64_t reports = 0;
  int64_t mismatches = 0;
};
Landed Check(const std::string& dsn, const std::vector<Migration>& set, Acked& acked) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  std::map<std::string, int64_t> db;
  for (const auto& r : w.exec("SELECT uuid::text, memory_processed FROM migrations")) {
    db[r[0].as<std::string>()] = r[1].as<int64_t>();
  }
  Landed out;
  std::map<std::string, int> statuses;
  for (const auto& r : w.exec("SELECT status, count(*) FROM migrations GROUP BY status")) {
    statuses[r[0].as<std::string>()] = r[1].as<int>();
  }
  if (statuses.size() != 1 || !statuses.count("running")) {
    std::fprintf(stderr, "  warning: not every migration is still running:");
    for (const auto& [status, n] : statuses) std::fprintf(stderr, " %s=%d", status.c_str(), n);
    std::fprintf(stderr, "\n");
  }
  for (const auto& m : set) {
    const int64_t have = db[m.uuid];
    out.reports += have / kStep;
    auto it = acked.last.find(m.uuid);
    const int64_t want = it == acked.last.end() ? 0 : it->second;
    if (have != want && ++out.mismatches <= 3) {
      std::fprintf(stderr,
                   "  migration %s on %s: database has %lld MiB, last acknowledged %lld MiB\n",
                   m.uuid.c_str(), m.host.c_str(), static_cast<long long>(have / kStep),
                   static_cast<long long>(want / kStep));
    }
  }
  return out;
}

struct Result {
  int64_t acked = 0;   // reports answered 2xx / statements committed
  int64_t landed = 0;  // reports whose effect is in the database
  double seconds = 0;
  int64_t mismatches = 0;
  bool missing = false;  // endpoint answered 404
  std::string error;
};

using ferry::bench::AppendBody;  // tests/bench/progress_body.hpp

// The hand-written body must say exactly what the wire's own serialisation says.
bool CheckBody(const Migration& m) {
  ferry::wire::MigrationProgressBatch b{m.host, {}};
  ferry::wire::LiveMigrationJob j;
  j.migration_uuid = m.uuid;
  j.state = "running";
  j.phase = "precopy";
  j.iteration = 3;
  j.memory_total = kMemoryTotal;
  j.memory_processed = 5 * kStep;
  j.memory_remaining = kMemoryTotal - 5 * kStep;
  j.transfer_rate_bps = 1LL << 30;
  j.throttle_percent = 20;
  j.sampled_at = 1764442800.123456;
  b.reports = {j, j};
  std::string body;
  AppendBody(body, b);
  return nlohmann::json::parse(body) == nlohmann::json(b);
}

Result RunEndpoint(const ferry::testing::Stack& stack, const std::vector<Migration>& all,
                   const Settings& s) {
  Result res;
  Acked acked;
  const auto groups = ByThread(all, s.threads);
  std::atomic<int64_t> sent{0};
  std::atomic<bool> stop{false};
  std::mutex err_mu;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < s.threads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client cli(stack.url());
      cli.set_keep_alive(true);  // agents keep their connection (G3: loopback keep-alive)
      // Without TCP_NODELAY, headers and body as two writes meet delayed ACK: ~40 ms a POST.
      cli.set_tcp_nodelay(true);
      const httplib::Headers headers = {{"X-Auth-Token", ferry::testing::kAgentToken}};
      const auto& mine = groups[t];
      std::map<std::string, std::vector<const Migration*>> by_host;
      for (const auto* m : mine) by_host[m->host].push_back(m);
      std::map<const Migration*, int64_t> processed;  // this thread's acked values
      std::string body;
      size_t cursor = 0;
      while (!stop) {
        for (auto& [host, ms] : by_host) {
          if (stop) break;
          ferry::wire::MigrationProgressBatch batch{host, {}};
          std::vector<const Migration*> in_post;
          for (int k = 0; k < s.per_post && k < static_cast<int>(ms.size()); ++k) {
            const Migration* m = ms[(cursor + k) % ms.size()];
            ferry::wire::LiveMigrationJob j;
            j.migration_uuid = m->uuid;
            j.state = "running";
            j.phase = "precopy";
            j.memory_total = kMemoryTotal;
            j.memory_processed = processed[m] + kStep;
            j.memory_remaining = kMemoryTotal - j.memory_processed;
            j.transfer_rate_bps = 1LL << 30;
            j.sampled_at =
                std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                    .count();
            batch.reports.push_back(j);
            in_post.push_back(m);
          }
          body.clear();
          AppendBody(body, batch);
          auto r = cli.Post("/agent/v1/migration-progress", headers, body, "application/json");
          if (!r || r->status / 100 != 2) {
            std::lock_guard lock(err_mu);
            if (r && r->status == 404) res.missing = true;
            if (res.error.empty()) {
              res.error = r ? "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200)
                            : "transport error " + httplib::to_string(r.error());
            }
            stop = true;
            break;
          }
          for (size_t k = 0; k < in_post.size(); ++k)
            processed[in_post[k]] = batch.reports[k].memory_processed;
          sent += static_cast<int64_t>(batch.reports.size());
        }
        cursor += s.per_post;
      }
      // Each migration belongs to this thread alone: record its last acked value once.
      for (const auto& [m, v] : processed) acked.Set(m->uuid, v);
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(s.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  res.acked = sent;
  const Landed landed = Check(stack.dsn(), all, acked);
  res.landed = landed.reports;
  res.mismatches = landed.mismatches;
  return res;
}

// The naive path: every report is its own autocommit UPDATE on the thread's own connection.
Result RunBaseline(const std::string& dsn, const std::vector<Migration>& all, const Settings& s) {
  Result res;
  Acked acked;
  const auto groups = ByThread(all, s.threads);
  std::atomic<int64_t> sent{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < s.threads; ++t) {
    threads.emplace_back([&, t] {
      pqxx::connection c(dsn);
      c.prepare("progress",
                "UPDATE migrations SET memory_processed = $2, memory_remaining = $3, "
                "transfer_rate_bps = $4, job_phase = 'precopy', progress_at = now(), "
                "updated_at = now() WHERE uuid = $1::uuid");
      std::map<const Migration*, int64_t> processed;  // this thread's acked values
      const auto& mine = groups[t];
      for (size_t i = 0; !stop && !mine.empty(); ++i) {
        const Migration* m = mine[i % mine.size()];
        const int64_t p = processed[m] + kStep;
        pqxx::nontransaction n(c);
        n.exec_prepared("progress", m->uuid, p, kMemoryTotal - p, 1LL << 30);
        processed[m] = p;
        ++sent;
      }
      for (const auto& [m, v] : processed) acked.Set(m->uuid, v);
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(s.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  res.acked = sent;
  const Landed landed = Check(dsn, all, acked);
  res.landed = landed.reports;
  res.mismatches = landed.mismatches;
  return res;
}

void Print(const char* name, const Result& r) {
  std::printf(
      "%-30s %9.0f rows/s landed  (%lld acked, %lld landed, %.1f s, %lld rows "
      "not at their last acked report)\n",
      name, r.landed / r.seconds, static_cast<long long>(r.acked), static_cast<long long>(r.landed),
      r.seconds, static_cast<long long>(r.mismatches));
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  if (argc > 1) s.seconds = std::stoi(argv[1]);
  if (argc > 2) s.threads = std::stoi(argv[2]);
  if (argc > 3) s.migrations = std::stoi(argv[3]);
  if (argc > 4) s.per_post = std::stoi(argv[4]);
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn) {
    std::fprintf(stderr, "progress_ingest_bench: no PostgreSQL (%s); set FERRY_TEST_PG_DIR\n",
                 why.c_str());
    return 2;
  }
  // Progress posts run on the controller's agent pool (/agent/v1), each waiting for its group
  // commit: size it for every posting client plus room, as a deployment with that many
  // migrating hosts would.
  ferry::testing::StackOptions options;
  options.controller_args = {"--agent-api-threads", std::to_string(std::max(8, s.threads + 8))};
  options.controller_log_level = "info";  // a deployment's level: no log line per request
  ferry::testing::Stack stack(*dsn, options);
  stack.StartController();
  std::printf(
      "progress ingest: %d migrations on %d source hosts, %d client threads, %d s each, "
      "%d reports per POST\n",
      s.migrations, kHosts, s.threads, s.seconds, s.per_post);

  {
    // The baseline's speed depends on durable commits; say which kind this cluster does.
    pqxx::connection c(stack.dsn());
    pqxx::nontransaction n(c);
    std::printf("PostgreSQL fsync=%s synchronous_commit=%s\n", n.exec1("SHOW fsync")[0].c_str(),
                n.exec1("SHOW synchronous_commit")[0].c_str());
  }
  const auto migrations = CreateRunning(stack.dsn(), s.migrations);
  if (!CheckBody(migrations.front())) {
    std::printf("the bench's request body differs from the wire serialisation\n");
    return 1;
  }
  // The controller writes only the newest of several reports of one migration from one host
  // that meet in one batch (each carries the job's cumulative counters, so the newest says all
  // the older ones said). Here they never meet: an agent waits for each post's answer and a
  // migration is reported by one agent, so every report counted below was a row written.
  std::printf(
      "counting reports whose values are in the database; none is coalesced (one post "
      "in flight per agent)\n");
  const Result endpoint = RunEndpoint(stack, migrations, s);
  if (endpoint.missing) {
    std::printf(
        "POST /agent/v1/migration-progress: endpoint missing (404) - nothing to measure "
        "yet: %s\n",
        endpoint.error.c_str());
    return 1;
  }
  if (!endpoint.error.empty()) {
    std::printf("POST /agent/v1/migration-progress failed: %s\n", endpoint.error.c_str());
    return 1;
  }
  // The baseline on a fresh set of rows, so both start from the same table shape.
  const auto baseline_rows = CreateRunning(stack.dsn(), s.migrations);
  const Result baseline = RunBaseline(stack.dsn(), baseline_rows, s);

  Print("endpoint (batched, HTTP)", endpoint);
  Print("baseline (UPDATE per report)", baseline);
  const double e = endpoint.landed / endpoint.seconds;
  const double b = baseline.landed / baseline.seconds;
  std::printf("ratio endpoint/baseline: %.2fx\n", b > 0 ? e / b : 0.0);
  std::printf("target >= 20,000 rows/s: %s; target >= 5x: %s; final rows match last reports: %s\n",
              e >= 20000 ? "met" : "NOT met", b > 0 && e / b >= 5 ? "met" : "NOT met",
              endpoint.mismatches == 0 && baseline.mismatches == 0 ? "yes" : "NO");
  return 0;
}
