#pragma once
// What every cold-migration step needs, and the options of cold migration and resize
// (controller flags).
#include <chrono>
#include <string>

#include "common/clock.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/moves/engine_options.hpp"
#include "controller/moves/status_waiters.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::cold_migration {

struct Options {
  // Nova's [DEFAULT] resize_confirm_window: a move waiting for confirm longer than this is
  // confirmed by the controller. 0: never.
  std::chrono::seconds resize_confirm_window{0};
  int shutdown_timeout_s = 60;  // Nova's [DEFAULT] shutdown_timeout: graceful, then destroy
  int64_t bandwidth_mibps = 0;  // disk copy limit; 0 = unlimited
  int monitor_interval_s = 5;   // how often the copy reports progress
  // Test only: live_migration::Options::test_pause_before_send, for cold commands.
  std::string test_pause_before_send;
};

struct Context {
  store::Database& db;
  const agent_client::AgentClient& agents;
  const Clock& clock;
  const scheduler::Scheduler& scheduler;
  conductor::HostSnapshot& hosts;
  const moves::EngineOptions& engine;
  const Options& options;
  moves::StatusWaiters& waiters;
};

}  // namespace ferry::controller::cold_migration
