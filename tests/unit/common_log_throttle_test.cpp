// LogThrottle: the first warning is logged, repeats within the period are held back and
// counted, and the next one after the period says how many were held back.
#include <gtest/gtest.h>

#include "common/log_throttle.hpp"

namespace ferry {
namespace {

using std::chrono::seconds;

TEST(LogThrottle, LogsOncePerPeriodAndCountsWhatItHeldBack) {
  LogThrottle throttle(seconds(60));
  const auto t0 = LogThrottle::Clock::time_point(seconds(1000));
  ASSERT_EQ(throttle.Allow(t0), std::optional<int64_t>(0));
  EXPECT_FALSE(throttle.Allow(t0 + seconds(1)));
  EXPECT_FALSE(throttle.Allow(t0 + seconds(30)));
  EXPECT_FALSE(throttle.Allow(t0 + seconds(59)));
  EXPECT_EQ(throttle.Allow(t0 + seconds(60)), std::optional<int64_t>(3));
  EXPECT_FALSE(throttle.Allow(t0 + seconds(61)));
  // A quiet spell longer than the period: the next is logged, one held back before it.
  EXPECT_EQ(throttle.Allow(t0 + seconds(500)), std::optional<int64_t>(1));
  EXPECT_EQ(throttle.Allow(t0 + seconds(600)), std::optional<int64_t>(0));
}

}  // namespace
}  // namespace ferry
