#pragma once
// The only source of "now" in ferry. Production code takes a Clock&; tests pass a ManualClock
// and advance it instead of sleeping.
#include <atomic>
#include <chrono>

namespace ferry {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

class ManualClockForTest final : public Clock {
 public:
  explicit ManualClockForTest(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Advance(std::chrono::milliseconds d) {
    now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
  }

 private:
  std::atomic<TimePoint::rep> now_;
};

// Another clock shifted by a fixed offset: a host whose clock is wrong (tests of clock skew).
class OffsetClockForTest final : public Clock {
 public:
  OffsetClockForTest(const Clock& base, std::chrono::seconds offset)
      : base_(base), offset_(offset) {}
  TimePoint Now() const override { return base_.Now() + offset_; }

 private:
  const Clock& base_;
  std::chrono::seconds offset_;
};

// Process-wide default for code paths without an injected clock (log timestamps, main()).
Clock& DefaultClock();

}  // namespace ferry
