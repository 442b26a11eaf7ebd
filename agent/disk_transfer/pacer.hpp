#pragma once
// The bandwidth limit as a token bucket (internal to agent/disk_transfer): bytes are charged
// before they go, and the answer is how long to wait first. The bucket starts empty and holds
// at most a short burst, so a limit holds from the first byte and after a pause alike.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ferry::agent::transfer {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Pacer(int64_t bytes_per_s) : rate_(bytes_per_s), free_at_(Clock::now()) {}

  // 0 when unlimited.
  Clock::duration Charge(int64_t bytes) {
    if (rate_ <= 0) return Clock::duration::zero();
    const auto now = Clock::now();
    // Credit for idle time up to kBurst only: a slow source does not earn a flood later.
    free_at_ = std::max(free_at_, now - kBurst) +
               std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(static_cast<double>(bytes) / rate_));
    return std::max(free_at_ - now, Clock::duration::zero());
  }

 private:
  // 50 ms: short next to the progress interval, long enough to absorb scheduling jitter.
  static constexpr std::chrono::milliseconds kBurst{50};
  int64_t rate_;
  Clock::time_point free_at_;
};

}  // namespace ferry::agent::transfer
