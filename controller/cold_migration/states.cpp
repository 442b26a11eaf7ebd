#include "controller/cold_migration/states.hpp"

#include <algorithm>

namespace ferry::controller::cold_migration {
namespace {

using S = Status;

// Sources: migration-anchors.md §2.2 (Nova's cold statuses), §2.3 (task states).
//
// ferry differs from Nova where Nova loses track of a guest:
// - A failure before the destination runs the guest is rolled back through the agents (the
//   destination's copy removed, the guest started again on the source when it ran) and ends in
//   "error" with the reason, as Nova reports it; the server is left ACTIVE (or SHUTOFF) on its
//   source rather than in vm_state error, because nothing of it was lost.
// - Confirm and revert never fail into "error" on a guess: their steps are retried until the
//   agents answer (the retry budget ends only a move whose step keeps throwing).
//
// Deliberately absent:
// - any edge back to queued or pre-migrating: by then the destination holds claims and maybe
//   disks; stepping back would be a rollback followed by a new request.
// - migrating/post-migrating -> cancelled: once the guest is shut down, an abort would be a
//   revert; the API refuses it (Nova has no cold abort at all).
// - finished -> error: the guest runs on the destination and its source copy is intact; only
//   confirm or revert end it.
constexpr std::array kTransitions = {
    // The happy path.
    // Nova: the conductor's MigrationTask claims the destination ("pre-migrating" there; ferry
    // queues first, as for live migration, so admission sees every kind).
    Transition{S::kAccepted, S::kQueued, "queued"},
    Transition{S::kQueued, S::kPreMigrating, "slot_acquired"},
    // Nova: resize_instance on the source ("migrating"): shutdown, then the disk copy.
    Transition{S::kPreMigrating, S::kMigrating, "destination_ready"},
    // Nova: "post-migrating" once the disks are transferred and the source is powered off.
    Transition{S::kMigrating, S::kPostMigrating, "disks_copied"},
    // Nova: finish_resize on the destination: "finished", the server in VERIFY_RESIZE.
    Transition{S::kPostMigrating, S::kFinished, "finished_on_destination"},
    // confirmResize (or the resize_confirm_window): "confirming", then the source's copy goes.
    Transition{S::kFinished, S::kConfirming, "confirm_requested"},
    Transition{S::kConfirming, S::kConfirmed, "source_deleted"},
    // revertResize: "reverting", the destination's copy goes, the guest is back on the source.
    Transition{S::kFinished, S::kReverting, "revert_requested"},
    Transition{S::kReverting, S::kReverted, "reverted"},

    // ferry's abort of a move that has not touched the guest (AbortableFrom).
    Transition{S::kQueued, S::kCancelled, "aborted"},
    Transition{S::kPreMigrating, S::kCancelled, "aborted"},

    // Failures, each rolled back first (see above).
    // No destination fits or passes its pre-check (Nova: NoValidHost -> "error").
    Transition{S::kAccepted, S::kError, "precheck_failed"},
    // A host went down or away before a slot opened: only claims to release.
    Transition{S::kQueued, S::kError, "start_failed"},
    // The destination refused to prepare.
    Transition{S::kPreMigrating, S::kError, "prepare_failed"},
    // Shutdown or the copy failed; the destination's partial copy removed, the guest restarted.
    Transition{S::kMigrating, S::kError, "copy_failed"},
    // The destination refused to verify or define the guest; rolled back the same way.
    Transition{S::kPostMigrating, S::kError, "finish_failed"},
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

}  // namespace ferry::controller::cold_migration
