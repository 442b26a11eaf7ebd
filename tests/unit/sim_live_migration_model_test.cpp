// The sim's live-migration model, stepped by hand: pre-copy rounds, convergence within the
// allowed downtime, non-convergence, auto-converge, the stepwise downtime increase and both
// ways to force completion behave as QEMU/Nova do where the controller can tell.
#include <gtest/gtest.h>

#include "agent/drivers/sim/sim_migration_model.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

constexpr int64_t kMB = 1000 * 1000;

MigrationModelInput Input(int64_t memory_mib, int64_t rate_mb_s, int64_t dirty_mb_s) {
  MigrationModelInput in;
  in.memory_bytes = memory_mib * kBytesPerMiB;
  in.rate_bytes_per_s = rate_mb_s * kMB;
  in.dirty_bytes_per_s = dirty_mb_s * kMB;
  return in;
}

wire::LiveMigrationJob Stats(const MigrationModel& m) {
  wire::LiveMigrationJob j;
  m.FillStats(j);
  return j;
}

// Steps in 100 ms ticks (as the job thread does) until done or `seconds` have passed.
double RunFor(MigrationModel& m, double seconds) {
  double t = 0;
  while (!m.Done() && t < seconds) {
    m.Advance(0.1);
    t += 0.1;
  }
  return t;
}

TEST(MaxDowntime, RisesStepwiseFromMaxOverStepsToMax) {
  // Nova's defaults: 500 ms, 10 steps, 75 s per GiB; 2 GiB of data -> a step every 150 s.
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 0), 50);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 149.9), 50);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 150), 95);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 750), 275);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 1500), 500);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 75, 2.0, 1e9), 500);
  EXPECT_EQ(MaxDowntimeMsAt(500, 10, 0, 2.0, 0), 500) << "no delay: the maximum at once";
}

TEST(MigrationModel, IdleGuestSwitchesOverAfterOnePassAtTheRate) {
  MigrationModel m(Input(1024, 200, 0));
  EXPECT_EQ(Stats(m).memory_remaining, 1024 * kBytesPerMiB);
  EXPECT_EQ(Stats(m).phase, "precopy");
  double t = RunFor(m, 60);
  EXPECT_TRUE(m.Done());
  // 1 GiB at 200 MB/s is 5.37 s.
  EXPECT_NEAR(t, 5.4, 0.15);
  auto s = Stats(m);
  EXPECT_EQ(s.phase, "done");
  EXPECT_EQ(s.iteration, 1);
  EXPECT_EQ(s.memory_remaining, 0);
  EXPECT_EQ(s.memory_processed, s.memory_total);
  EXPECT_EQ(s.downtime_ms, 0);
}

TEST(MigrationModel, DirtyGuestConvergesInShrinkingRoundsWithinTheDowntime) {
  MigrationModel m(Input(1024, 200, 50));  // each round a quarter of the previous one
  int64_t previous = INT64_MAX;
  int last_iteration = 1;
  while (!m.Done()) {
    m.Advance(0.1);
    auto s = Stats(m);
    if (s.iteration != last_iteration && s.phase == "precopy") {
      EXPECT_LT(s.memory_remaining, previous) << "round " << s.iteration;
      previous = s.memory_remaining;
      last_iteration = s.iteration;
    }
    ASSERT_LT(s.iteration, 20);
  }
  auto s = Stats(m);
  EXPECT_GT(s.iteration, 2);
  EXPECT_GT(s.memory_processed, s.memory_total) << "dirtied pages were sent again";
  EXPECT_LE(s.downtime_ms, 50) << "switch-over only once the rest fits max_downtime/steps";
}

TEST(MigrationModel, GuestDirtyingFasterThanTheLinkNeverConverges) {
  MigrationModel m(Input(512, 100, 100));
  RunFor(m, 30);
  EXPECT_FALSE(m.Done());
  auto s = Stats(m);
  EXPECT_GT(s.iteration, 3);
  EXPECT_GE(s.memory_remaining, s.memory_total * 99 / 100) << "remaining stops falling";
  EXPECT_EQ(s.throttle_percent, 0) << "no auto-converge unless permitted";
  EXPECT_EQ(s.dirty_rate_bps, 100 * kMB);
}

