#pragma once
// One handler per non-terminal status of the evacuation state table (states.hpp). Like the other
// kinds', each handler does at most one step and commits the status or step it moves to before
// it sends anything, so a crash at any point leaves a record the next lease owner continues
// from, and it re-sends commands with the same id, which agents answer without acting twice.
// The source is never asked anything until it is back; then only to remove its stale copy, and
// its local disks only once the destination is seen running the guest.
#include <functional>
#include <optional>
#include <string>

#include "api/wire/evacuation_messages.hpp"
#include "controller/evacuation/context.hpp"
#include "controller/moves/agent_call.hpp"
#include "controller/moves/move_kind.hpp"
#include "controller/store/evacuations_store.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::evacuation {

using moves::StepResult;

class Steps {
 public:
  explicit Steps(const Context& ctx) : ctx_(ctx) {}

  // Dispatches on e.status; e must be leased to ctx.engine.owner.
  StepResult Run(store::Evacuation& e);

  // queued -> pre-migrating, in the move engine's admission transaction.
  bool Admit(store::Tx& tx, const std::string& uuid);
  void Admitted(const std::string& uuid);
  // The engine's retry budget gave up: ended in error from the database where nothing reached
  // a host yet; a rebuild is rolled back through the destination; a done evacuation (the guest
  // runs on the destination) is left as it is.
  void GiveUp(store::Evacuation& e, const std::string& reason);

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
    nlohmann::json reported_disks = nlohmann::json::array();
  };
  Parties Load(const store::Evacuation& e) const;

  StepResult RunStep(store::Evacuation& e);
  // accepted -> queued (destination chosen and claimed) or -> error.
  StepResult Schedule(store::Evacuation& e);
  // queued: a destination gone -> error. Admission is the engine's.
  StepResult WhileQueued(store::Evacuation& e);
  // pre-migrating -> done (the guest rebuilt on the destination) or rolled back -> failed.
  StepResult Rebuild(store::Evacuation& e);
  StepResult StartRollBack(store::Evacuation& e, const std::string& reason);
  StepResult RollBack(store::Evacuation& e);
  // done -> completed: once the source is back, its stale copy removed and its claim released.
  StepResult CleanUpSource(store::Evacuation& e);

  // Ends an evacuation that never reached the destination's hypervisor (or was undone there):
  // destination claims released, the source claim back to the server, its task cleared
  // (vm_state `vm_state` when not empty).
  StepResult EndOnSource(store::Evacuation& e, store::MigrationStatus to, const std::string& event,
                         const std::string& reason, const std::string& vm_state);

  moves::CallResult Send(store::Evacuation& e, const store::Host& host, const std::string& kind,
                         const std::string& step, const wire::EvacuationSpec& spec);
  // The next command of e goes under a new id (a refused one is asked again, not answered from
  // the agent's log of the refusal). Throws moves::NotOurs when e is not ours.
  void NextAttempt(store::Evacuation& e);
  std::optional<std::optional<wire::Domain>> DomainOn(const store::Host& host,
                                                      const std::string& uuid) const;
  wire::EvacuationSpec BuildSpec(const store::Evacuation& e, const Parties& p) const;

  // Commits `next` (a changed copy of e) and whatever `also` does, in one transaction. A status
  // change must be the state table's edge named `event`. False, with nothing committed, when
  // the evacuation is no longer ours.
  bool Commit(store::Evacuation& e, store::Evacuation next, const std::string& event,
              const std::optional<std::string>& reason,
              const std::function<void(store::Tx&)>& also = {});
  std::string Actor() const { return "controller " + ctx_.engine.owner; }

  const Context& ctx_;
  std::function<void(int64_t)> on_claimed_;
  std::function<void(store::MigrationStatus, store::MigrationStatus, const std::string&)>
      on_transition_;
};

}  // namespace ferry::controller::evacuation
