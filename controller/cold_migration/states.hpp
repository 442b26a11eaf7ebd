#pragma once
// The state table of cold migration and resize (Nova's migration_type "migration" and
// "resize"): the statuses a cold move passes through and the one table of allowed transitions
// its steps take (ARCHITECTURE.md §4). Statuses are the shared store::MigrationStatus; their
// flags come from the one seed (migration_statuses).
#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "controller/store/migration_status.hpp"

namespace ferry::controller::cold_migration {

using Status = store::MigrationStatus;

inline constexpr std::array kAllStatuses = {
    Status::kAccepted,      Status::kQueued,   Status::kPreMigrating, Status::kMigrating,
    Status::kPostMigrating, Status::kFinished, Status::kConfirming,   Status::kReverting,
    Status::kConfirmed,     Status::kReverted, Status::kError,        Status::kCancelled,
};

constexpr bool IsColdStatus(Status s) {
  for (auto c : kAllStatuses) {
    if (c == s) return true;
  }
  return false;
}

// ferry's extension: DELETE /servers/{id}/migrations/{mid} ends a cold move that has not
// touched the guest yet (Nova aborts live migrations only). Not while accepted: scheduling ends
// on its own within a step, as Nova's live abort (2.65) excludes accepted too.
constexpr bool AbortableFrom(Status s) {
  return s == Status::kQueued || s == Status::kPreMigrating;
}

struct Transition {
  Status from;
  Status to;
  std::string_view event;
};

// Every allowed transition, the happy path first.
std::span<const Transition> Transitions();
bool IsAllowed(Status from, Status to);
std::optional<Transition> FindTransition(Status from, std::string_view event);

}  // namespace ferry::controller::cold_migration
