// H5: members' expensive server lists cannot starve the controller's own database work. Eight
// concurrent lists with a back-referencing `name` regex (each held to the name filter's 1 s
// bound, then 400) keep the API's whole pool busy; heartbeats, on a pool of their own, keep
// landing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

double HeartbeatAgeSeconds(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  return w
      .exec1(
          "SELECT extract(epoch from now() - last_heartbeat_at)::float8 FROM hosts "
          "WHERE name = 'sim-1'")[0]
      .as<double>();
}

TEST(DbStarvation, SlowListsDoNotStopHeartbeats) {
  FERRY_REQUIRE_PG(dsn);
  StackOptions options;
  options.heartbeat_interval_s = 1;
  Stack stack(dsn, options);
  stack.StartController();
  stack.StartAgent("sim-1");
  ASSERT_TRUE(Stack::WaitFor([&] { return stack.HostState("sim-1") == "up"; }, 20s));
  stack.EnsureFlavor("1", 1, 512, 1);
  // Names on which the regex below backtracks for seconds.
  for (int i = 0; i < 3; ++i)
    stack.WaitServerSettled(stack.CreateServer(std::string(254, 'a') + "c"));

  const std::string path = "/v2.1/servers?name=" + UrlEncode(R"(^((a+)\2)*a*\2c$)");
  std::atomic<bool> stop{false};
  std::atomic<int> lists{0}, refused{0};
  std::vector<std::thread> storm;
  for (int i = 0; i < 8; ++i) {
    storm.emplace_back([&] {
      while (!stop) {
        auto r = stack.Admin().Get(path);
        ++lists;
        if (r.status == 400) ++refused;
      }
    });
  }
  double worst_age = 0;
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    worst_age = std::max(worst_age, HeartbeatAgeSeconds(stack.dsn()));
    std::this_thread::sleep_for(100ms);
  }
  stop = true;
  for (auto& t : storm) t.join();
  EXPECT_GE(lists.load(), 8);
  EXPECT_EQ(refused.load(), lists.load()) << "each expensive list ends in 400";
  EXPECT_LT(worst_age, 2.0) << "a heartbeat waited behind the API's lists";
  EXPECT_EQ(stack.Admin().Get("/v2.1").status, 200);
}

}  // namespace
}  // namespace ferry::testing
