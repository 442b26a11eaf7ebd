// A host drain end to end on sim hosts (issue 13): N servers on sim-0 drained live onto the
// other hosts with max_parallel P, through /v2.1/ferry/drains, from the POST until the drain is
// done. Printed beside the link floor measured from the same run's moves: the bytes every move
// actually sent over the link (memory_total of each migration; the sim dirties nothing here, so
// one pass) divided by the link's bandwidth times P — what the copies alone would take with P
// always busy. Goal: <= 1.10x the floor.
//
// Run: FERRY_TEST_PG_DIR=<deploy/pg dir> drain_sim_bench [servers=200] [parallel=4]
//        [bandwidth_mbps=200] [hosts=4]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/support/stack.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::testing::Stack;

const std::string kFlavor = "bench-drain";  // 1 vCPU, memory_mb, no disk: its memory moves

int64_t Scalar(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  return w.exec1(sql)[0].as<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  int servers = 200, parallel = 4, bandwidth_mbps = 200, hosts = 4;
  if (argc > 1) servers = std::max(1, std::stoi(argv[1]));
  if (argc > 2) parallel = std::clamp(std::stoi(argv[2]), 1, 64);
  if (argc > 3) bandwidth_mbps = std::max(1, std::stoi(argv[3]));
  if (argc > 4) hosts = std::max(1, std::stoi(argv[4]));
  int memory_mb = 1024;
  if (argc > 5) memory_mb = std::max(64, std::stoi(argv[5]));
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn) {
    std::fprintf(stderr, "drain_sim_bench: no PostgreSQL (%s); set FERRY_TEST_PG_DIR\n",
                 why.c_str());
    return 2;
  }
  ferry::testing::StackOptions options;
  options.controller_log_level = "info";
  // The drain's max_parallel is the limit measured: the engine's own limits stay out of its way.
  const std::string p = std::to_string(parallel);
  options.controller_args = {"--max-concurrent-live-migrations",
                             p,
                             "--max-inbound-live-migrations",
                             p,
                             "--migration-link-mibps",
                             std::to_string(bandwidth_mbps * 1000000.0 / (1024 * 1024))};
  Stack stack(*dsn, options);
  stack.StartController();
  const std::vector<std::string> sim = {"--sim-bandwidth-mbps",  std::to_string(bandwidth_mbps),
                                        "--sim-dirty-rate-mbps", "0",
                                        "--sim-vcpus",           "4096",
                                        "--sim-memory-mb",       std::to_string(int64_t{1} << 22)};
  for (int h = 0; h <= hosts; ++h) stack.StartAgent("sim-" + std::to_string(h), sim);
  for (int h = 0; h <= hosts; ++h) {
    if (!stack.WaitUntilUp({"sim-" + std::to_string(h)}, std::chrono::seconds(60))) {
      std::fprintf(stderr, "sim-%d never came up\n", h);
      return 1;
    }
  }
  stack.EnsureFlavor(kFlavor, 1, memory_mb, 0);
  for (int i = 0; i < servers; ++i) {
    stack.CreateServer("drain-" + std::to_string(i), kFlavor, "nova:sim-0");
  }
  if (!Stack::WaitFor(
          [&] {
            return Scalar(stack.dsn(), "SELECT count(*) FROM servers WHERE vm_state = 'active'") ==
                   servers;
          },
          std::chrono::seconds(300))) {
    std::fprintf(stderr, "the servers never all became ACTIVE\n");
    return 1;
  }

  const auto start = Clock::now();
  auto r = stack.Admin().Post(
      "/v2.1/ferry/drains",
      {{"drain", {{"host", "sim-0"}, {"mode", "live"}, {"max_parallel", parallel}}}});
  if (r.status != 202) {
    std::fprintf(stderr, "drain not started: %d %s\n", r.status, r.raw.c_str());
    return 1;
  }
  const std::string id = r.body["drain"]["id"];
  std::string status;
  Stack::WaitFor(
      [&] {
        status = stack.Admin().Get("/v2.1/ferry/drains/" + id).body["drain"]["status"];
        return status != "running";
      },
      std::chrono::seconds(3600));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (status != "done") {
    std::fprintf(stderr, "the drain ended %s\n", status.c_str());
    return 1;
  }
  const int64_t bytes = Scalar(stack.dsn(),
                               "SELECT coalesce(sum(memory_total), 0)::bigint FROM "
                               "migrations WHERE drain_uuid = '" +
                                   id + "'");
  const double floor =
      static_cast<double>(bytes) / (static_cast<double>(bandwidth_mbps) * 1e6 * parallel);
  // Where a move's time went, on average: from the request to each status it entered.
  {
    pqxx::connection c(stack.dsn());
    pqxx::work w(c);
    for (const auto& row :
         w.exec("SELECT e.to_status, avg(extract(epoch from e.at - m.created_at))::float8 FROM "
                "migration_events e JOIN migrations m ON m.id = e.migration_id WHERE m.drain_uuid "
                "= '" +
                id + "' GROUP BY e.to_status ORDER BY 2")) {
      std::printf("  %-16s %.3f s after the request\n", row[0].c_str(), row[1].as<double>());
    }
    if (std::getenv("FERRY_BENCH_TIMELINE")) {
      for (const auto& row :
           w.exec("SELECT extract(epoch from m.created_at - d.created_at)::float8, "
                  "extract(epoch from m.finished_at - d.created_at)::float8 FROM migrations m "
                  "JOIN drains d ON d.uuid = m.drain_uuid WHERE d.uuid = '" +
                  id + "' ORDER BY m.created_at")) {
        std::printf("  move requested at %.3f s, ended at %.3f s\n", row[0].as<double>(),
                    row[1].as<double>());
      }
    }
  }
  std::printf(
      "drain of %d servers (%.0f MB moved) at %d MB/s, max_parallel %d: %.1f s; link floor "
      "%.1f s; ratio %.3f (goal <= 1.10)\n",
      servers, static_cast<double>(bytes) / 1e6, bandwidth_mbps, parallel, elapsed, floor,
      elapsed / floor);
  return 0;
}
