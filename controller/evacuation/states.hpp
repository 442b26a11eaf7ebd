#pragma once
// The state table of evacuation (Nova's migration_type "evacuation"): the statuses an
// evacuation passes through and the one table of allowed transitions its steps take
// (ARCHITECTURE.md §4). Statuses are the shared store::MigrationStatus; their flags come from
// the one seed (migration_statuses).
#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "controller/store/migration_status.hpp"

namespace ferry::controller::evacuation {

using Status = store::MigrationStatus;

inline constexpr std::array kAllStatuses = {
    Status::kAccepted,  Status::kQueued, Status::kPreMigrating, Status::kDone,
    Status::kCompleted, Status::kFailed, Status::kError,
};

constexpr bool IsEvacuationStatus(Status s) {
  for (auto c : kAllStatuses) {
    if (c == s) return true;
  }
  return false;
}

// The statuses in which the record is its source host's tombstone: the guest must not run
// there (store::ListEvacuatedFrom reads the same list).
constexpr bool IsTombstone(Status s) {
  return s == Status::kAccepted || s == Status::kQueued || s == Status::kPreMigrating ||
         s == Status::kDone;
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

}  // namespace ferry::controller::evacuation
