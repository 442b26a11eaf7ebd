// /metrics end to end: who may scrape the controller and an agent; the exposition is clean by
// `promtool check metrics`; its values match what runs (moves in flight while two sim live
// migrations copy slowly); and Debian's Prometheus, scraping the running controller with the
// metrics token, answers the PromQL query sum(ferry_moves_in_flight) with 2, then 0 once both
// ended; with the claims table locked (the orphaned-claims count cannot be read), the other
// gauges still follow the hosts and no scrape waits. Without prometheus/promtool: skipped
// outside CI, failed under CI=true.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

bool Have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// Skips outside CI, fails under CI=true (tests/README: a skipped test in CI is a failure).
#define FERRY_REQUIRE_TOOL(tool)                                                              \
  do {                                                                                        \
    if (!Have(tool)) {                                                                        \
      const char* ci = std::getenv("CI");                                                     \
      if (ci && std::string(ci) == "true") FAIL() << tool << " is missing under CI";          \
      GTEST_SKIP() << tool << " is missing (Debian package prometheus; deploy/install-deps)"; \
    }                                                                                         \
  } while (0)

// The value of the sample `series` (name and labels exactly as exposed), if present.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// stdout and stderr of `command` with `input` on its stdin, and its exit status.
std::pair<int, std::string> RunWithInput(const std::string& command, const std::string& input) {
  const std::string in_path = TempDir("ferry-metrics") + "/in";
  std::ofstream(in_path) << input;
  FILE* p = popen((command + " < " + in_path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  return {pclose(p), out};
}

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

class Metrics : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> controller_args = {}, int service_down_time_s = 60) {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn, controller_args, service_down_time_s);
    // 20 MB/s: a 512 MB guest copies for ~27 s, long enough for Prometheus to start and scrape.
    lm_->StartHosts(
        {{"sim-1", {"--sim-bandwidth-mbps", "20"}}, {"sim-2", {"--sim-bandwidth-mbps", "20"}}});
    lm_->stack->EnsureFlavor("1", 1, 512, 1);
  }
  HttpClient Scraper() const { return HttpClient(lm_->stack->url(), kMetricsToken); }
  std::unique_ptr<LiveMigrationStack> lm_;
};

