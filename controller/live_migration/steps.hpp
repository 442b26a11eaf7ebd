#pragma once
// One handler per non-terminal status of the live-migration state table
// (controller/conductor/live_migration_states.hpp). Each handler does at most one step: it
// commits the status it moves to (and what it will send) before it sends anything, so a crash
// at any point leaves a record the next lease owner can continue from, and it re-sends
// commands with the same id, which agents answer without acting twice.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "controller/live_migration/context.hpp"
#include "controller/live_migration/steps_parties.hpp"
#include "controller/moves/move_kind.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/live_migrations_store.hpp"

namespace ferry::controller::live_migration {

using moves::StepResult;

class Steps {
 public:
  explicit Steps(const Context& ctx) : ctx_(ctx) {}

  // Dispatches on m.status; m must be leased to ctx.engine.owner. A step that finds the lease
  // gone before it sends a command, or whose command an agent refuses as fenced, ends here with
  // kDone and nothing committed (agent_calls.hpp NotOurs).
  StepResult Run(store::LiveMigration& m);

  // accepted -> queued (destination chosen, checked and claimed) or -> error.
  StepResult Schedule(store::LiveMigration& m);
  // queued: abort -> cancelled; a host gone down -> failed. Admission is the engine's (Admit).
  StepResult WhileQueued(store::LiveMigration& m);
  // preparing -> running (destination prepared) or -> failed / cancelled.
  StepResult Prepare(store::LiveMigration& m);
  // running: starts the copy, relays abort and force-complete, enforces the timeouts, and
  // follows the job to -> post-migrating, -> failed or -> cancelled.
  StepResult Monitor(store::LiveMigration& m);
  // post-migrating -> completed (destination finished, source cleaned up) or -> error: the
  // guest runs on the destination and finishing or cleaning up failed, or the destination
  // refused to finish and does not run it (the source untouched, the record stays there).
  StepResult Complete(store::LiveMigration& m);

  // queued -> preparing, in the move engine's admission transaction (moves::MoveKind::Admit).
  bool Admit(store::Tx& tx, const std::string& uuid);
  void Admitted(const std::string& uuid);
  // Ends a migration whose step kept throwing (the engine's retry budget) in error, from the
  // database alone: before switch-over the record stays with the source (claims back to the
  // server), after it the record follows the guest to the destination.
  void GiveUp(store::LiveMigration& m, const std::string& reason);

  // Called with a host id whose claims a committed step changed (keeps a host cache fresh).
  void OnClaimsChanged(std::function<void(int64_t host_id)> fn) { on_claimed_ = std::move(fn); }
  // Called after every committed status change (crash tests kill the controller right there).
  // (With the event that took it.)
  void OnTransition(std::function<void(store::MigrationStatus from, store::MigrationStatus to,
                                       const std::string& event)>
                        fn) {
    on_transition_ = std::move(fn);
  }

 private:
  StepResult RunStep(store::LiveMigration& m);
  // Undoes a move that has not switched over: destination rolled back, claims reverted, the
  // server's task cleared. `to` is failed or cancelled.
  StepResult RollBack(store::LiveMigration& m, store::MigrationStatus to, const std::string& event,
                      const std::string& reason);
  // running -> error: the copy failed in post-copy, past the point of no return. The source's
  // stale copy is removed and the record follows the guest to the destination, in error.
  StepResult SwitchoverFailed(store::LiveMigration& m, const std::string& reason);
  // Ends a migration whose guest left the source in error (`event`: switchover_failed or
  // cleanup_failed): claims on the destination only, the server recorded there.
  StepResult EndAfterSwitchover(store::LiveMigration& m, const std::string& event,
                                const std::string& reason);
  // accepted -> error (`event`: precheck_failed or step_failed): nothing was claimed or sent,
  // so only the server's task is cleared.
  StepResult EndUnscheduled(store::LiveMigration& m, const std::string& event,
                            const std::string& reason);
  // Rolled back or ended before the guest left: destination claims released, the migration's
  // source claim back to the server, its task cleared; the server stays on the source.
  StepResult EndOnSource(store::LiveMigration& m, store::MigrationStatus to,
                         const std::string& event, const std::string& why,
                         std::optional<int64_t> dest_id);
  // post-migrating, the destination refused finish: the source is cleaned only when the
  // destination's inventory shows the guest running.
  StepResult FinishRefused(store::LiveMigration& m, const Parties& parties,
                           const wire::LiveMigrationSpec& spec, const std::string& error);
  // running, the source's host is down and its agent silent: the destination is rolled back
  // (the copy cannot land) and the migration fails with the guest on the source.
  StepResult SourceLost(store::LiveMigration& m, const Parties& parties, const std::string& error);
  struct DomainSighting {
    bool known = false;                  // the host's agent answered its inventory
    std::optional<wire::Domain> domain;  // the domain as it reported it, if it has one
  };
  DomainSighting LookForDomain(const store::Host& host, const std::string& uuid) const;
  struct SourceCleanup {
    bool wait = false;         // the source's agent is unreachable but its host is up: retry
    bool source_down = false;  // its host is down: the copy stays until it returns
    std::optional<std::string> problem;
  };
  // Removes the source's copy of a guest that left it.
  SourceCleanup CleanUpSource(const store::LiveMigration& m, const store::Host& source,
                              const wire::LiveMigrationSpec& spec);
  // Commits `next` (a changed copy of m) and whatever `also` does, in one transaction. A status
  // change must be the state table's edge named `event` and appends that event. False, with
  // nothing committed, when the migration is no longer ours (lost lease or compare-and-set).
  bool Commit(store::LiveMigration& m, store::LiveMigration next, const std::string& event,
              const std::optional<std::string>& reason,
              const std::function<void(store::Tx&)>& also = {});
  bool DomainRunsOn(const store::Host& host, const std::string& uuid) const;
  std::string Actor() const { return "controller " + ctx_.engine.owner; }

  const Context& ctx_;
  std::function<void(int64_t)> on_claimed_;
  std::function<void(store::MigrationStatus, store::MigrationStatus, const std::string&)>
      on_transition_;
};

}  // namespace ferry::controller::live_migration
