// --auth keystone when Keystone does not answer, and what no Keystone answer may cost: a
// Keystone that accepts connections and never replies (the worst case: every call waits out its
// timeout) must not hold the API for long — callers get 503 with Nova's body, and once Keystone
// was seen down, at once; a token only Keystone could judge gets a small body limit before
// anything is read; an agent's token on a user route is refused without asking Keystone.
// Needs no Keystone: the silent peer is a listening socket of the test's own.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "tests/support/raw_http.hpp"
#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using Seconds = std::chrono::duration<double>;

// A TCP listener on 127.0.0.1 that never accepts: connects succeed (the kernel's backlog) and
// no byte ever comes back.
class SilentPeer {
 public:
  SilentPeer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 256) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "silent peer: cannot listen";
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentPeer() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v3"; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class KeystoneUnreachable : public ::testing::Test {
 protected:
  void StartStack(const std::string& dsn) {
    const std::string password_file = ::testing::TempDir() + "/keystone-unreachable-password";
    std::ofstream(password_file) << "secret\n";
    StackOptions options;
    options.controller_args = {
        "--auth",     "keystone", "--keystone-url", peer_.url(), "--keystone-service-password-file",
        password_file};
    stack_ = std::make_unique<Stack>(dsn, options);
    stack_->StartController();
  }
  SilentPeer peer_;
  std::unique_ptr<Stack> stack_;
};

TEST_F(KeystoneUnreachable, ConcurrentCallersGet503SoonAndThenAtOnce) {
  FERRY_REQUIRE_PG(dsn);
  StartStack(dsn);
  // 16: the API's worker count. Each token distinct, so no answer can come from the cache.
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::future<HttpResult>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [this, i] {
      return HttpClient(stack_->url(), "unknown-token-" + std::to_string(i)).Get("/v2.1/servers");
    }));
  }
  for (auto& c : calls) {
    auto r = c.get();
    EXPECT_EQ(r.status, 503) << r.raw;
    EXPECT_EQ(r.body["serviceUnavailable"]["code"], 503) << r.raw;
  }
  const double wave = Seconds(std::chrono::steady_clock::now() - started).count();
  // One Keystone timeout (5 s) and the wait for a validation slot (2 s) at most, with room for a
  // loaded machine; without the bound on validations in flight, 16 x 5 s queue up behind it.
  EXPECT_LT(wave, 9.0) << "16 callers behind a silent Keystone";

  // Keystone was just seen down: the next unknown token is answered without waiting on it.
  const auto next = std::chrono::steady_clock::now();
  auto r = HttpClient(stack_->url(), "unknown-token-next").Get("/v2.1/servers");
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - next).count(), 1.5);
}

TEST_F(KeystoneUnreachable, AFloodOfUnknownTokensDoesNotHoldTheApiWorkers) {
  FERRY_REQUIRE_PG(dsn);
  StartStack(dsn);
  // 32 unknown tokens at once, each waiting on the silent Keystone: they queue in a pool of
  // their own, so requests that need no Keystone (discovery here; cached tokens alike) are
  // answered at once instead of behind them.
  std::vector<std::future<HttpResult>> flood;
  for (int i = 0; i < 32; ++i) {
    flood.push_back(std::async(std::launch::async, [this, i] {
      return HttpClient(stack_->url(), "flood-token-" + std::to_string(i)).Get("/v2.1/servers");
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flood is in
  const auto started = std::chrono::steady_clock::now();
  auto r = stack_->Anonymous().Get("/");
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - started).count(), 1.0)
      << "version discovery waited behind the flood";
  for (auto& f : flood) EXPECT_EQ(f.get().status, 503);
}

TEST_F(KeystoneUnreachable, UnverifiedTokenGetsASmallBodyLimitBeforeAnythingIsRead) {
  FERRY_REQUIRE_PG(dsn);
  StartStack(dsn);
  const std::string& url = stack_->url();  // http://127.0.0.1:PORT
  RawHttp c(std::stoi(url.substr(url.rfind(':') + 1)));
  ASSERT_TRUE(c.connected());
  // 1 MiB announced (the limit for known callers), headers only: the answer must come without
  // the body, and without Keystone (which would take 5 s and give 503).
  ASSERT_TRUE(
      c.Send("POST /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: junk\r\n"
             "Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"));
  auto answer = c.ReadResponse(std::chrono::seconds(2));
  ASSERT_TRUE(answer.has_value()) << "no answer without the body";
  EXPECT_EQ(answer->status, 413) << answer->body;
}

TEST_F(KeystoneUnreachable, AgentTokenOnAUserRouteIsRefusedWithoutAskingKeystone) {
  FERRY_REQUIRE_PG(dsn);
  StartStack(dsn);
  const auto started = std::chrono::steady_clock::now();
  auto r = HttpClient(stack_->url(), kAgentToken).Get("/v2.1/servers");
  EXPECT_EQ(r.status, 401) << r.raw;
  // Keystone never answers: a 401 (not a 503 after its timeout) shows it was not asked.
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - started).count(), 2.0);
}

}  // namespace
}  // namespace ferry::testing