TEST_F(Metrics, OnlyAdminsAndTheMetricsRoleMayScrapeAndThatRoleNothingElse) {
  Start();
  auto& stack = *lm_->stack;
  EXPECT_EQ(stack.Anonymous().Get("/metrics").status, 401);
  EXPECT_EQ(stack.Member().Get("/metrics").status, 403);
  HttpClient agent(stack.url(), kAgentToken);
  EXPECT_EQ(agent.Get("/metrics").status, 403);
  auto scraped = Scraper().Get("/metrics");
  ASSERT_EQ(scraped.status, 200) << scraped.raw;
  EXPECT_EQ(scraped.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(scraped.raw.find("# TYPE ferry_moves_in_flight gauge"), std::string::npos);
  EXPECT_EQ(stack.Admin().Get("/metrics").status, 200);
  // Prometheus sends its credentials_file as a bearer token.
  HttpClient bearer(stack.url(), "");
  bearer.SetHeader("Authorization", std::string("Bearer ") + kMetricsToken);
  EXPECT_EQ(bearer.Get("/metrics").status, 200);
  // The metrics role may read nothing else.
  auto servers = Scraper().Get("/v2.1/servers");
  EXPECT_EQ(servers.status, 403) << servers.raw;
  EXPECT_EQ(Scraper().Get("/v2.1/os-hypervisors").status, 403);
  EXPECT_EQ(Scraper().Get("/v2.1/ferry/drains").status, 403);
  HttpClient bearer_servers(stack.url(), "");
  bearer_servers.SetHeader("Authorization", std::string("Bearer ") + kAdminToken);
  EXPECT_EQ(bearer_servers.Get("/v2.1/servers").status, 401) << "bearer tokens only on /metrics";

  // An agent's /metrics: its command token (or a metrics token file), nothing else.
  auto agent_metrics = stack.AgentApi("sim-1").Get("/metrics");
  ASSERT_EQ(agent_metrics.status, 200) << agent_metrics.raw;
  EXPECT_NE(agent_metrics.raw.find("# TYPE ferry_agent_commands_total counter"), std::string::npos);
  EXPECT_NE(agent_metrics.raw.find("ferry_agent_progress_posts_total{result=\"ok\"}"),
            std::string::npos);
  HttpClient agent_anon("http://127.0.0.1:" + std::to_string(stack.AgentPort("sim-1")), "");
  EXPECT_EQ(agent_anon.Get("/metrics").status, 401);
  HttpClient agent_member("http://127.0.0.1:" + std::to_string(stack.AgentPort("sim-1")),
                          kMetricsToken);
  EXPECT_EQ(agent_member.Get("/metrics").status, 401) << "no --metrics-token-file given";
}

// The orphaned-claims count is read in a transaction of its own: while another session holds
// the claims table exclusively (so that count cannot be read), a host that goes down still
// shows ferry_host_up 0 within service_down_time plus the cache, ferry_metrics_db_up says a
// read failed, and parallel scrapes all answer at once (one reads, the others do not wait for
// it). Once the lock is gone, the count is read again and db_up is 1.
TEST_F(Metrics, ALockedClaimsTableHoldsBackNoOtherGaugeAndNoScrape) {
  constexpr int kDownTime = 5;
  Start({}, kDownTime);
  const std::string sim2_up = "ferry_host_up{host=\"sim-2\"}";
  // The lock before the first scrape: the count (read every 60 s once it succeeds) is due on
  // every read from now on, and fails on each (the metrics' lock timeout, 0.5 s).
  pqxx::connection locker(lm_->stack->dsn());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE claims IN ACCESS EXCLUSIVE MODE");
  std::string text;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        text = Scraper().Get("/metrics").raw;
        return Sample(text, sim2_up) == 1.0;
      },
      20s))
      << text;
  EXPECT_EQ(Sample(text, "ferry_host_up{host=\"sim-1\"}"), 1.0);
  EXPECT_EQ(Sample(text, "ferry_metrics_db_up"), 0.0) << "the orphaned-claims count failed";
  EXPECT_EQ(Sample(text, "ferry_orphaned_claims"), 0.0) << "never read";

  lm_->stack->KillAgent("sim-2");
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        text = Scraper().Get("/metrics").raw;
        return Sample(text, sim2_up) == 0.0;
      },
      std::chrono::seconds(kDownTime + 10)))
      << text;
  std::cout << "ferry_host_up 0 after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count()
            << " s (service_down_time " << kDownTime << " s, cache 5 s)\n";
  EXPECT_EQ(Sample(text, "ferry_host_up{host=\"sim-1\"}"), 1.0);
  EXPECT_EQ(Sample(text, "ferry_hosts{state=\"down\"}"), 1.0);
  EXPECT_EQ(Sample(text, "ferry_metrics_db_up"), 0.0);

  // Parallel scrapes, several rounds (past the cache, so one of each round reads the database).
  for (int round = 0; round < 3; ++round) {
    constexpr int kScrapes = 8;
    std::vector<double> seconds(kScrapes, -1);
    std::vector<int> status(kScrapes, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < kScrapes; ++i) {
      threads.emplace_back([&, i] {
        const auto t0 = std::chrono::steady_clock::now();
        status[i] = Scraper().Get("/metrics").status;
        seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kScrapes; ++i) {
      EXPECT_EQ(status[i], 200) << "round " << round << " scrape " << i;
      EXPECT_LT(seconds[i], 1.5) << "round " << round << " scrape " << i;
    }
    std::this_thread::sleep_for(5s);
  }

  lock.abort();
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        text = Scraper().Get("/metrics").raw;
        return Sample(text, "ferry_metrics_db_up") == 1.0;
      },
      15s))
      << text;
  EXPECT_EQ(Sample(text, "ferry_orphaned_claims"), 0.0);
  EXPECT_EQ(Sample(text, sim2_up), 0.0);
}

