#pragma once
// One command of a move to one agent, for every kind of move, with the three outcomes a step
// must tell apart: the agent did it, the agent refused (a failed command, or an HTTP 4xx with its
// reason), or no final answer yet (unreachable, still running, a 5xx: try again later; the
// command id makes the retry safe). A fourth ends the step at once: the move is no longer ours
// (NotOurs).
//
// Fencing (review M2): every command carries the move's lease epoch (wire::LeaseFence), and
// right before it goes out the lease is checked again in PostgreSQL (still this owner, same
// epoch, lease_until after now()): a controller that stalled past its lease since it read the
// move sends nothing, and if it stalls between that check and the send, the agent refuses the
// stale epoch once the new owner has sent it anything.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "api/wire/messages.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/store/database.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::moves {

struct CallResult {
  // kReused: the agent ran this command id before with other arguments (a server renamed, a
  // flag changed across a restart): nothing was done now; the caller decides (a new attempt).
  enum class Outcome { kDone, kRefused, kUnreachable, kReused } outcome;
  std::string error;           // refused or unreachable: why
  wire::CommandResult result;  // done: what the agent answered
  bool ok() const { return outcome == Outcome::kDone; }
};

// Thrown by Call when the move's lease is no longer this controller's (lost before the send, or
// the agent refused a stale epoch): the step stops, commits nothing, and does not retry.
class NotOurs : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Who sends, for which move, under which lease.
struct Sender {
  store::Database& db;
  const agent_client::AgentClient& agents;
  const std::string& owner;  // this controller (the lease owner)
  // Test only (FERRY_TEST_PAUSE_BEFORE_SEND): the controller stops itself with SIGSTOP right
  // before it sends a command of this kind, after the lease check ("check:<kind>": before it).
  const std::string& test_pause_before_send;
};
struct LeasedMove {
  std::string what;  // "live migration", "cold migration": for messages
  std::string uuid;
  int64_t lease_epoch = 0;
  int attempt = 0;
};

// Sends `kind` with `args` for `move` (fenced with its lease epoch) to `host`; `step` names the
// command in its id "<uuid>:<step>:<attempt>". Throws NotOurs (above).
CallResult Call(const Sender& sender, const LeasedMove& move, const store::Host& host,
                const std::string& kind, const std::string& step, const nlohmann::json& args);

}  // namespace ferry::controller::moves
