// The liveness gate: hosts may go down only once the controller has reached the database for a
// whole service_down_time. Table-tested over explicit times (no clock, no database).
#include <gtest/gtest.h>

#include "controller/conductor/host_liveness.hpp"

namespace ferry::controller::conductor {
namespace {

using namespace std::chrono_literals;

TimePoint T(int64_t s) { return TimePoint(std::chrono::seconds(1'700'000'000 + s)); }

struct GateCase {
  const char* what;
  int64_t now;
  std::optional<int64_t> reachable_since;
  int64_t down_after;
  bool may_mark_down;
};

TEST(HostLivenessGate, HostsGoDownOnlyAfterAFullServiceDownTimeOfReachableDatabase) {
  const GateCase cases[] = {
      {"never reached the database yet", 1000, std::nullopt, 60, false},
      {"just started (or just recovered)", 1000, 1000, 60, false},
      {"reachable for less than service_down_time", 1059, 1000, 60, false},
      {"reachable for exactly service_down_time", 1060, 1000, 60, true},
      {"reachable for long", 5000, 1000, 60, true},
      {"short service_down_time, as in tests", 1003, 1000, 3, true},
      {"clock stepped back before reachable_since", 900, 1000, 60, false},
  };
  for (const auto& c : cases) {
    std::optional<TimePoint> since;
    if (c.reachable_since) since = T(*c.reachable_since);
    EXPECT_EQ(MayMarkHostsDown(T(c.now), since, std::chrono::seconds(c.down_after)),
              c.may_mark_down)
        << c.what;
  }
}

}  // namespace
}  // namespace ferry::controller::conductor
