// The dashboard's expensive counts (controller/web/refreshed_count.hpp, count_refresher.hpp):
// a request answers the last value at once and the refresher reads a count that is due; only a
// cold count (none read, or expired) is read by the request; a failing read is tried once per
// retry window instead of on every poll; nothing is read while nobody asks.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "controller/conductor/periodic.hpp"
#include "controller/web/count_refresher.hpp"
#include "controller/web/refreshed_count.hpp"

namespace ferry::controller::web {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct FakeClock {
  std::chrono::steady_clock::time_point t{};
  RefreshedCount::Now Fn() {
    return [this] { return t; };
  }
};

// A count on a fake clock whose refresher is the test: RefreshIfDue is called by hand.
struct Counted {
  FakeClock clock;
  int reads = 0;
  std::function<json()> fetch = [this] { return json(++reads * 10); };
  std::string logged;
  RefreshedCount count;
  explicit Counted(RefreshedCount::Timing timing)
      : count(
            timing, [this] { return fetch(); }, [this](const std::string& why) { logged = why; },
            clock.Fn()) {}
};

TEST(RefreshedCount, AColdCountIsReadByTheRequestADueOneBehindIt) {
  Counted c({60s, 10s, 1h});
  EXPECT_EQ(c.count.Get(), 10) << "the first ask reads: a page shows numbers at once";
  c.clock.t += 59s;
  EXPECT_EQ(c.count.Get(), 10);
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 1) << "not due yet";
  c.clock.t += 1s;
  EXPECT_EQ(c.count.Get(), 10) << "due: the request answers the last value";
  EXPECT_EQ(c.reads, 1) << "and does not read";
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 2);
  EXPECT_EQ(c.count.Get(), 20);
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 2) << "read 0 s ago: not due";
}

TEST(RefreshedCount, NothingIsReadWhileNobodyAsks) {
  Counted c({2s, 10s, 30s});
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 0) << "never asked";
  EXPECT_EQ(c.count.Get(), 10);
  c.clock.t += 10s;
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 1) << "asked before the last read only";
  EXPECT_EQ(c.count.Get(), 10) << "10 s old, asked: due";
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 2);
}

TEST(RefreshedCount, AFailingReadIsTriedOncePerRetryWindowAndKeepsTheLastValue) {
  Counted c({60s, 10s, 1h});
  c.fetch = [&]() -> json {
    ++c.reads;
    throw std::runtime_error("statement timeout");
  };
  EXPECT_TRUE(c.count.Get().is_null()) << "nothing read yet";
  EXPECT_EQ(c.logged, "statement timeout");
  for (int i = 0; i < 50; ++i) {  // 50 polls within the window, and the refresher's looks
    c.count.Get();
    c.count.RefreshIfDue();
  }
  EXPECT_EQ(c.reads, 1);
  c.clock.t += 10s;
  c.count.Get();
  EXPECT_EQ(c.reads, 2) << "still cold: the request tries again";
  c.clock.t += 10s;
  c.fetch = [] { return json(3); };
  EXPECT_EQ(c.count.Get(), 3);
  c.clock.t += 60s;
  c.fetch = [&]() -> json { throw std::runtime_error("lost connection"); };
  EXPECT_EQ(c.count.Get(), 3);
  c.count.RefreshIfDue();
  EXPECT_EQ(c.logged, "lost connection");
  EXPECT_EQ(c.count.Get(), 3) << "a failure keeps the last value";
}

// A request that arrives while a read is under way asks for the next one: the refresher reads
// again once that is due, though nobody asked after the read.
TEST(RefreshedCount, AnAskDuringAReadAsksForTheNextOne) {
  Counted c({2s, 10s, 30s});
  EXPECT_EQ(c.count.Get(), 10);
  c.clock.t += 2s;
  c.fetch = [&] {
    c.count.Get();  // a poll during the read (the read holds no lock a poll takes)
    return json(++c.reads * 10);
  };
  c.count.Get();
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 2);
  c.fetch = [&] { return json(++c.reads * 10); };
  c.clock.t += 2s;
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 3) << "the poll during the read asked for this one";
  c.clock.t += 2s;
  c.count.RefreshIfDue();
  EXPECT_EQ(c.reads, 3) << "nobody asked since";
}

