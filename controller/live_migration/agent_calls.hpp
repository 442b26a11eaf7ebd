#pragma once
// One live-migration command to one agent, with the three outcomes a step must tell apart:
// the agent did it, the agent refused (a failed command, or an HTTP 4xx with its reason), or no
// final answer yet (unreachable, still running, a 5xx: try again later; the command id makes
// the retry safe). A fourth ends the step at once: the migration is no longer ours (NotOurs).
//
// Fencing (review M2): every command carries the migration's lease epoch (wire::LeaseFence),
// and right before it goes out the lease is checked again in PostgreSQL (still this owner, same
// epoch, lease_until after now()): a controller that stalled past its lease since it read the
// migration sends nothing, and if it stalls between that check and the send, the agent refuses
// the stale epoch once the new owner has sent it anything.
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/live_migration/context.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::live_migration {

struct CallResult {
  enum class Outcome { kDone, kRefused, kUnreachable } outcome;
  std::string error;           // refused or unreachable: why
  wire::CommandResult result;  // done: what the agent answered
  bool ok() const { return outcome == Outcome::kDone; }
};

// Thrown by Call when the lease of the migration is no longer this controller's (lost before
// the send, or the agent refused a stale epoch): the step stops, commits nothing, and does not
// retry; Steps::Run ends the migration's turn here.
class NotOurs : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends `kind` for migration m (fenced with m.lease_epoch) to `host`. step names the command in
// its id "<migration uuid>:<step>:<m.attempt>". Throws NotOurs (above).
CallResult Call(const Context& ctx, const store::LiveMigration& m, const store::Host& host,
                const std::string& kind, const std::string& step,
                const wire::LiveMigrationSpec& spec);

// The spec every command of migration `m` carries. With `source`, also the source host's CPU
// as its agent registered it (source_cpu: the destination's CPU check compares it).
wire::LiveMigrationSpec BuildSpec(const store::LiveMigration& m, const store::Server& server,
                                  const store::Host& dest, const store::Host* source = nullptr);

}  // namespace ferry::controller::live_migration
