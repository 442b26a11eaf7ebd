// CommandLog: the memory behind "commands are idempotent by id".
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "agent/command_log.hpp"

namespace ferry::agent {
namespace {

wire::CommandResult Done(const std::string& id) { return {id, "done", "", std::nullopt, nullptr}; }

TEST(CommandLog, FirstSightExecutesAndRepeatReplaysTheStoredResult) {
  CommandLog log(10);
  EXPECT_EQ(log.Begin("a", "create").claim, CommandLog::Claim::kExecute);
  log.Finish("a", {"a", "failed", "boom", std::nullopt, nullptr});
  auto again = log.Begin("a", "create");
  EXPECT_EQ(again.claim, CommandLog::Claim::kReplay);
  EXPECT_EQ(again.result.status, "failed");
  EXPECT_EQ(again.result.error, "boom");
}

TEST(CommandLog, SameIdWithOtherContentIsAMismatch) {
  CommandLog log(10);
  log.Begin("a", "create");
  EXPECT_EQ(log.Begin("a", "delete").claim, CommandLog::Claim::kMismatch);  // while running
  log.Finish("a", Done("a"));
  EXPECT_EQ(log.Begin("a", "delete").claim, CommandLog::Claim::kMismatch);  // after
}

TEST(CommandLog, AbandonedIdCanRunAgain) {
  CommandLog log(10);
  log.Begin("a", "create");
  log.Abandon("a");
  EXPECT_EQ(log.Begin("a", "create").claim, CommandLog::Claim::kExecute);
}

TEST(CommandLog, RemembersOnlyTheNewestCapacityIds) {
  CommandLog log(3);
  for (std::string id : {"a", "b", "c", "d"}) {
    log.Begin(id, "x");
    log.Finish(id, Done(id));
  }
  EXPECT_EQ(log.SizeForTest(), 3u);
  EXPECT_EQ(log.Begin("d", "x").claim, CommandLog::Claim::kReplay);
  EXPECT_EQ(log.Begin("b", "x").claim, CommandLog::Claim::kReplay);
  EXPECT_EQ(log.Begin("a", "x").claim, CommandLog::Claim::kExecute);  // evicted, oldest
}

TEST(CommandLog, ADuplicateOfARunningCommandIsToldAtOnceAndNeverRunsTwice) {
  CommandLog log(10);
  EXPECT_EQ(log.Begin("same", "create").claim, CommandLog::Claim::kExecute);
  // Eight retries while the first runs: none waits, none executes.
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(log.Begin("same", "create").claim, CommandLog::Claim::kInProgress);
  log.Finish("same", Done("same"));
  EXPECT_EQ(log.Begin("same", "create").claim, CommandLog::Claim::kReplay);
}

TEST(CommandLog, ConcurrentDuplicatesActOnce) {
  CommandLog log(10);
  std::atomic<int> executions{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto lookup = log.Begin("same", "create");
      if (lookup.claim == CommandLog::Claim::kExecute) {
        ++executions;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // hold the claim a while
        log.Finish("same", Done("same"));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(executions, 1);
}

TEST(CommandLog, LargeCommandsAreRememberedByAFixedSizeHash) {
  CommandLog log(10);
  const std::string big(1 << 20, 'x');  // 1 MiB of args
  log.Begin("a", big);
  log.Finish("a", Done("a"));
  EXPECT_EQ(log.Begin("a", big).claim, CommandLog::Claim::kReplay);
  EXPECT_EQ(log.Begin("a", big + "y").claim, CommandLog::Claim::kMismatch);
}

}  // namespace
}  // namespace ferry::agent
