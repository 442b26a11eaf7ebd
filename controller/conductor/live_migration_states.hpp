#pragma once
// The live-migration state machine: the statuses a live migration passes through, their flags,
// and the one table of allowed transitions the conductor drives. Nothing else may decide whether
// a live migration may move from one status to another (ARCHITECTURE.md §4).
//
// Statuses and flags mirror Nova (migration-anchors.md §2.2); they are the shared
// store::MigrationStatus, whose flags tests/pg/migration_status_pgtest proves equal to the seed
// of migration_statuses. Cold-move statuses (pre-migrating, migrating, finished, ...) are not
// live-migration statuses and do not parse here.
#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "controller/store/migration_status.hpp"

namespace ferry::controller::conductor {

// A live migration's status: one of the statuses every kind shares (store::MigrationStatus),
// from the subset below.
using LiveMigrationStatus = store::MigrationStatus;
using store::IsTerminal;
using store::ToString;

inline constexpr std::array kAllLiveMigrationStatuses = {
    LiveMigrationStatus::kAccepted,      LiveMigrationStatus::kQueued,
    LiveMigrationStatus::kPreparing,     LiveMigrationStatus::kRunning,
    LiveMigrationStatus::kPostMigrating, LiveMigrationStatus::kCompleted,
    LiveMigrationStatus::kFailed,        LiveMigrationStatus::kError,
    LiveMigrationStatus::kCancelled,
};

constexpr bool IsLiveMigrationStatus(LiveMigrationStatus s) {
  for (auto live : kAllLiveMigrationStatuses) {
    if (live == s) return true;
  }
  return false;
}

// Exact, case-sensitive; nullopt for anything that is not a live-migration status.
std::optional<LiveMigrationStatus> FromString(std::string_view s);

// migration_statuses.holds_resources: the migration still holds claims. Every non-terminal
// status does: claims move, revert or disappear in the transaction that makes it terminal.
constexpr bool HoldsResources(LiveMigrationStatus s) { return store::FlagsOf(s).holds_resources; }

// migration_statuses.api_in_progress: what GET /servers/{id}/migrations lists (Nova 2.23:
// queued, preparing, running, post-migrating). `accepted` is not listed, as in Nova.
constexpr bool ApiInProgress(LiveMigrationStatus s) { return store::FlagsOf(s).api_in_progress; }

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
