#pragma once
// One handler per non-terminal status of the cold-migration state table (states.hpp). Like live
// migration's, each handler does at most one step: it commits the status or step it moves to
// before it sends anything, so a crash at any point leaves a record the next lease owner
// continues from, and it re-sends commands with the same id, which agents answer without acting
// twice. The source's copy of the guest is never touched before confirm: every failure before
// then ends with the guest back on the source, as it was.
#include <functional>
#include <optional>
#include <string>

#include "api/wire/cold_migration_messages.hpp"
#include "controller/cold_migration/context.hpp"
#include "controller/moves/agent_call.hpp"
#include "controller/moves/move_kind.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::cold_migration {

using moves::StepResult;

class Steps {
 public:
  explicit Steps(const Context& ctx) : ctx_(ctx) {}

  // Dispatches on m.status; m must be leased to ctx.engine.owner.
  StepResult Run(store::ColdMigration& m);

  // queued -> pre-migrating, in the move engine's admission transaction.
  bool Admit(store::Tx& tx, const std::string& uuid);
  void Admitted(const std::string& uuid);
  // The engine's retry budget gave up on the move's step: ended in error from the database
  // where nothing reached a host yet, else rolled back through the agents (the next steps),
  // else (finished, confirming, reverting: the guest runs somewhere known) left as it is.
  void GiveUp(store::ColdMigration& m, const std::string& reason);

  void OnClaimsChanged(std::function<void(int64_t host_id)> fn) { on_claimed_ = std::move(fn); }
  // Called after every committed status change (crash tests kill the controller right there).
  void OnTransition(std::function<void(store::MigrationStatus from, store::MigrationStatus to,
                                       const std::string& event)>
                        fn) {
    on_transition_ = std::move(fn);
  }

 private:
  struct Parties {
    std::optional<store::Server> server;
    std::optional<store::Host> source;
    std::optional<store::Host> dest;
  };
  Parties Load(const store::ColdMigration& m) const;

  StepResult RunStep(store::ColdMigration& m);
  // accepted -> queued (destination chosen and claimed) or -> error / cancelled.
  StepResult Schedule(store::ColdMigration& m);
  // queued: abort -> cancelled; a host gone -> error. Admission is the engine's.
  StepResult WhileQueued(store::ColdMigration& m);
  // pre-migrating -> migrating (the destination ready to receive) or rolled back.
  StepResult Prepare(store::ColdMigration& m);
  // migrating: the guest shut down on the source, its disks copied -> post-migrating.
  StepResult Migrate(store::ColdMigration& m);
  StepResult FollowCopy(store::ColdMigration& m, const Parties& p);
  // post-migrating -> finished (VERIFY_RESIZE on the destination) or rolled back.
  StepResult Finish(store::ColdMigration& m);
  // finished: waits for confirm, revert, or the resize_confirm_window.
  StepResult AwaitDecision(store::ColdMigration& m);
  // confirming -> confirmed: the source's copy deleted, its claim released.
  StepResult Confirm(store::ColdMigration& m);
  // reverting -> reverted: the destination's copy removed, the guest back on the source.
  StepResult Revert(store::ColdMigration& m);

  // A move that failed (or was aborted in pre-migrating) before finish: records why and turns
  // to the rollback steps, which undo the destination, then restart the guest on the source.
  StepResult StartRollBack(store::ColdMigration& m, const std::string& reason);
  StepResult RollBack(store::ColdMigration& m);
  // Ends a move whose guest never left the source: destination claims released, the source
  // claim back to the server, its task cleared (vm_state `vm_state`).
  StepResult EndOnSource(store::ColdMigration& m, store::MigrationStatus to,
                         const std::string& event, const std::string& reason,
                         const std::string& vm_state);

  // Sends `kind` for m to `host`; step names the command in its id. An id the agent ran before
  // with other arguments (a server renamed, a flag changed across a restart) is sent again
  // under the next attempt, committed first; the commands are idempotent by migration, so the
  // agent answers for what it did. The transfer token goes only with prepare and the copy.
  moves::CallResult Send(store::ColdMigration& m, const store::Host& host, const std::string& kind,
                         const std::string& step, wire::ColdMigrationSpec spec);
  // The next command of m goes under a new id (a refused confirm or revert is asked again, not
  // answered from the agent's log of the failure). Throws moves::NotOurs when m is not ours.
  void NextAttempt(store::ColdMigration& m);
  // What `host`'s agent reports of the guest: nullopt when it could not be asked; inside, the
  // domain if it has it.
  std::optional<std::optional<wire::Domain>> DomainOn(const store::Host& host,
                                                      const std::string& uuid) const;
  // The server as the move knows it, for the commands of a move whose server row is gone.
  static store::Server ServerOf(const store::ColdMigration& m);
  wire::ColdMigrationSpec BuildSpec(const store::ColdMigration& m, const store::Server& server,
                                    const store::Host& dest) const;

  // Commits `next` (a changed copy of m) and whatever `also` does, in one transaction. A status
  // change must be the state table's edge named `event`. False, with nothing committed, when
  // the move is no longer ours.
  bool Commit(store::ColdMigration& m, store::ColdMigration next, const std::string& event,
              const std::optional<std::string>& reason,
              const std::function<void(store::Tx&)>& also = {});
  std::string Actor() const { return "controller " + ctx_.engine.owner; }

  const Context& ctx_;
  std::function<void(int64_t)> on_claimed_;
  std::function<void(store::MigrationStatus, store::MigrationStatus, const std::string&)>
      on_transition_;
};

}  // namespace ferry::controller::cold_migration
