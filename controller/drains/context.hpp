#pragma once
// What the drain service and runner need, and the drain options (controller flags).
#include <chrono>

#include "common/clock.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/moves/engine_options.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::drains {

struct Options {
  // What a move's bytes travel at, for a plan's predictions and a drain's ETA (MiB/s).
  double link_mibps = 1024;
  // The hypervisor's caps on one move (--live-migration-bandwidth, --cold-migration-bandwidth;
  // 0: none): the predictions use them where they are below the link.
  double live_cap_mibps = 0;
  double cold_cap_mibps = 0;
  // How long a drain waits for a server busy with a task of its own before asking anyway.
  std::chrono::seconds busy_wait{3600};
};

struct Context {
  store::Database& db;
  const Clock& clock;
  const scheduler::Scheduler& scheduler;
  conductor::HostSnapshot& hosts;
  const moves::EngineOptions& engine;  // owner, lease and tick, as for moves
  const Options& options;
};

}  // namespace ferry::controller::drains
