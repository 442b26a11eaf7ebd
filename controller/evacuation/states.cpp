#include "controller/evacuation/states.hpp"

#include <algorithm>

namespace ferry::controller::evacuation {
namespace {

using S = Status;

// Sources: migration-anchors.md §2.2 (Nova's evacuation statuses), §2.3 (task states).
//
// ferry differs from Nova where Nova loses track of a guest:
// - The source's claim and its stale copy go only when the source is back and has removed that
//   copy ("completed"); until then the record is the source's tombstone, which its agent is told
//   at every registration and heartbeat (the guest is powered off there at once).
// - A rebuild the destination refused is undone there before the evacuation ends "failed": the
//   server stays recorded on its (down) source, in vm_state error as Nova leaves it, and can be
//   evacuated again.
// - ferry queues first, as for every kind, so admission (and a drain's fair share) sees it.
//
// Deliberately absent:
// - any abort: Nova has none, and the guest may already run on the destination;
// - done -> failed or error: the guest runs on the destination; only the source's clean-up is
//   left, which is retried until the source's agent does it.
constexpr std::array kTransitions = {
    // The happy path.
    // Nova: the API records the evacuation "accepted"; the conductor schedules a destination.
    Transition{S::kAccepted, S::kQueued, "queued"},
    // Nova: the destination's resource tracker claims it ("pre-migrating").
    Transition{S::kQueued, S::kPreMigrating, "slot_acquired"},
    // Nova: the destination rebuilt the guest and owns it ("done").
    Transition{S::kPreMigrating, S::kDone, "rebuilt"},
    // Nova: the source compute, back, destroyed its copy and dropped its claim ("completed").
    Transition{S::kDone, S::kCompleted, "source_cleaned_up"},

    // Failures.
    // No destination fits (Nova's conductor: NoValidHost -> "error").
    Transition{S::kAccepted, S::kError, "precheck_failed"},
    // The destination went down or away before a slot opened: only claims to release.
    Transition{S::kQueued, S::kError, "start_failed"},
    // The destination refused to rebuild, undone there (Nova's compute: "failed").
    Transition{S::kPreMigrating, S::kFailed, "rebuild_failed"},
    // The move engine's retry budget gave up on a step that kept throwing, where that was safe.
    Transition{S::kAccepted, S::kError, "step_failed"},
    Transition{S::kQueued, S::kError, "step_failed"},
};

}  // namespace

std::span<const Transition> Transitions() { return kTransitions; }

bool IsAllowed(Status from, Status to) {
  return std::any_of(kTransitions.begin(), kTransitions.end(),
                     [&](const Transition& t) { return t.from == from && t.to == to; });
}

std::optional<Transition> FindTransition(Status from, std::string_view event) {
  for (const auto& t : kTransitions) {
    if (t.from == from && t.event == event) return t;
  }
  return std::nullopt;
}

}  // namespace ferry::controller::evacuation
