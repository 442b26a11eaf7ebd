// The dashboard's expensive counts (controller/web/refreshed_count.hpp): read at most once per
// max_age, the last value served meanwhile and to callers that arrive during a refresh, and a
// failing read tried once per retry window instead of on every poll.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "controller/web/refreshed_count.hpp"

namespace ferry::controller::web {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point t{};
  RefreshedCount::Now Fn() {
    return [this] { return t; };
  }
};

TEST(RefreshedCount, ReadsOncePerMaxAgeAndServesTheLastValueMeanwhile) {
  FakeClock clock;
  RefreshedCount count(60s, 10s, 1h, clock.Fn());
  int reads = 0;
  auto fetch = [&] { return static_cast<int64_t>(++reads * 10); };
  EXPECT_EQ(count.Get(fetch), 10);
  clock.t += 59s;
  EXPECT_EQ(count.Get(fetch), 10);
  EXPECT_EQ(reads, 1);
  clock.t += 1s;
  EXPECT_EQ(count.Get(fetch), 20);
  EXPECT_EQ(reads, 2);
}

TEST(RefreshedCount, AFailingReadIsTriedOncePerRetryWindowAndKeepsTheLastValue) {
  FakeClock clock;
  RefreshedCount count(60s, 10s, 1h, clock.Fn());
  int attempts = 0;
  std::string logged;
  auto failing = [&]() -> int64_t {
    ++attempts;
    throw std::runtime_error("statement timeout");
  };
  auto log = [&](const std::string& why) { logged = why; };
  EXPECT_TRUE(count.Get(failing, log).is_null()) << "nothing read yet";
  EXPECT_EQ(logged, "statement timeout");
  for (int i = 0; i < 50; ++i) count.Get(failing, log);  // 50 polls within the window
  EXPECT_EQ(attempts, 1);
  clock.t += 10s;
  count.Get(failing, log);
  EXPECT_EQ(attempts, 2);
  clock.t += 10s;
  EXPECT_EQ(count.Get([] { return int64_t{3}; }), 3);
  clock.t += 60s;
  EXPECT_EQ(count.Get(failing, log), 3) << "a failure keeps the last value";
}

TEST(RefreshedCount, CallersDuringARefreshAnswerAtOnceWithTheLastValue) {
  RefreshedCount count(0ms, 0ms, 1h);  // every call wants a refresh
  EXPECT_EQ(count.Get([] { return int64_t{7}; }), 7);
  std::atomic<bool> inside{false}, release{false};
  std::thread slow([&] {
    count.Get([&] {
      inside = true;
      while (!release) std::this_thread::sleep_for(1ms);
      return int64_t{8};
    });
  });
  while (!inside) std::this_thread::sleep_for(1ms);
  int other_reads = 0;
  EXPECT_EQ(count.Get([&] { return int64_t{++other_reads}; }), 7) << "not blocked, last value";
  EXPECT_EQ(other_reads, 0) << "one refresh at a time";
  release = true;
  slow.join();
  EXPECT_EQ(count.Get([] { return int64_t{9}; }), 9);
}

// The live moves' tiles keep two counts read together: the object is served as read.
TEST(RefreshedCount, KeepsAnObjectOfCountsAsRead) {
  FakeClock clock;
  RefreshedCount counts(2s, 10s, 30s, clock.Fn());
  int reads = 0;
  auto fetch = [&] {
    ++reads;
    return nlohmann::json{{"in_progress", 10 * reads}, {"queued", reads}};
  };
  EXPECT_EQ(counts.Get(fetch), (nlohmann::json{{"in_progress", 10}, {"queued", 1}}));
  clock.t += 1s;
  EXPECT_EQ(counts.Get(fetch)["in_progress"], 10) << "within 2 s: the last read";
  clock.t += 1s;
  EXPECT_EQ(counts.Get(fetch), (nlohmann::json{{"in_progress", 20}, {"queued", 2}}));
  EXPECT_EQ(reads, 2);
}

// Reads that keep failing leave the last value served for expire_after, then none: a tile shows
// a dash rather than a number that stopped changing. The next attempt is timed from when the
// failed read ended.
TEST(RefreshedCount, ALastValueIsServedUntilItExpires) {
  FakeClock clock;
  RefreshedCount count(2s, 10s, 30s, clock.Fn());
  EXPECT_EQ(count.Get([] { return int64_t{5}; }), 5);
  int attempts = 0;
  auto slow_failing = [&]() -> nlohmann::json {
    ++attempts;
    clock.t += 2s;  // the read takes its whole statement timeout
    throw 42;       // not even a std::exception
  };
  clock.t += 2s;
  EXPECT_EQ(count.Get(slow_failing), 5) << "4 s old";
  EXPECT_EQ(attempts, 1);
  clock.t += 9s;
  count.Get(slow_failing);
  EXPECT_EQ(attempts, 1) << "retried 10 s after the failed read ended, not after it began";
  clock.t += 1s;
  EXPECT_EQ(count.Get(slow_failing), 5) << "16 s old";
  EXPECT_EQ(attempts, 2);
  clock.t += 14s;
  EXPECT_TRUE(count.Get(slow_failing).is_null()) << "32 s old: expired";
  clock.t += 10s;
  EXPECT_EQ(count.Get([] { return int64_t{6}; }), 6) << "a good read serves again";
}

}  // namespace
}  // namespace ferry::controller::web
