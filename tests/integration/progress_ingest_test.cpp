// M6 over HTTP: a progress post holding a NUL (any agent-token holder can send one) is refused
// with 400 on its own; a valid post from another host at the same moment, which may share its
// group-commit batch, still lands.
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Batch(const std::string& host, const std::string& migration, const std::string& state,
                  int64_t remaining, double sampled_at) {
  json report = {{"migration_uuid", migration},
                 {"state", state},
                 {"memory_total", 1LL << 30},
                 {"memory_remaining", remaining},
                 {"sampled_at", sampled_at}};
  return json{{"host", host}, {"reports", json::array({report})}}.dump();
}

TEST(ProgressIngestHttp, ANulFromOneHostIsRefusedAloneWhileAnotherHostsReportLands) {
  FERRY_REQUIRE_PG(dsn);
  LiveMigrationStack lm(dsn);
  // 20 MB/s: the copy runs for the whole test.
  lm.StartHosts(
      {{"sim-1", {"--sim-bandwidth-mbps", "20"}}, {"sim-2", {"--sim-bandwidth-mbps", "20"}}});
  lm.stack->EnsureFlavor("2", 1, 1024, 1);
  auto id = lm.ServerOn("sim-1", "web", "2");
  ASSERT_EQ(lm.MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm.WaitStatus(id, "running"));
  std::string migration;
  {
    pqxx::connection c(lm.stack->dsn());
    pqxx::work w(c);
    migration = w.exec1("SELECT uuid::text FROM migrations WHERE instance_uuid = '" + id +
                        "' ORDER BY id DESC LIMIT 1")[0]
                    .as<std::string>();
  }

  // Host B (the source) reports a value of its own, sampled after anything the real agent
  // sends during the test; host A's post carries a NUL in its state.
  const int64_t kMarker = 123456789;
  const std::string b_body = Batch("sim-1", migration, "running", kMarker, Now() + 3600);
  const std::string a_body = Batch("sim-2", migration, std::string("x\0", 2), 1, Now() + 3600);
  ASSERT_NE(a_body.find("\\u0000"), std::string::npos);
  HttpClient agent(lm.stack->url(), kAgentToken);
  HttpResult a, b;
  for (int round = 0; round < 5; ++round) {
    std::latch go(2);
    std::thread ta([&] {
      go.arrive_and_wait();
      a = agent.PostRaw("/agent/v1/migration-progress", a_body);
    });
    std::thread tb([&] {
      go.arrive_and_wait();
      b = agent.PostRaw("/agent/v1/migration-progress", b_body);
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a.status, 400) << a.raw;
    EXPECT_EQ(b.status, 204) << b.raw;
  }
  pqxx::connection c(lm.stack->dsn());
  pqxx::work w(c);
  auto row = w.exec1("SELECT memory_remaining FROM migrations WHERE uuid = '" + migration + "'");
  EXPECT_EQ(row[0].as<int64_t>(), kMarker) << "host B's report landed";
}

}  // namespace
}  // namespace ferry::testing
