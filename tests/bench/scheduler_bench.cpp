// Scheduler throughput: placements per second over a synthetic cluster in PostgreSQL, choosing
// from the in-memory HostSnapshot (indexed fast path), against the per-request way this
// replaces: read every host's state from PostgreSQL, build HostState, run the full pass.
// Also shown: the full pass on the same in-memory hosts, to separate the index's gain from the
// database's. Claims are not part of either side (both would pay the same ClaimIfFits).
//
//   scheduler_bench [--hosts 1000,10000] [--requests 20000] [--baseline-requests 5] [--quick]
//
// PostgreSQL: $FERRY_TEST_PG_DIR (a deploy/pg cluster), else one started here with
// `deploy/pg --fast` in a temporary directory and stopped at the end. Every run checks that the
// fast path picked the same best host as the full pass; a mismatch exits 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/conductor/server_placement.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/scheduler_hosts_store.hpp"
#include "controller/store/schema_migrator.hpp"
#include "tests/support/pg_fixture.hpp"

namespace ferry::bench {
namespace {

using controller::scheduler::HostIndex;
using controller::scheduler::HostState;
using controller::scheduler::RequestSpec;
using controller::scheduler::Scheduler;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> hosts = {1000, 10000};
  int requests = 20000;
  int baseline_requests = 5;
  int full_pass_requests = 50;
  int runs = 5;  // performance.md: report the median of 5 runs
};

// A cluster shaped like racks of 40 alike hosts: zone, cell, hypervisor, CPU and disk kind are
// per rack, a shared datastore per rack; capacity, claims, liveness and migrations per host.
constexpr const char* kSeedSql = R"sql(
INSERT INTO hosts (service_uuid, node_uuid, name, cell, hypervisor_type, hypervisor_version,
                   state, last_heartbeat_at, disabled, vcpus, memory_mb, local_gb, cpu_info, agent_url)
SELECT gen_random_uuid(), gen_random_uuid(), 'host-' || lpad(i::text, 6, '0'),
       CASE WHEN (i / 40) % 10 < 7 THEN 'cell1' ELSE 'cell2' END,
       CASE WHEN (i / 40) % 20 = 19 THEN 'VMware vCenter Server' ELSE 'QEMU' END,
       8000000 + ((i / 40) % 3) * 1000,
       CASE WHEN i % 97 = 0 THEN 'down' ELSE 'up' END, now(), i % 53 = 0,
       64, 131072 + ((i / 40) % 4) * 65536, 2000,
       (CASE (i / 40) % 3
          WHEN 0 THEN '{"arch":"x86_64","vendor":"Intel","model":"Skylake","features":["avx","avx2","sse4.2"]}'
          WHEN 1 THEN '{"arch":"x86_64","vendor":"Intel","model":"Icelake","features":["avx","avx2","avx512f","sse4.2"]}'
          ELSE '{"arch":"x86_64","vendor":"AMD","model":"EPYC","features":["avx","avx2","sse4.2"]}' END)::jsonb,
       'http://127.0.0.1:9'
FROM generate_series(0, $1 - 1) i;
INSERT INTO aggregates (uuid, name) SELECT gen_random_uuid(), 'az' || z FROM generate_series(1, 4) z;
INSERT INTO aggregate_metadata SELECT id, 'availability_zone', name FROM aggregates;
INSERT INTO aggregates (uuid, name) VALUES (gen_random_uuid(), 'ssd'), (gen_random_uuid(), 'hdd');
INSERT INTO aggregate_metadata SELECT id, 'disk', name FROM aggregates WHERE name IN ('ssd', 'hdd');
INSERT INTO aggregate_hosts
  SELECT a.id, h.id FROM hosts h JOIN aggregates a ON a.name = 'az' || (((h.id - 1) / 40) % 4 + 1);
INSERT INTO aggregate_hosts
  SELECT a.id, h.id FROM hosts h
  JOIN aggregates a ON a.name = CASE WHEN ((h.id - 1) / 40) % 2 = 0 THEN 'ssd' ELSE 'hdd' END;
INSERT INTO datastores (name, kind, capacity_gb, free_gb)
  SELECT DISTINCT 'nfs-rack-' || ((id - 1) / 40), 'shared', 100000, 50000 FROM hosts;
INSERT INTO host_datastores
  SELECT h.id, d.id FROM hosts h JOIN datastores d ON d.name = 'nfs-rack-' || ((h.id - 1) / 40);
INSERT INTO claims (consumer_uuid, host_id, resource, amount)
  SELECT gen_random_uuid(), id, r.resource, r.amount * (id % 7)
  FROM hosts, (VALUES ('VCPU', 6), ('MEMORY_MB', 12288), ('DISK_GB', 100)) r(resource, amount);
INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, dest_compute)
  SELECT gen_random_uuid(), gen_random_uuid(), 'live-migration', 'running',
         'host-' || lpad(((i * 7919) % $1)::text, 6, '0'), 'host-' || lpad(((i * 104729) % $1)::text, 6, '0')
  FROM generate_series(1, $1 / 50) i;
)sql";

