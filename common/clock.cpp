#include "common/clock.hpp"

namespace ferry {

TimePoint SystemClock::Now() const { return std::chrono::system_clock::now(); }

Clock& DefaultClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace ferry