TEST(MigrationModel, AutoConvergeThrottlesFromTheThirdRoundAndConverges) {
  MigrationModelInput in = Input(256, 100, 200);
  in.auto_converge = true;
  MigrationModel m(in);
  std::vector<int> throttles;  // per round
  while (!m.Done()) {
    m.Advance(0.1);
    if (m.Iteration() > static_cast<int>(throttles.size()))
      throttles.push_back(m.ThrottlePercent());
    ASSERT_LT(m.Iteration(), 40);
  }
  ASSERT_GE(throttles.size(), 4u);
  EXPECT_EQ(throttles[0], 0);
  EXPECT_EQ(throttles[1], 0);
  EXPECT_EQ(throttles[2], 20);
  EXPECT_EQ(throttles[3], 30);
  EXPECT_GT(Stats(m).throttle_percent, 50) << "200 MB/s on a 100 MB/s link needs > 50 %";
}

TEST(MigrationModel, DowntimeIncreaseLetsANearlyConvergingGuestSwitchOver) {
  // 10 MB/s dirtied on a 100 MB/s link: rounds level off near 0.1 s of data, above the first
  // allowed downtime (50 ms) but below the maximum (500 ms) reached after the steps.
  MigrationModelInput in = Input(256, 100, 90);
  in.downtime_delay_s = 1;  // a step every 2 s (2 GiB floor)
  MigrationModel m(in);
  RunFor(m, 5);
  EXPECT_FALSE(m.Done()) << "not within the first step";
  RunFor(m, 60);
  EXPECT_TRUE(m.Done());
  EXPECT_GT(Stats(m).downtime_ms, 50);
  EXPECT_LE(Stats(m).downtime_ms, 500);
}

TEST(MigrationModel, PostCopyAlwaysCompletesAndStopsDirtyingAtTheSource) {
  MigrationModel m(Input(512, 100, 300));
  RunFor(m, 8);
  ASSERT_FALSE(m.Done());
  m.StartPostcopy();
  auto s = Stats(m);
  EXPECT_EQ(s.phase, "postcopy");
  EXPECT_EQ(s.dirty_rate_bps, 0);
  EXPECT_LE(s.memory_remaining, s.memory_total);
  double t = RunFor(m, 30);
  EXPECT_TRUE(m.Done());
  EXPECT_LE(t, 512.0 * kBytesPerMiB / (100 * kMB) + 0.2) << "at most one more pass";
}

TEST(MigrationModel, PauseLetsTheCopyConvergeAndMeasuresTheDowntime) {
  MigrationModel m(Input(512, 100, 300));
  RunFor(m, 8);
  m.Pause();
  EXPECT_EQ(Stats(m).phase, "paused");
  EXPECT_EQ(Stats(m).dirty_rate_bps, 0);
  int64_t remaining = Stats(m).memory_remaining;
  double t = RunFor(m, 30);
  EXPECT_TRUE(m.Done());
  // The guest was paused for the whole drain of what was left.
  EXPECT_NEAR(Stats(m).downtime_ms, remaining * 1000.0 / (100 * kMB), 1.0);
  EXPECT_NEAR(t, remaining / (100.0 * kMB), 0.15);
}

TEST(MigrationModel, BlockMigrationCopiesTheDiskBeforeMemory) {
  MigrationModelInput in = Input(256, 200, 0);
  in.disk_bytes = kBytesPerGiB;
  MigrationModel m(in);
  m.Advance(2.0);
  auto s = Stats(m);
  EXPECT_EQ(s.memory_processed, 0);
  EXPECT_EQ(s.disk_processed, 400 * kMB);
  EXPECT_EQ(s.disk_remaining, kBytesPerGiB - 400 * kMB);
  EXPECT_NEAR(m.FirstPassFraction(), 400.0 * kMB / (kBytesPerGiB + 256 * kBytesPerMiB), 1e-6);
  RunFor(m, 60);
  EXPECT_TRUE(m.Done());
  EXPECT_EQ(Stats(m).disk_remaining, 0);
  EXPECT_EQ(Stats(m).memory_remaining, 0);
}

TEST(MigrationModel, ForceDuringTheDiskCopyAppliesWhenMemoryStarts) {
  MigrationModelInput in = Input(256, 200, 1000);
  in.disk_bytes = kBytesPerGiB;
  MigrationModel m(in);
  m.Advance(1.0);
  m.StartPostcopy();
  EXPECT_EQ(Stats(m).phase, "precopy") << "still copying the disk";
  RunFor(m, 60);
  EXPECT_TRUE(m.Done()) << "post-copy took over once RAM copying began";
}

TEST(MigrationModel, RefusesAZeroRate) { EXPECT_THROW(MigrationModel(Input(256, 0, 0)), Error); }

}  // namespace
}  // namespace ferry::agent::sim