std::vector<RequestSpec> Requests(const std::vector<HostState>& hosts, int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pct(0, 99);
  std::uniform_int_distribution<size_t> any(0, hosts.size() - 1);
  std::vector<RequestSpec> out;
  for (int i = 0; i < count; ++i) {
    RequestSpec s;
    s.vcpus = 1 << (pct(rng) % 3);
    s.memory_mb = 1024L << (pct(rng) % 5);
    s.disk_gb = 20;
    if (pct(rng) < 25) s.availability_zone = "az" + std::to_string(pct(rng) % 4 + 1);
    if (pct(rng) < 20) s.required_aggregate_metadata["aggregate_instance_extra_specs:disk"] = "ssd";
    if (pct(rng) < 50) {  // a live migration
      const HostState& src = hosts[any(rng)];
      s.source_host = src.name;
      s.cell = src.cell;
      s.hypervisor_type = src.hypervisor_type;
      s.min_hypervisor_version = src.hypervisor_version;
      s.guest_cpu = src.cpu;
      s.source_shared_datastores = src.shared_datastores;
      s.max_inbound_migrations = 2;
      for (int k = pct(rng) % 4; k > 0; --k) s.anti_affinity_hosts.insert(hosts[any(rng)].name);
      if (pct(rng) < 10) s.ignore_hosts.insert(hosts[any(rng)].name);
    }
    out.push_back(std::move(s));
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One cluster size. Returns false when the fast path and the full pass disagree.
bool RunSize(const std::string& cluster_dsn, int n, const Options& o) {
  testing::PgSchema schema(cluster_dsn);
  controller::store::UpgradeSchema(schema.dsn());
  {
    pqxx::connection c(schema.dsn());
    pqxx::work w(c);
    for (std::string_view sql = kSeedSql; !sql.empty();) {  // one statement at a time
      auto end = sql.find(";\n");
      std::string stmt(sql.substr(0, end));
      if (stmt.find("$1") != std::string::npos) {
        w.exec_params(stmt, n);
      } else if (stmt.find_first_not_of(" \n") != std::string::npos) {
        w.exec(stmt);
      }
      sql = end == std::string_view::npos ? "" : sql.substr(end + 2);
    }
    w.commit();
  }
  controller::store::Database db(schema.dsn(), 2);
  controller::conductor::HostSnapshot snapshot(db, DefaultClock());
  auto t0 = Clock::now();
  snapshot.FullReload();
  const double load_s = Seconds(Clock::now() - t0);
  const auto index = snapshot.Current();
  const std::vector<HostState> hosts = index->CopyHosts();
  const auto requests = Requests(hosts, o.requests, 42);
  const Scheduler scheduler;

  // Fast path: every request against the snapshot, `runs` times; median throughput.
  std::vector<double> rates, latencies_us;
  size_t placed = 0;
  for (int run = 0; run < o.runs; ++run) {
    placed = 0;
    auto start = Clock::now();
    for (const auto& spec : requests) {
      auto r0 = Clock::now();
      placed += !scheduler.Select(*index, spec).candidates.empty();
      if (run == 0) latencies_us.push_back(Seconds(Clock::now() - r0) * 1e6);
    }
    rates.push_back(static_cast<double>(requests.size()) / Seconds(Clock::now() - start));
  }
  const double fast = Median(rates);

  // Full pass over the same in-memory hosts, and the check that both pick the same host.
  int mismatches = 0;
  const int full_n = std::min<int>(o.full_pass_requests, o.requests);
  auto start = Clock::now();
  for (int i = 0; i < full_n; ++i) {
    auto full = scheduler.Select(hosts, requests[i]);
    auto quick = scheduler.Select(*index, requests[i], 1);
    const std::string a = full.candidates.empty() ? "" : full.candidates[0].name;
    const std::string b = quick.candidates.empty() ? "" : quick.candidates[0].name;
    mismatches += a != b;
  }
  const double full_rate = full_n / Seconds(Clock::now() - start) * 2;  // both selects timed: ~x2

  // Baseline: read every host from PostgreSQL per request, then the full pass.
  const int base_n = std::min<int>(o.baseline_requests, o.requests);
  start = Clock::now();
  for (int i = 0; i < base_n; ++i) {
    std::vector<HostState> fresh;
    db.Transact([&](controller::store::Tx& tx) {
      for (const auto& v : controller::store::LoadSchedulerHosts(tx, std::nullopt)) {
        fresh.push_back(controller::conductor::ToHostState(v));
      }
    });
    auto sel = scheduler.Select(fresh, requests[i]);
    auto quick = scheduler.Select(*index, requests[i], 1);
    mismatches += (sel.candidates.empty() ? "" : sel.candidates[0].name) !=
                  (quick.candidates.empty() ? "" : quick.candidates[0].name);
  }
  const double baseline = base_n / Seconds(Clock::now() - start);

  // The old way exactly: store::ListHosts + ToHostState per request (capacity, zone and state
  // only, so the move filters see less; the cheapest per-request read there is).
  start = Clock::now();
  for (int i = 0; i < base_n; ++i) {
    std::vector<HostState> fresh;
    db.Transact([&](controller::store::Tx& tx) {
      for (const auto& h : controller::store::ListHosts(tx))
        fresh.push_back(controller::conductor::ToHostState(h));
    });
    scheduler.Select(fresh, requests[i]);
  }
  const double list_hosts = base_n / Seconds(Clock::now() - start);

  // What a commit costs the snapshot: re-read one host and publish a new index.
  start = Clock::now();
  constexpr int kDirty = 5;
  for (int i = 0; i < kDirty; ++i)
    snapshot.MarkDirty(hosts[static_cast<size_t>(i) * 7 % hosts.size()].id);
  const double dirty_ms = Seconds(Clock::now() - start) / kDirty * 1e3;

  std::printf("hosts=%d profiles=%zu requests=%d placed=%zu snapshot_load_ms=%.0f\n", n,
              index->profile_count(), o.requests, placed, load_s * 1e3);
  std::printf(
      "  snapshot fast path : %10.0f placements/s (median of %d runs)  p50=%.1f us  p99=%.1f us\n",
      fast, o.runs, Percentile(latencies_us, 0.5), Percentile(latencies_us, 0.99));
  std::printf("  in-memory full pass: %10.1f placements/s (%d requests)\n", full_rate, full_n);
  std::printf(
      "  baseline (PG/req)  : %10.1f placements/s (%d requests, full host view per request)\n",
      baseline, base_n);
  std::printf("  ListHosts/req      : %10.1f placements/s (%d requests, the old placement path)\n",
              list_hosts, base_n);
  std::printf("  MarkDirty(1 host) re-read + republish: %.2f ms\n", dirty_ms);
  std::printf(
      "  ratio fast/baseline = %.0fx   fast/ListHosts = %.0fx   fast/full-pass = %.0fx   same best "
      "host: %s\n",
      fast / baseline, fast / list_hosts, fast / full_rate, mismatches ? "NO" : "yes");
  std::fflush(stdout);
  return mismatches == 0;
}

// The cluster DSN, starting a private PostgreSQL when none is given. `started` gets its dir.
std::string ClusterDsnOrStart(std::string* started) {
  std::string why;
  if (auto dsn = testing::ClusterDsn(&why)) return *dsn;
  char dir_template[] = "/tmp/ferry-bench-pg.XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
  *started = dir_template;
  const std::string pg = std::string(FERRY_SOURCE_DIR) + "/deploy/pg";
  if (std::system((pg + " --fast start " + *started + " >/dev/null").c_str()) != 0) {
    throw std::runtime_error("deploy/pg start failed (" + why + ")");
  }
  setenv("FERRY_TEST_PG_DIR", started->c_str(), 1);
  auto dsn = testing::ClusterDsn(&why);
  if (!dsn) throw std::runtime_error("no DSN after start: " + why);
  return *dsn;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--quick") {  // ctest: proves it runs, numbers are not meaningful
      o.hosts = {300};
      o.requests = 2000;
      o.baseline_requests = 3;
      o.full_pass_requests = 20;
      o.runs = 1;
    } else if (a == "--hosts") {
      o.hosts.clear();
      std::string list = next();
      for (size_t p = 0; p < list.size();) {
        size_t c = list.find(',', p);
        o.hosts.push_back(std::stoi(list.substr(p, c - p)));
        p = c == std::string::npos ? list.size() : c + 1;
      }
    } else if (a == "--requests") {
      o.requests = std::stoi(next());
    } else if (a == "--baseline-requests") {
      o.baseline_requests = std::stoi(next());
    } else {
      std::fprintf(stderr,
                   "usage: scheduler_bench [--hosts N,M] [--requests N] [--baseline-requests N] "
                   "[--quick]\n");
      return 2;
    }
  }
  std::string started;
  bool ok = true;
  try {
    const std::string dsn = ClusterDsnOrStart(&started);
#ifdef NDEBUG
    std::printf("scheduler_bench (optimised build)\n");
#else
    std::printf("scheduler_bench (DEBUG build: figures are not representative)\n");
#endif
    for (int n : o.hosts) ok = RunSize(dsn, n, o) && ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scheduler_bench: %s\n", e.what());
    ok = false;
  }
  if (!started.empty()) {
    const std::string destroy = std::string(FERRY_SOURCE_DIR) + "/deploy/pg destroy " + started;
    if (std::system((destroy + " >/dev/null").c_str()) != 0) {
      std::fprintf(stderr, "scheduler_bench: could not destroy %s\n", started.c_str());
    }
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::Main(argc, argv); }
