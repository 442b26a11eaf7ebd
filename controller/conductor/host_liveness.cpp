#include "controller/conductor/host_liveness.hpp"

#include <spdlog/spdlog.h>

#include "controller/store/hosts_store.hpp"

namespace ferry::controller::conductor {

bool MayMarkHostsDown(TimePoint now, std::optional<TimePoint> reachable_since,
                      std::chrono::seconds down_after) {
  return reachable_since.has_value() && now - *reachable_since >= down_after;
}

std::vector<std::string> HostLiveness::CheckOnce() {
  std::lock_guard lock(mu_);
  std::vector<std::string> down;
  bool suspended = false;
  try {
    db_.Transact([&](store::Tx& tx) {
      const TimePoint now = clock_.Now();
      if (!reachable_since_) {
        reachable_since_ = now;
        spdlog::info("host liveness: database reachable; hosts can go down from {}s on",
                     down_after_.count());
      }
      suspended = !MayMarkHostsDown(now, reachable_since_, down_after_);
      if (!suspended) down = store::MarkSilentHostsDown(tx, down_after_, now);
    });
  } catch (...) {
    if (reachable_since_) {
      spdlog::warn(
          "host liveness suspended reason=database unreachable; heartbeats cannot be "
          "recorded, so no host goes down until it has been reachable for {}s",
          down_after_.count());
    }
    reachable_since_.reset();
    throw;
  }
  for (const auto& name : down) {
    spdlog::warn("host down host={} reason=no heartbeat for {}s", name, down_after_.count());
  }
  return down;
}

}  // namespace ferry::controller::conductor
