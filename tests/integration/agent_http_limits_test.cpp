// The agents' command servers bound what a peer can make them hold (review findings H1, H2):
// on a hypervisor the OOM killer would pick a guest's QEMU before the agent, so an
// unauthenticated body must never be buffered. After each abusive request the agent still
// answers at once.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "tests/support/raw_http.hpp"
#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t k2GiB = 2ull << 30;
constexpr auto kPrompt = 2s;  // the bound for "still answers"

class AgentHttpLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    // 2 command threads so a dozen slow sockets outnumber them; a 2 s header timeout so the
    // test sees slow sockets closed soon.
    stack_->StartAgent("sim-1", {"--command-threads", "2", "--header-timeout", "2"});
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
    port_ = stack_->AgentPort("sim-1");
  }

  void ExpectStillServing() {
    auto started = Clock::now();
    EXPECT_EQ(stack_->AgentApi("sim-1").Get("/v1/inventory").status, 200);
    EXPECT_EQ(stack_->AgentApi("sim-1").Get("/v1/health").status, 200);
    EXPECT_LT(Clock::now() - started, kPrompt);
  }

  std::unique_ptr<Stack> stack_;
  int port_ = 0;
};

TEST_F(AgentHttpLimits, AHugeChunkedCommandWithoutATokenIsRefusedBeforeItIsRead) {
  const int64_t rss_before = ResidentKiB(stack_->AgentPid("sim-1"));
  RawHttp c(port_);
  std::optional<RawResponse> answer;
  uint64_t sent = StreamChunkedBody(c, "/v1/commands", "", k2GiB, &answer);
  EXPECT_LT(sent, 64ull << 20) << "the agent kept reading the body";
  if (answer) {
    EXPECT_EQ(answer->status, 401) << answer->body;
  }
  EXPECT_LT(ResidentKiB(stack_->AgentPid("sim-1")) - rss_before, 32 * 1024);
  ExpectStillServing();
}

TEST_F(AgentHttpLimits, AHugeChunkedCommandWithTheTokenStopsAtTheBodyLimit) {
  const int64_t rss_before = ResidentKiB(stack_->AgentPid("sim-1"));
  RawHttp c(port_);
  std::optional<RawResponse> answer;
  uint64_t sent = StreamChunkedBody(c, "/v1/commands", kCommandToken, k2GiB, &answer);
  EXPECT_LT(sent, 64ull << 20) << "the agent kept reading the body";
  ASSERT_TRUE(answer) << "no 413 after " << sent << " bytes";
  EXPECT_EQ(answer->status, 413);
  EXPECT_LT(ResidentKiB(stack_->AgentPid("sim-1")) - rss_before, 32 * 1024);
  ExpectStillServing();
}

TEST_F(AgentHttpLimits, AChunkSizeLineThatNeverEndsIsRefusedAtABound) {
  const int64_t rss_before = ResidentKiB(stack_->AgentPid("sim-1"));
  RawHttp c(port_);
  std::optional<RawResponse> answer;
  uint64_t sent =
      StreamUnterminatedChunkLine(c, "/v1/commands", kCommandToken, 256ull << 20, &answer);
  EXPECT_LT(sent, 16ull << 20) << "the agent kept buffering the chunk line";
  if (answer) {
    EXPECT_EQ(answer->status, 400) << answer->body;
  }
  EXPECT_LT(ResidentKiB(stack_->AgentPid("sim-1")) - rss_before, 32 * 1024);
  ExpectStillServing();
}

// /v1/health is the one request served without the token: it is a GET, and gets no body.
TEST_F(AgentHttpLimits, OnlyAGetOfHealthGoesWithoutTheTokenAndItGetsNoBody) {
  RawHttp post(port_);
  ASSERT_TRUE(post.Send("POST /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  auto r = post.ReadResponse(kPrompt);
  ASSERT_TRUE(r) << "no answer before the body";
  EXPECT_EQ(r->status, 401);
  RawHttp get(port_);
  ASSERT_TRUE(get.Send("GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  r = get.ReadResponse(kPrompt);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  ExpectStillServing();
}

TEST_F(AgentHttpLimits, ACompressedCommandIs415) {
  RawHttp c(port_);
  const std::string gz = GzipOfZeros(64 << 20);  // 64 MiB of zeros, ~64 KiB on the wire
  ASSERT_GT(gz.size(), 1000u);
  ASSERT_TRUE(c.Send(
      std::string("POST /v1/commands HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ") + kCommandToken +
      "\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(gz.size()) + "\r\n\r\n"));
  c.Send(gz);
  auto r = c.ReadResponse(kPrompt);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  ExpectStillServing();
}

TEST_F(AgentHttpLimits, OversizedHeadersAre431AndLongContentLengthIs413) {
  RawHttp big(port_);
  big.Send("GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(32 * 1024, 'a') +
           "\r\n\r\n");
  auto r = big.ReadResponse(kPrompt);
  if (r) {
    EXPECT_EQ(r->status, 431);
  }
  EXPECT_TRUE(r || big.ClosedWithin(kPrompt));

  RawHttp c(port_);
  ASSERT_TRUE(c.Send(std::string("POST /v1/commands HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ") +
                     kCommandToken + "\r\nContent-Length: 2147483648\r\n\r\n"));
  r = c.ReadResponse(kPrompt);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  ExpectStillServing();
}

// Review finding H2: with httplib, 9 sockets trickling header bytes froze an agent's 8 threads.
TEST_F(AgentHttpLimits, SlowHeadersHoldNoWorkerAndAreClosedAfterTheHeaderTimeout) {
  std::vector<std::unique_ptr<RawHttp>> slow;
  for (int i = 0; i < 12; ++i) {
    slow.push_back(std::make_unique<RawHttp>(port_, "127.0.0.2"));
    ASSERT_TRUE(slow.back()->Send("GET /v1/inventory HTTP/1.1\r\nHost: x\r\n"));
  }
  std::atomic<bool> done{false};
  std::atomic<int> open{0};
  std::thread trickle([&] {
    for (int round = 0; !done; ++round) {
      int still_open = 0;
      for (auto& s : slow) still_open += s->Send(round % 2 ? "\n" : "X-Slow: 1\r") ? 1 : 0;
      open = still_open;
      std::this_thread::sleep_for(200ms);
    }
  });
  std::this_thread::sleep_for(500ms);
  ExpectStillServing();
  bool all_closed = Stack::WaitFor([&] { return open == 0; }, 8s);
  done = true;
  trickle.join();
  EXPECT_TRUE(all_closed) << open << " slow sockets still open";
  ExpectStillServing();
}

// Kept-alive requests must not wait for the client's delayed ACK (40 ms): see the issue.
TEST_F(AgentHttpLimits, KeptAliveRequestsDoNotWaitForDelayedAcks) {
  RawHttp c(port_);
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    auto started = Clock::now();
    ASSERT_TRUE(c.Send(std::string("GET /v1/inventory HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ") +
                       kCommandToken + "\r\n\r\n"));
    auto r = c.ReadResponse(5s);
    ASSERT_TRUE(r) << "request " << i << " got no answer on the kept-alive connection";
    ASSERT_EQ(r->status, 200);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
  std::nth_element(ms.begin(), ms.begin() + 100, ms.end());
  EXPECT_LT(ms[100], 10.0) << "median of 200 kept-alive inventory GETs, ms";
}

}  // namespace
}  // namespace ferry::testing
