#pragma once
// What every live-migration step needs, and the engine's options (controller flags).
#include <chrono>
#include <functional>
#include <string>

#include "common/clock.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/live_migration/policy.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::live_migration {

struct Limits {
  int max_outbound_per_host = 1;  // Nova max_concurrent_live_migrations
  int max_inbound_per_host = 2;   // not in Nova: a destination is protected too
  int max_total = 0;              // cluster-wide; 0 = no limit
};

struct EngineOptions {
  std::string owner;                     // this controller's lease identity
  std::chrono::seconds lease{15};        // a crashed owner's migrations wait this long
  std::chrono::milliseconds tick{1000};  // lease renewal, admission and monitoring period
  int workers = 4;
  int migrate_max_retries = 3;  // destinations tried after failed pre-checks
  Limits limits;
  Policy policy;  // deployment defaults
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
  const EngineOptions& options;
};

}  // namespace ferry::controller::live_migration
