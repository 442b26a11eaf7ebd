// Agent traffic (heartbeats, progress posts) has worker threads of its own on the controller:
// API clients that keep every API thread busy cannot make hosts look down (review finding H2).
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/support/raw_http.hpp"
#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class AgentTrafficPool : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    StackOptions o;
    o.controller_args = {"--api-threads", "1", "--agent-api-threads", "1"};
    stack_ = std::make_unique<Stack>(dsn, o);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    stack_->StartAgent("sim-2");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"}));
  }
  void TearDown() override {
    if (stopped_agent_ > 0) kill(stopped_agent_, SIGCONT);
  }
  std::unique_ptr<Stack> stack_;
  pid_t stopped_agent_ = -1;
};

TEST_F(AgentTrafficPool, ProgressPostsAreAnsweredWhileEveryApiThreadIsBusy) {
  stack_->EnsureFlavor();
  auto id = stack_->CreateServer("busy", "1", "nova:sim-1");
  ASSERT_EQ(stack_->WaitServerSettled(id)["status"], "ACTIVE");
  // sim-2 stops answering, so a live migration to it before microversion 2.34 (which waits for
  // the destination check in the request) holds the one API thread for the agent command
  // timeout (30 s): a slow but valid API request.
  stopped_agent_ = stack_->AgentPid("sim-2");
  ASSERT_EQ(kill(stopped_agent_, SIGSTOP), 0);
  std::thread migrate([&] {
    auto admin = stack_->Admin();
    admin.SetMicroversion("2.25");
    admin.Post("/v2.1/servers/" + id + "/action",
               {{"os-migrateLive", {{"host", "sim-2"}, {"block_migration", "auto"}}}});
  });
  std::this_thread::sleep_for(1s);
  RawHttp api(std::stoi(stack_->url().substr(stack_->url().rfind(':') + 1)));
  ASSERT_TRUE(api.Send(std::string("GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ") +
                       kAdminToken + "\r\n\r\n"));
  EXPECT_FALSE(api.ReadResponse(2s)) << "the API thread was not busy: this test proves nothing";

  auto started = Clock::now();
  HttpClient agent(stack_->url(), kAgentToken);
  auto r = agent.Post("/agent/v1/migration-progress",
                      {{"host", "sim-1"}, {"reports", nlohmann::json::array()}});
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_LT(Clock::now() - started, 2s) << "agent traffic waited for the API's thread";

  kill(stopped_agent_, SIGCONT);
  stopped_agent_ = -1;
  migrate.join();
  EXPECT_TRUE(api.ReadResponse(35s)) << "the queued API request was never answered";
}

}  // namespace
}  // namespace ferry::testing
