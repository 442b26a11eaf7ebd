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
  // The step ran cleanly after failures were counted: the engine starts the count over.
  bool clears_failures = false;
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

  // The move's step failed the budget's times in a row: end the move in error with `reason`
  // where that is safe from the database alone (nothing reached a host yet), else through the
  // agents (rolled back, fenced), else not at all: then it stays as it is, its claims kept,
  // and GiveUp runs again after the next failure. Never ends a move on a guess of where a
  // guest is. May throw (counted like a step).
  virtual void GiveUp(const std::string& uuid, const std::string& reason) = 0;
};

}  // namespace ferry::controller::moves
