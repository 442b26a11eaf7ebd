#include "controller/conductor/live_migration_states.hpp"

#include <algorithm>

namespace ferry::controller::conductor {
namespace {

using S = LiveMigrationStatus;

// The table. Sources: migration-anchors.md §1.6 (abort, force-complete), §2.2 (what Nova sets),
// §2.4 (restarts). "failed" means rolled back with the guest intact on the source; "error" means
// the move could not be rolled back cleanly (or, before anything moved, Nova's pre-check
// failures, which Nova also reports as "error").
//
// Deliberately absent:
// - preparing -> queued. Nova never steps back: by `preparing` the destination has been claimed
//   and pre_live_migration has plugged ports and volumes there. Giving the slot back would have
//   to undo all of that, which is a rollback (-> failed) and then a new request; a back edge
//   would also let a migration cycle between the two statuses without ever ending.
// - accepted -> cancelled. Nova 2.65 aborts only queued, preparing and running; an accepted
//   migration is still inside the conductor's pre-checks, which end on their own.
// - any edge out of a terminal status, and post-migrating -> failed or cancelled: after
//   switch-over the guest runs on the destination and the source copy is gone, so nothing can
//   be rolled back or aborted (Nova: "almost certainly too late to rollback").
// - accepted -> failed. Nova's conductor sets "failed" for an unexpected exception (a
//   MessagingTimeout, a bug). ferry has no such catch-all: a step that throws is retried on the
//   next tick under its lease (a database or agent hiccup passes), and every reason the
//   conductor's checks give up for is a pre-check failure, which Nova reports as "error". A step
//   that keeps throwing exhausts the move engine's retry budget: "step_failed", into "error".
constexpr std::array kTransitions = {
    // The happy path.
    // Nova: compute_manager.live_migration() puts the job in the source's executor ("queued").
    Transition{S::kAccepted, S::kQueued, "queued"},
    // Nova: _do_live_migration() starts on an executor thread and sets "preparing".
    Transition{S::kQueued, S::kPreparing, "slot_acquired"},
    // Nova: pre_live_migration on the destination returned; status "running", driver copies.
    Transition{S::kPreparing, S::kRunning, "destination_ready"},
    // Nova lists post-migrating as in progress but its live path does not set it (§2.2); ferry
    // sets it when the guest runs on the destination and the source is being cleaned up.
    Transition{S::kRunning, S::kPostMigrating, "switched_over"},
    // Nova: _post_live_migration() ends with status "completed".
    Transition{S::kPostMigrating, S::kCompleted, "cleaned_up"},

    // Abort (DELETE .../migrations/{mid}, Nova 2.65+), all ending "cancelled":
    // queued: the executor future is cancelled (also what a graceful compute shutdown does);
    Transition{S::kQueued, S::kCancelled, "aborted"},
    // preparing: the job is popped from the wait list and the worker rolls back "cancelled";
    Transition{S::kPreparing, S::kCancelled, "aborted"},
    // running: driver.live_migration_abort(), libvirt VIR_DOMAIN_JOB_CANCELLED, rollback with
    // migration_status="cancelled" (also Nova's completion-timeout action "abort").
    Transition{S::kRunning, S::kCancelled, "aborted"},

    // Failures.
    // Nova conductor _live_migrate(): NoValidHost, MigrationPreCheckError and the other
    // pre-check exceptions set "error"; nothing has been touched on either host.
    Transition{S::kAccepted, S::kError, "precheck_failed"},
    // Not in Nova: a queued job whose compute crashes stays "queued" forever there (§2.4 finds
    // no sweeper; operators report it, §5). ferry's reconciler must end it (ARCHITECTURE §4: no
    // migration stays non-terminal without a live lease): the source is down, its lease expired,
    // or the destination went away before a slot opened. Nothing has touched either host, so
    // releasing the claims is the whole rollback: "failed", not "error".
    Transition{S::kQueued, S::kFailed, "start_failed"},
    // Nova: pre_live_migration raised or VIF plugging timed out; _cleanup_pre_live_migration()
    // rolls back through _rollback_live_migration(migration_status="failed").
    Transition{S::kPreparing, S::kFailed, "pre_live_migration_failed"},
    // Nova: the copy job failed before switch-over; the libvirt monitor calls the recover
    // method, _rollback_live_migration(), whose default status is "failed". The guest still
    // runs on the source.
    Transition{S::kRunning, S::kFailed, "copy_failed"},
    // The copy failed after post-copy had moved the guest's execution to the destination: the
    // destination has its CPU state, the source the pages that never arrived, and neither can
    // run it (a network loss in post-copy means a reboot). Nothing can be rolled back, so
    // "error" (Nova: "almost certainly too late to rollback"); the record follows the guest to
    // the destination in vm_state error, where a hard reboot brings it back.
    Transition{S::kRunning, S::kError, "switchover_failed"},
    // Nova: post_live_migration_at_destination or source cleanup raised after switch-over; the
    // guest runs on the destination but the move did not finish cleanly -> "error". Also when
    // the destination refuses to finish and its inventory does not show the guest running
    // (the source reported a switch-over that never reached it, review C1): then the source is
    // left untouched and the record stays there, still "error" because the copy's outcome was
    // misreported and an operator must look (Nova has no such check; it cleans up regardless).
    Transition{S::kPostMigrating, S::kError, "cleanup_failed"},

    // Not in Nova: the move engine's retry budget (controller/moves/engine.hpp). A step that
    // keeps throwing (a bug, a record it cannot read) ends the migration here instead of
    // retrying forever; a database outage is never counted. Before anything reached a host
    // (accepted, queued) from the database alone; once a destination may be prepared, only
    // through the agents' rollback (which follows the guest if it already switched over).
    // Not from post-migrating: the guest runs on the destination and finishing is retried.
    Transition{S::kAccepted, S::kError, "step_failed"},
    Transition{S::kQueued, S::kError, "step_failed"},
    Transition{S::kPreparing, S::kError, "step_failed"},
    Transition{S::kRunning, S::kError, "step_failed"},
};

constexpr bool NoEdgeLeavesATerminalStatus() {
  return std::ranges::none_of(kTransitions, [](const Transition& t) { return IsTerminal(t.from); });
}
static_assert(NoEdgeLeavesATerminalStatus());

constexpr bool EveryEdgeJoinsLiveStatuses() {
  return std::ranges::all_of(kTransitions, [](const Transition& t) {
    return IsLiveMigrationStatus(t.from) && IsLiveMigrationStatus(t.to);
  });
}
static_assert(EveryEdgeJoinsLiveStatuses());

}  // namespace

std::optional<LiveMigrationStatus> FromString(std::string_view s) {
  auto status = store::ParseMigrationStatus(s);
  if (!status || !IsLiveMigrationStatus(*status)) return std::nullopt;
  return status;
}

std::span<const Transition> Transitions() { return kTransitions; }

bool IsAllowed(LiveMigrationStatus from, LiveMigrationStatus to) {
  return std::ranges::any_of(kTransitions,
                             [&](const Transition& t) { return t.from == from && t.to == to; });
}

std::optional<Transition> FindTransition(LiveMigrationStatus from, std::string_view event) {
  for (const auto& t : kTransitions) {
    if (t.from == from && t.event == event) return t;
  }
  return std::nullopt;
}

}  // namespace ferry::controller::conductor