// RefreshDue reads each count that is due and asked for, a count added later too, and leaves
// the others.
TEST(CountRefresher, RefreshDueReadsEachCountThatIsDueAndAskedFor) {
  CountRefresher refresher;
  int a_reads = 0, b_reads = 0;
  auto a = refresher.Add({0ms, 0ms, 1h}, [&] { return json(++a_reads); }, {});
  EXPECT_EQ(a->Get(), 1);
  refresher.RefreshDue();
  EXPECT_EQ(a_reads, 1) << "nobody asked since the read";
  a->Get();
  auto b = refresher.Add({0ms, 0ms, 1h}, [&] { return json(++b_reads); }, {});
  EXPECT_EQ(b->Get(), 1);
  b->Get();
  refresher.RefreshDue();
  EXPECT_EQ(a_reads, 2);
  EXPECT_EQ(b_reads, 2) << "added after the first RefreshDue";
}

// Reads that keep failing leave the last value served for expire_after, then none: a tile shows
// a dash rather than a number that stopped changing. The next attempt is timed from when the
// failed read ended.
TEST(RefreshedCount, ALastValueIsServedUntilItExpires) {
  Counted c({2s, 10s, 30s});
  c.fetch = [] { return json(5); };
  EXPECT_EQ(c.count.Get(), 5);
  int attempts = 0;
  c.fetch = [&]() -> json {
    ++attempts;
    c.clock.t += 2s;  // the read takes its whole statement timeout
    throw 42;         // not even a std::exception
  };
  c.clock.t += 2s;
  EXPECT_EQ(c.count.Get(), 5);
  c.count.RefreshIfDue();
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(c.logged, "unknown error");
  c.clock.t += 9s;
  c.count.Get();
  c.count.RefreshIfDue();
  EXPECT_EQ(attempts, 1) << "retried 10 s after the failed read ended, not after it began";
  c.clock.t += 1s;
  EXPECT_EQ(c.count.Get(), 5) << "14 s old";
  c.count.RefreshIfDue();
  EXPECT_EQ(attempts, 2);
  c.clock.t += 15s;
  EXPECT_TRUE(c.count.Get().is_null()) << "31 s old: expired";
  c.clock.t += 10s;
  c.fetch = [] { return json(6); };
  EXPECT_EQ(c.count.Get(), 6) << "expired is cold: the request reads, and serves again";
}

// The live moves' tiles keep two counts read together: the object is served as read.
TEST(RefreshedCount, KeepsAnObjectOfCountsAsRead) {
  Counted c({2s, 10s, 30s});
  c.fetch = [&] { return json{{"in_progress", 10 * ++c.reads}, {"queued", c.reads}}; };
  EXPECT_EQ(c.count.Get(), (json{{"in_progress", 10}, {"queued", 1}}));
  c.clock.t += 2s;
  c.count.Get();
  c.count.RefreshIfDue();
  EXPECT_EQ(c.count.Get(), (json{{"in_progress", 20}, {"queued", 2}}));
}

// With the refresher on a periodic thread, as main runs it: a request on a due count answers the
// last value while the refresher's read is under way (the read here blocks until the test lets
// it go), and the read lands.
TEST(CountRefresher, ARequestNeverWaitsForTheRefreshersRead) {
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  std::atomic<int> reads{0};
  CountRefresher refresher;
  auto count = refresher.Add({0ms, 0ms, 1h},  // due on every ask
                             [&]() -> json {
                               const int n = ++reads;
                               if (n == 1) return n;  // the cold read, on the request's thread
                               std::unique_lock lock(mu);
                               inside = true;
                               cv.notify_all();
                               cv.wait(lock, [&] { return release; });
                               return n;
                             },
                             {});
  conductor::Periodic task("test-counts", 5ms, [&] { refresher.RefreshDue(); });
  task.Start();
  EXPECT_EQ(count->Get(), 1);
  EXPECT_EQ(count->Get(), 1) << "due: answered at once, read by the refresher";
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return inside; })) << "the refresher never read";
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(count->Get(), 1) << "not blocked by the read";
  EXPECT_EQ(reads, 2) << "one read at a time";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (count->Get().get<int>() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(count->Get().get<int>(), 2) << "the refresher's read landed";
  task.Stop();
  const int after_stop = reads;
  count->Get();  // a route that outlives the refresher serves what it has
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reads, after_stop);
}

}  // namespace
}  // namespace ferry::controller::web
