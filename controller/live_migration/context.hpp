#pragma once
// What every live-migration step needs, and live migration's options (controller flags).
#include <chrono>
#include <functional>
#include <string>

#include "common/clock.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/live_migration/policy.hpp"
#include "controller/moves/engine_options.hpp"
#include "controller/moves/status_waiters.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::live_migration {

// Live migration's own options (controller flags); leases, workers and slot limits are the
// move engine's (moves::EngineOptions), the same for every kind.
struct Options {
  int migrate_max_retries = 3;  // destinations tried after failed pre-checks
  Policy policy;                // deployment defaults
  // Test only (FERRY_TEST_PAUSE_BEFORE_SEND, controller/main.cpp): the controller stops itself
  // with SIGSTOP right before it sends a command of this kind, after the lease check
  // ("check:<kind>": before that check).
  std::string test_pause_before_send;
};

struct Context {
  store::Database& db;
  const agent_client::AgentClient& agents;
  const Clock& clock;
  const scheduler::Scheduler& scheduler;
  // The scheduler's in-memory view of every host, shared with server placement; the steps mark
  // the hosts whose claims they change (Steps::OnClaimsChanged -> MarkDirty).
  conductor::HostSnapshot& hosts;
  const moves::EngineOptions& engine;
  const Options& options;
  // Told of every status change this controller commits (pre-2.34 requests wait on it).
  moves::StatusWaiters& waiters;
};

}  // namespace ferry::controller::live_migration
