// moves::StatusWaiters: what a pre-2.34 live-migrate request relies on to wait for the
// pre-checks without polling the database. A change between the watch and the wait is not
// lost, a change of another move does not wake the wait, and the deadline ends it.
#include <gtest/gtest.h>

#include <thread>

#include "controller/moves/status_waiters.hpp"

namespace ferry::controller::moves {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(StatusWaiters, AChangeAfterTheWatchBeganIsSeenEvenBeforeTheWait) {
  StatusWaiters board;
  StatusWaiters::Watch watch(board, "m1");
  board.Changed("m1");
  EXPECT_TRUE(watch.WaitForChange(Clock::now() + 10ms));
  EXPECT_FALSE(watch.WaitForChange(Clock::now() + 10ms)) << "each change is seen once";
}

TEST(StatusWaiters, AChangeOnAnotherThreadWakesTheWaitAndOthersDoNot) {
  StatusWaiters board;
  StatusWaiters::Watch watch(board, "m1");
  std::thread other([&] {
    std::this_thread::sleep_for(20ms);
    board.Changed("m2");
    std::this_thread::sleep_for(50ms);
    board.Changed("m1");
  });
  const auto started = Clock::now();
  EXPECT_TRUE(watch.WaitForChange(started + 5s));
  EXPECT_GE(Clock::now() - started, 60ms) << "m2's change woke m1's wait";
  EXPECT_LT(Clock::now() - started, 4s);
  other.join();
}

TEST(StatusWaiters, TheDeadlineEndsTheWait) {
  StatusWaiters board;
  StatusWaiters::Watch watch(board, "m1");
  const auto started = Clock::now();
  EXPECT_FALSE(watch.WaitForChange(started + 50ms));
  EXPECT_GE(Clock::now() - started, 50ms);
}

TEST(StatusWaiters, TwoWatchesOfOneMoveBothSeeAChangeAndTheLastOneCleansUp) {
  StatusWaiters board;
  {
    StatusWaiters::Watch a(board, "m1");
    {
      StatusWaiters::Watch b(board, "m1");
      board.Changed("m1");
      EXPECT_TRUE(b.WaitForChange(Clock::now() + 10ms));
    }
    EXPECT_TRUE(a.WaitForChange(Clock::now() + 10ms)) << "b's end did not take a's watch";
  }
  board.Changed("m1");  // nobody watches: nothing to keep
  StatusWaiters::Watch fresh(board, "m1");
  EXPECT_FALSE(fresh.WaitForChange(Clock::now() + 10ms)) << "a change before the watch";
}

}  // namespace
}  // namespace ferry::controller::moves
