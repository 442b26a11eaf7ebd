#pragma once
// Every status a move of any kind can have (migrations.status), typed, with the flags of the
// one seed (migration_statuses, migrations-sql/0001, 0010 and 0014's outcome). Code compares these,
// never strings; the SQL text of a status is ToString's. tests/pg/migration_status_pgtest proves
// the enum and its flags equal the seed, row by row. Each kind's state table (for live migration
// controller/conductor/live_migration_states.hpp) uses its own subset.
#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace ferry::controller::store {

enum class MigrationStatus {
  kAccepted,       // request accepted, not yet scheduled
  kQueued,         // waiting for a slot
  kPreparing,      // live: destination being prepared
  kRunning,        // live: memory and disk copy
  kPostMigrating,  // switched over (live) or defined on the destination (cold), finishing
  kPreMigrating,   // cold: destination claimed and being prepared
  kMigrating,      // cold: disk transfer
  kFinished,       // resize done, waiting for confirm or revert
  kConfirming,     // resize confirm in progress
  kReverting,      // resize revert in progress
  kDone,           // evacuation: destination rebuilt the server
  kCompleted,      // terminal: moved
  kConfirmed,      // terminal: resize confirmed
  kReverted,       // terminal: resize reverted
  kFailed,         // terminal: failed and rolled back
  kError,          // terminal: failed; see error_reason
  kCancelled,      // terminal: aborted by request
};

inline constexpr std::array kAllMigrationStatuses = {
    MigrationStatus::kAccepted,  MigrationStatus::kQueued,        MigrationStatus::kPreparing,
    MigrationStatus::kRunning,   MigrationStatus::kPostMigrating, MigrationStatus::kPreMigrating,
    MigrationStatus::kMigrating, MigrationStatus::kFinished,      MigrationStatus::kConfirming,
    MigrationStatus::kReverting, MigrationStatus::kDone,          MigrationStatus::kCompleted,
    MigrationStatus::kConfirmed, MigrationStatus::kReverted,      MigrationStatus::kFailed,
    MigrationStatus::kError,     MigrationStatus::kCancelled,
};

// Exact, case-sensitive; nullopt for anything else.
std::optional<MigrationStatus> ParseMigrationStatus(std::string_view s);

// The seed's flags (migration_statuses).
struct StatusFlags {
  bool is_terminal;
  bool holds_resources;       // the move still holds claims
  bool api_in_progress;       // GET /servers/{id}/migrations lists it
  bool occupies_slot;         // past admission: an outbound, an inbound and a cluster slot
  bool heads_to_destination;  // inbound load and anti-affinity count it
};

// How a move that ended, ended (migration_statuses.outcome, 0014): what dashboards group
// history by. kNone while it has not ended.
enum class StatusOutcome { kNone, kSucceeded, kReverted, kFailed, kCancelled };

namespace detail {
struct StatusRow {
  std::string_view name;
  StatusFlags flags;
  StatusOutcome outcome;
};

// Indexed by the enum's value; the same rows as the seed (migration_status_pgtest).
//                                terminal holds  api    slot   heads  outcome
inline constexpr std::array<StatusRow, kAllMigrationStatuses.size()> kStatusRows = {{
    {"accepted", {false, true, false, false, false}, StatusOutcome::kNone},
    {"queued", {false, true, true, false, true}, StatusOutcome::kNone},
    {"preparing", {false, true, true, true, true}, StatusOutcome::kNone},
    {"running", {false, true, true, true, true}, StatusOutcome::kNone},
    {"post-migrating", {false, true, true, true, true}, StatusOutcome::kNone},
    {"pre-migrating", {false, true, false, true, true}, StatusOutcome::kNone},
    {"migrating", {false, true, false, true, true}, StatusOutcome::kNone},
    {"finished", {false, true, false, false, true}, StatusOutcome::kNone},
    {"confirming", {false, true, false, false, true}, StatusOutcome::kNone},
    {"reverting", {false, true, false, false, true}, StatusOutcome::kNone},
    // heads_to_destination false since 0012: the server already runs on the destination.
    {"done", {false, true, false, false, false}, StatusOutcome::kNone},
    {"completed", {true, false, false, false, false}, StatusOutcome::kSucceeded},
    {"confirmed", {true, false, false, false, false}, StatusOutcome::kSucceeded},
    {"reverted", {true, false, false, false, false}, StatusOutcome::kReverted},
    {"failed", {true, false, false, false, false}, StatusOutcome::kFailed},
    {"error", {true, false, false, false, false}, StatusOutcome::kFailed},
    {"cancelled", {true, false, false, false, false}, StatusOutcome::kCancelled},
}};

}  // namespace detail

// Nova's spelling, as stored and as the API shows it.
constexpr std::string_view ToString(MigrationStatus s) {
  return detail::kStatusRows[static_cast<size_t>(s)].name;
}
constexpr StatusFlags FlagsOf(MigrationStatus s) {
  return detail::kStatusRows[static_cast<size_t>(s)].flags;
}
constexpr bool IsTerminal(MigrationStatus s) { return FlagsOf(s).is_terminal; }
constexpr StatusOutcome OutcomeOf(MigrationStatus s) {
  return detail::kStatusRows[static_cast<size_t>(s)].outcome;
}
// The seed's spelling: "succeeded", "reverted", "failed", "cancelled"; "" for kNone (NULL).
constexpr std::string_view ToString(StatusOutcome o) {
  switch (o) {
    case StatusOutcome::kSucceeded:
      return "succeeded";
    case StatusOutcome::kReverted:
      return "reverted";
    case StatusOutcome::kFailed:
      return "failed";
    case StatusOutcome::kCancelled:
      return "cancelled";
    case StatusOutcome::kNone:
      break;
  }
  return "";
}

// JSON: the status string; anything else is a parse error.
void to_json(nlohmann::json& j, MigrationStatus s);
void from_json(const nlohmann::json& j, MigrationStatus& s);

}  // namespace ferry::controller::store

template <>
struct fmt::formatter<ferry::controller::store::MigrationStatus>
    : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(ferry::controller::store::MigrationStatus s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(ToString(s), ctx);
  }
};