TEST_F(Metrics, PromtoolIsCleanAndPrometheusSeesTheMovesInFlightThenNone) {
  FERRY_REQUIRE_TOOL("promtool");
  FERRY_REQUIRE_TOOL("prometheus");
  Start({"--max-concurrent-live-migrations", "2", "--max-inbound-live-migrations", "2"});
  auto a = lm_->ServerOn("sim-1", "a");
  auto b = lm_->ServerOn("sim-1", "b");
  for (const auto& id : {a, b}) {
    auto r = lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}});
    ASSERT_EQ(r.status, 202) << r.raw;
  }

  // The controller's exposition while both copy: values and lint.
  std::string text;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        text = Scraper().Get("/metrics").raw;
        return Sample(text, "ferry_moves_in_flight{kind=\"live-migration\"}") == 2.0;
      },
      20s))
      << text;
  auto [rc, lint] = RunWithInput("promtool check metrics", text);
  EXPECT_EQ(rc, 0) << lint;
  EXPECT_EQ(lint, "") << "promtool check metrics must print nothing";
  EXPECT_EQ(Sample(text, "ferry_moves_in_flight{kind=\"resize\"}"), 0.0);
  EXPECT_EQ(Sample(text, "ferry_hosts{state=\"up\"}"), 2.0);
  EXPECT_EQ(Sample(text, "ferry_host_up{host=\"sim-1\"}"), 1.0);
  EXPECT_TRUE(Sample(text, "ferry_host_heartbeat_age_seconds{host=\"sim-2\"}").has_value());
  EXPECT_EQ(Sample(text, "ferry_metrics_db_up"), 1.0);
  EXPECT_EQ(Sample(text, "ferry_orphaned_claims"), 0.0);
  EXPECT_EQ(Sample(text, "ferry_moves_stuck{kind=\"live-migration\",reason=\"lease_expired\"}"),
            0.0);
  EXPECT_GE(*Sample(text,
                    "ferry_api_request_duration_seconds_count{route=\"/v2.1/servers/{id}/"
                    "action\",method=\"POST\",code=\"202\"}"),
            2.0);
  EXPECT_TRUE(Sample(text, "ferry_db_pool_wait_seconds_count{pool=\"shared\"}").has_value());
  EXPECT_TRUE(Sample(text, "ferry_scheduler_select_duration_seconds_count{path=\"indexed\"}"));
  // The agent's exposition is clean too.
  auto agent_text = lm_->stack->AgentApi("sim-1").Get("/metrics").raw;
  auto [agent_rc, agent_lint] = RunWithInput("promtool check metrics", agent_text);
  EXPECT_EQ(agent_rc, 0) << agent_lint;
  EXPECT_EQ(agent_lint, "");
  EXPECT_EQ(Sample(agent_text, "ferry_agent_jobs_started_total{kind=\"live-migration\"}"), 2.0);

  // Debian's Prometheus scraping the running controller every second with the metrics token.
  const std::string dir = TempDir("ferry-prometheus");
  std::ofstream(dir + "/token") << kMetricsToken << "\n";
  const int port = FreePort();
  const std::string controller = lm_->stack->url().substr(std::string("http://").size());
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: ferry-controller\n    authorization:\n"
      << "      type: Bearer\n      credentials_file: " << dir << "/token\n"
      << "    static_configs:\n      - targets: [\"" << controller << "\"]\n";
  Process prometheus(
      "/usr/bin/prometheus",
      {"--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir + "/prometheus.log");
  httplib::Client api("127.0.0.1", port);
  auto in_flight = [&]() -> std::optional<double> {
    auto res = api.Get("/api/v1/query?query=sum(ferry_moves_in_flight)");
    if (!res || res->status != 200) return std::nullopt;
    auto body = json::parse(res->body, nullptr, false);
    if (body.is_discarded() || body["data"]["result"].empty()) return std::nullopt;
    return std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
  };
  ASSERT_TRUE(Stack::WaitFor([&] { return in_flight() == 2.0; }, 30s))
      << prometheus.Log() << "\nlast answer: " << in_flight().value_or(-1);
  ASSERT_TRUE(lm_->WaitStatus(a, "completed", 90s)) << lm_->LatestMigration(a).dump();
  ASSERT_TRUE(lm_->WaitStatus(b, "completed", 90s)) << lm_->LatestMigration(b).dump();
  ASSERT_TRUE(Stack::WaitFor([&] { return in_flight() == 0.0; }, 30s))
      << "last answer: " << in_flight().value_or(-1);

  // What ended is counted where it ended.
  text = Scraper().Get("/metrics").raw;
  EXPECT_EQ(
      Sample(text, "ferry_moves_finished_total{kind=\"live-migration\",outcome=\"succeeded\"}"),
      2.0);
  EXPECT_EQ(Sample(text,
                   "ferry_move_duration_seconds_count{kind=\"live-migration\",outcome="
                   "\"succeeded\"}"),
            2.0);
  EXPECT_GT(*Sample(text, "ferry_moved_bytes_total{kind=\"live-migration\"}"), 1e9);
  EXPECT_GT(*Sample(text, "ferry_progress_rows_total"), 0.0);
  agent_text = lm_->stack->AgentApi("sim-1").Get("/metrics").raw;
  EXPECT_EQ(
      Sample(agent_text, "ferry_agent_jobs_total{kind=\"live-migration\",result=\"completed\"}"),
      2.0);
}

}  // namespace
}  // namespace ferry::testing
