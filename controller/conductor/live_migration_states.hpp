#pragma once
// The live-migration state machine: the statuses a live migration passes through, their flags,
// and the one table of allowed transitions the conductor drives. Nothing else may decide whether
// a live migration may move from one status to another (ARCHITECTURE.md §4).
//
// Statuses and flags mirror Nova (migration-anchors.md §2.2) and must equal the seed of
// migration_statuses in migrations-sql/0001_foundation.sql; tests/pg/live_migration_states_pgtest
// proves they do. Cold-move statuses (pre-migrating, migrating, finished, ...) live in that table
// too but are not live-migration statuses and do not parse here.
#include <array>
#include <optional>
#include <span>
#include <string_view>

namespace ferry::controller::conductor {

enum class LiveMigrationStatus {
  kAccepted,       // "accepted": conductor created the record, pre-checks not yet done
  kQueued,         // "queued": waiting for a migration slot on the source
  kPreparing,      // "preparing": destination being prepared (Nova pre_live_migration)
  kRunning,        // "running": memory and disk copy in progress
  kPostMigrating,  // "post-migrating": guest switched over, source being cleaned up
  kCompleted,      // "completed": terminal, moved
  kFailed,         // "failed": terminal, rolled back; the guest still runs on the source
  kError,          // "error": terminal, not rolled back cleanly; see error_reason
  kCancelled,      // "cancelled": terminal, aborted by request and rolled back
};

inline constexpr std::array kAllLiveMigrationStatuses = {
    LiveMigrationStatus::kAccepted,      LiveMigrationStatus::kQueued,
    LiveMigrationStatus::kPreparing,     LiveMigrationStatus::kRunning,
    LiveMigrationStatus::kPostMigrating, LiveMigrationStatus::kCompleted,
    LiveMigrationStatus::kFailed,        LiveMigrationStatus::kError,
    LiveMigrationStatus::kCancelled,
};

// Nova's status string, as stored in migrations.status and returned by the API.
std::string_view ToString(LiveMigrationStatus s);
// Exact, case-sensitive; nullopt for anything that is not a live-migration status.
std::optional<LiveMigrationStatus> FromString(std::string_view s);

// migration_statuses.is_terminal: completed, failed, error, cancelled.
constexpr bool IsTerminal(LiveMigrationStatus s) {
  switch (s) {
    case LiveMigrationStatus::kCompleted:
    case LiveMigrationStatus::kFailed:
    case LiveMigrationStatus::kError:
    case LiveMigrationStatus::kCancelled:
      return true;
    case LiveMigrationStatus::kAccepted:
    case LiveMigrationStatus::kQueued:
    case LiveMigrationStatus::kPreparing:
    case LiveMigrationStatus::kRunning:
    case LiveMigrationStatus::kPostMigrating:
      return false;
  }
  return false;
}

// migration_statuses.holds_resources: the migration still holds claims. Every non-terminal
// status does: claims move, revert or disappear in the transaction that makes it terminal.
constexpr bool HoldsResources(LiveMigrationStatus s) { return !IsTerminal(s); }

// migration_statuses.api_in_progress: what GET /servers/{id}/migrations lists (Nova 2.23:
// queued, preparing, running, post-migrating). `accepted` is not listed, as in Nova.
constexpr bool ApiInProgress(LiveMigrationStatus s) {
  switch (s) {
    case LiveMigrationStatus::kQueued:
    case LiveMigrationStatus::kPreparing:
    case LiveMigrationStatus::kRunning:
    case LiveMigrationStatus::kPostMigrating:
      return true;
    case LiveMigrationStatus::kAccepted:
    case LiveMigrationStatus::kCompleted:
    case LiveMigrationStatus::kFailed:
    case LiveMigrationStatus::kError:
    case LiveMigrationStatus::kCancelled:
      return false;
  }
  return false;
}

// DELETE /servers/{id}/migrations/{mid} (Nova 2.24 running; 2.65+ also queued and preparing).
constexpr bool AbortableFrom(LiveMigrationStatus s) {
  return s == LiveMigrationStatus::kQueued || s == LiveMigrationStatus::kPreparing ||
         s == LiveMigrationStatus::kRunning;
}

// POST .../migrations/{mid}/action {"force_complete": null} (Nova 2.22): running only, else
// 400 InvalidMigrationState. Force-complete changes how the copy ends (post-copy or pause), not
// the status, so it has no edge of its own.
constexpr bool ForceCompletableFrom(LiveMigrationStatus s) {
  return s == LiveMigrationStatus::kRunning;
}

// One allowed edge and the event that takes it; the event is what migration_events.event
// records for the edge.
struct Transition {
  LiveMigrationStatus from;
  LiveMigrationStatus to;
  std::string_view event;
};

// Every allowed transition, in the order of the happy path then the failure edges.
std::span<const Transition> Transitions();
bool IsAllowed(LiveMigrationStatus from, LiveMigrationStatus to);
// The transition `event` names from `from`, if any.
std::optional<Transition> FindTransition(LiveMigrationStatus from, std::string_view event);

}  // namespace ferry::controller::conductor
