#pragma once
// A warning that can repeat on every request is logged at most once a period, with how many
// were held back since: a database away for a minute must not write a line per request (a log
// nobody can read, and a disk that fills).
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace ferry {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration period) : period_(period) {}

  // Whether to log now; if so, how many were held back since the last one logged.
  std::optional<int64_t> Allow(Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (last_ && now - *last_ < period_) {
      ++held_back_;
      return std::nullopt;
    }
    last_ = now;
    const int64_t held = held_back_;
    held_back_ = 0;
    return held;
  }

 private:
  const Clock::duration period_;
  std::mutex mu_;
  std::optional<Clock::time_point> last_;
  int64_t held_back_ = 0;
};

}  // namespace ferry
