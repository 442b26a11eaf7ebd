#include "controller/moves/agent_call.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "common/errors.hpp"
#include "controller/agent_client/agent_answer.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::moves {
namespace {

void RecheckLease(const Sender& sender, const LeasedMove& move, const std::string& kind) {
  bool held = false;
  sender.db.Transact([&](store::Tx& tx) {
    held = store::LeaseStillHeld(tx, move.uuid, sender.owner, move.lease_epoch);
  });
  if (!held) {
    throw NotOurs(move.what + " " + move.uuid + ": lease epoch " +
                  std::to_string(move.lease_epoch) + " no longer held by " + sender.owner + "; " +
                  kind + " not sent");
  }
}

// Test hook (tests/integration/live_migration_fencing_test): the whole process stops itself
// like a stalled controller, right before the command goes out ("<kind>": after the lease
// check) or right before that check ("check:<kind>"). Once per process: the test continues
// it once, and what it then sends again (retries) goes out.
void PauseForTest(const Sender& sender, const std::string& point) {
  static std::atomic<bool> paused{false};
  if (sender.test_pause_before_send != point || paused.exchange(true)) return;
  spdlog::warn("FERRY_TEST_PAUSE_BEFORE_SEND={}: stopping this controller (SIGSTOP)", point);
  spdlog::default_logger()->flush();
  ::raise(SIGSTOP);
  spdlog::warn("FERRY_TEST_PAUSE_BEFORE_SEND={}: continued", point);
}

}  // namespace

CallResult Call(const Sender& sender, const LeasedMove& move, const store::Host& host,
                const std::string& kind, const std::string& step, const nlohmann::json& args) {
  wire::Command command{agent_client::AgentClient::CommandId(move.uuid, step, move.attempt), kind,
                        args, wire::LeaseFence{move.uuid, move.lease_epoch}};
  PauseForTest(sender, "check:" + kind);
  RecheckLease(sender, move, kind);
  PauseForTest(sender, kind);
  try {
    auto result = sender.agents.Send(host.agent_url, command);
    if (result.status == "done") return {CallResult::Outcome::kDone, "", result};
    return {CallResult::Outcome::kRefused,
            result.error.empty() ? "agent refused " + kind : result.error, result};
  } catch (const agent_client::AgentError& e) {
    if (e.answer() == agent_client::AgentAnswer::kFenced) {
      throw NotOurs(move.what + " " + move.uuid + ": " + host.name + " refused " + kind + ": " +
                    e.what());
    }
    if (e.answer() == agent_client::AgentAnswer::kConflict) {
      return {CallResult::Outcome::kReused, e.what(), {}};
    }
    // Refused or unauthorized: the agent will answer the same next time, so the step ends on
    // it (its message becomes the move's error). The rest may pass.
    if (!e.Retryable()) return {CallResult::Outcome::kRefused, e.what(), {}};
    return {CallResult::Outcome::kUnreachable, e.what(), {}};
  } catch (const Error& e) {
    return {CallResult::Outcome::kUnreachable, e.what(), {}};
  }
}

}  // namespace ferry::controller::moves
