#include "controller/conductor/host_liveness.hpp"

#include <spdlog/spdlog.h>

#include "controller/store/hosts_store.hpp"

namespace ferry::controller::conductor {

std::vector<std::string> HostLiveness::CheckOnce() {
  std::vector<std::string> down;
  db_.Transact([&](store::Tx& tx) { down = store::MarkSilentHostsDown(tx, clock_.Now() - down_after_); });
  for (const auto& name : down) {
    spdlog::warn("host down host={} reason=no heartbeat for {}s", name, down_after_.count());
  }
  return down;
}

}  // namespace ferry::controller::conductor
