#pragma once
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::conductor {

// Whether silence may count against hosts now. Heartbeats are recorded in the database, so
// while the controller cannot reach it (or before it first could: a controller that was down
// recorded none either) a silent host proves nothing. Down-marking resumes only once the
// controller has reached the database for a whole `down_after` without a failure, which gives
// every live agent, whatever its retry backoff (at most 30 s, agent/reporter.hpp), the same
// time to be heard that a host is given in normal operation. Pure: `reachable_since` is when
// the current unbroken run of successful database contacts began (nullopt: none yet, or the
// last contact failed).
bool MayMarkHostsDown(TimePoint now, std::optional<TimePoint> reachable_since,
                      std::chrono::seconds down_after);

// Marks hosts down after `down_after` without a heartbeat (Nova's service_down_time, 60 s by
// default). A host comes back up with its next heartbeat (HostRegistry).
class HostLiveness {
 public:
  HostLiveness(store::Database& db, const Clock& clock, std::chrono::seconds down_after)
      : db_(db), clock_(clock), down_after_(down_after) {}
  // One pass; returns the hosts it marked down. Throws when the database cannot be reached
  // (and remembers it: down-marking waits down_after past the next successful pass).
  std::vector<std::string> CheckOnce();
  std::chrono::seconds down_after() const { return down_after_; }

 private:
  store::Database& db_;
  const Clock& clock_;
  std::chrono::seconds down_after_;
  std::mutex mu_;
  std::optional<TimePoint> reachable_since_;
};

}  // namespace ferry::controller::conductor
