#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::conductor {

// Marks hosts down after `down_after` without a heartbeat (Nova's service_down_time, 60 s by
// default). A host comes back up with its next heartbeat (HostRegistry).
class HostLiveness {
 public:
  HostLiveness(store::Database& db, const Clock& clock, std::chrono::seconds down_after)
      : db_(db), clock_(clock), down_after_(down_after) {}
  // One pass; returns the hosts it marked down.
  std::vector<std::string> CheckOnce();
  std::chrono::seconds down_after() const { return down_after_; }

 private:
  store::Database& db_;
  const Clock& clock_;
  std::chrono::seconds down_after_;
};

}  // namespace ferry::controller::conductor
