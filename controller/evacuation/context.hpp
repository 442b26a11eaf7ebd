#pragma once
// What every evacuation step needs.
#include <string>

#include "common/clock.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/moves/engine_options.hpp"
#include "controller/moves/status_waiters.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::evacuation {

struct Context {
  store::Database& db;
  const agent_client::AgentClient& agents;
  const Clock& clock;
  const scheduler::Scheduler& scheduler;
  conductor::HostSnapshot& hosts;
  const moves::EngineOptions& engine;
  moves::StatusWaiters& waiters;
  // Test only: live_migration::Options::test_pause_before_send, for evacuation commands.
  std::string test_pause_before_send;
};

}  // namespace ferry::controller::evacuation
