// Cold migrations orchestrated at scale (issue 12): N servers on sim hosts cold-migrated at once
// through Nova's API, each a full move (claims, prepare, shutdown, a copy over the sim link,
// verify and define on the destination) until every one waits in VERIFY_RESIZE, then all
// confirmed. Prints moves/s and the controller's memory (RSS before, peak), against the
// baseline of the same moves one at a time measured in the same run (the same steps with no
// concurrency), as the speed-up concurrency buys.
//
// Run: FERRY_TEST_PG_DIR=<deploy/pg dir> cold_migration_sim_bench [moves=1000] [hosts=10]
//        [alone=5]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/stack.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::testing::Stack;

// 1 GB of local disk each, copied at 10 GB/s by the sim: the copy is a tenth of a second, so
// what is measured is the orchestration (the controller, its database, the agents' commands).
const std::string kFlavor = "bench-disk1";

struct Settings {
  int moves = 1000;
  int hosts = 10;
  int alone = 5;  // moves timed one at a time for the baseline
};

// VmRSS / VmHWM of a process, in MiB.
double ProcMiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return 0;
}

int64_t CountStatus(const std::string& dsn, const std::string& status) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  return n
      .exec_params1(
          "SELECT count(*) FROM migrations WHERE migration_type = 'migration' "
          "AND status = $1",
          status)[0]
      .as<int64_t>();
}

// Posts `action` for each server from `threads` clients at once; false on any non-2xx.
bool PostAll(const Stack& stack, const std::vector<std::string>& servers,
             const nlohmann::json& action, int threads) {
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto admin = stack.Admin();
      for (size_t i = next++; i < servers.size(); i = next++) {
        auto r = admin.Post("/v2.1/servers/" + servers[i] + "/action", action);
        if (r.status < 200 || r.status > 299) {
          std::fprintf(stderr, "%s: %d %s\n", servers[i].c_str(), r.status, r.raw.c_str());
          ok = false;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return ok;
}

bool WaitCount(const std::string& dsn, const std::string& status, int64_t n,
               std::chrono::seconds timeout) {
  return Stack::WaitFor([&] { return CountStatus(dsn, status) >= n; }, timeout);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  if (argc > 1) s.moves = std::stoi(argv[1]);
  if (argc > 2) s.hosts = std::max(2, std::stoi(argv[2]));
  if (argc > 3) s.alone = std::max(1, std::stoi(argv[3]));
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn) {
    std::fprintf(stderr, "cold_migration_sim_bench: no PostgreSQL (%s); set FERRY_TEST_PG_DIR\n",
                 why.c_str());
    return 2;
  }
  ferry::testing::StackOptions options;
  options.controller_log_level = "info";
  // Every move may run at once (the baseline's are over by then: a move waiting for confirm
  // holds no slot): the limits are not what is measured. 1,000 is their largest setting.
  const std::string all = std::to_string(std::min(s.moves, 1000));
  options.controller_args = {"--max-concurrent-live-migrations", all,
                             "--max-inbound-live-migrations",    all,
                             "--max-cluster-live-migrations",    all};
  Stack stack(*dsn, options);
  stack.StartController();
  for (int h = 0; h < s.hosts; ++h) {
    stack.StartAgent("sim-" + std::to_string(h),
                     {"--sim-bandwidth-mbps", "10000", "--sim-vcpus", "4096", "--sim-memory-mb",
                      std::to_string(int64_t{4} << 20), "--sim-disk-gb", "100000"});
  }
  for (int h = 0; h < s.hosts; ++h) {
    if (!stack.WaitUntilUp({"sim-" + std::to_string(h)}, std::chrono::seconds(60))) {
      std::fprintf(stderr, "sim-%d never came up\n", h);
      return 1;
    }
  }
  stack.EnsureFlavor(kFlavor, 1, 64, 1);

  const int total = s.moves + s.alone;
  std::vector<std::string> servers;
  for (int i = 0; i < total; ++i) {
    servers.push_back(stack.CreateServer("bench-" + std::to_string(i), kFlavor,
                                         "nova:sim-" + std::to_string(i % s.hosts)));
  }
  if (!Stack::WaitFor(
          [&] {
            pqxx::connection c(stack.dsn());
            pqxx::nontransaction n(c);
            return n.exec1("SELECT count(*) FROM servers WHERE vm_state = 'active'")[0].as<int>() >=
                   total;
          },
          std::chrono::seconds(600))) {
    std::fprintf(stderr, "the servers never became active\n");
    return 1;
  }
  const nlohmann::json migrate = {{"migrate", nullptr}};
  const nlohmann::json confirm = {{"confirmResize", nullptr}};

  // Baseline: the same move alone, one after another.
  std::vector<double> alone_s;
  for (int i = 0; i < s.alone; ++i) {
    const auto t0 = Clock::now();
    if (!PostAll(stack, {servers[s.moves + i]}, migrate, 1) ||
        !WaitCount(stack.dsn(), "finished", i + 1, std::chrono::seconds(120))) {
      std::fprintf(stderr, "a move alone never reached VERIFY_RESIZE\n");
      return 1;
    }
    alone_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(alone_s.begin(), alone_s.end());
  const double one = alone_s[alone_s.size() / 2];

  const pid_t controller = stack.ControllerPid();
  const double rss_before = ProcMiB(controller, "VmRSS");
  std::vector<std::string> batch(servers.begin(), servers.begin() + s.moves);
  const auto t0 = Clock::now();
  if (!PostAll(stack, batch, migrate, 8)) return 1;
  const double accepted_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!WaitCount(stack.dsn(), "finished", total, std::chrono::seconds(1800))) {
    std::fprintf(stderr, "only %lld of %d moves reached VERIFY_RESIZE\n",
                 static_cast<long long>(CountStatus(stack.dsn(), "finished")), total);
    return 1;
  }
  const double moved_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto c0 = Clock::now();
  if (!PostAll(stack, servers, confirm, 8) ||
      !WaitCount(stack.dsn(), "confirmed", total, std::chrono::seconds(1800))) {
    std::fprintf(stderr, "the moves were not all confirmed\n");
    return 1;
  }
  const double confirmed_s = std::chrono::duration<double>(Clock::now() - c0).count();
  const double peak = ProcMiB(controller, "VmHWM");
  const int64_t errors = CountStatus(stack.dsn(), "error");

  std::printf("cold migration on the sim: %d moves at once over %d hosts (1 GB disk each)\n",
              s.moves, s.hosts);
  std::printf("  one move alone (median of %d): %.2f s to VERIFY_RESIZE\n", s.alone, one);
  std::printf("  %d at once: accepted in %.2f s, all in VERIFY_RESIZE after %.2f s: %.1f moves/s\n",
              s.moves, accepted_s, moved_s, s.moves / moved_s);
  std::printf("  speed-up over one at a time: %.1fx (%.2f s sequential)\n", one * s.moves / moved_s,
              one * s.moves);
  std::printf("  confirmed all %d in %.2f s: %.1f confirms/s\n", total, confirmed_s,
              total / confirmed_s);
  std::printf("  controller RSS: %.1f MiB before, peak %.1f MiB (%.1f KiB per move)\n", rss_before,
              peak, (peak - rss_before) * 1024 / s.moves);
  std::printf("  moves in error: %lld\n", static_cast<long long>(errors));
  return errors == 0 ? 0 : 1;
}
