#pragma once
// What the engine asks of a kind of move (live migration, cold migration, ...). A kind owns
// its state table and its step handlers; the engine owns when they run: the work queue, the
// leases, admission to slots and the retry budget.
#include <string>
#include <string_view>

namespace ferry::controller::store {
class Tx;
}

namespace ferry::controller::moves {

enum class StepResult {
  kAgain,  // progressed: run the next step now
  kWait,   // waiting on an agent, a slot or the clock: look again on the next tick
  kDone,   // terminal, or no longer ours to drive
};

struct StepOutcome {
  StepResult result = StepResult::kDone;
  // The step changed what occupies slots or waits for one (a move queued, one past its slot
  // ended): the engine runs admission at once instead of on its next tick.
  bool slots_changed = false;
};

class MoveKind {
 public:
  virtual ~MoveKind() = default;

  // migrations.migration_type of the moves this kind drives.
  virtual std::string_view type() const = 0;

  // Loads the move and runs at most one step of it, if this controller holds its lease. May
  // throw: the engine retries on the next tick and counts it against the retry budget.
  virtual StepOutcome Step(const std::string& uuid) = 0;

  // queued -> the kind's first status that occupies a slot, committed in `tx` (the admission
  // transaction, which holds the slot lock). False when it did not admit it (no longer ours,
  // abort requested); then the slot it was counted for stays free.
  virtual bool Admit(store::Tx& tx, const std::string& uuid) = 0;
  // After the admission transaction committed, for each move Admit admitted.
  virtual void Admitted(const std::string& uuid) = 0;

  // The step at the move's status failed `failures` times in a row (the budget): end the move
  // in error with `reason`, without relying on what kept failing (no agent call is needed).
  virtual void GiveUp(const std::string& uuid, const std::string& reason) = 0;
};

}  // namespace ferry::controller::moves
