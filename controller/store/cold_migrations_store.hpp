#pragma once
// Cold migrations and resizes (Nova's migration_type "migration" and "resize") as the move
// engine drives them. Who writes which columns, as for live migrations (live_migrations_store.hpp):
//   - the lease owner (engine): status and everything in SaveColdMigration, compare-and-set on
//     state_version and lease ownership (fencing);
//   - the API: abort_requested_at, confirm_requested_at / confirm_reason, revert_requested_at
//     (RequestColdAbort, RequestConfirm, RequestRevert), each bumping state_version so that a
//     step holding an older copy of the row cannot commit over the request;
//   - progress ingest: the job_* columns and the disk byte counters of the copy.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "common/clock.hpp"
#include "controller/store/migration_status.hpp"
#include "controller/store/models.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::store {

class Tx;

// migrations.migration_type of a cold move: a migration keeps its flavor, a resize changes it.
enum class ColdType { kMigration, kResize };
std::string_view ToString(ColdType t);  // "migration" | "resize"
std::optional<ColdType> ParseColdType(std::string_view s);

// What the controller is doing for a cold move (migrations.step), beside its status.
enum class ColdStep {
  kScheduling,              // accepted: choosing and claiming a destination
  kWaitingForSlot,          // queued
  kPreparingDestination,    // pre-migrating: the destination makes room and a place for disks
  kPoweringOff,             // migrating: the source shuts the guest down
  kStartingCopy,            // migrating: the source's copy job asked for, not yet acknowledged
  kCopyingDisks,            // migrating: the source's copy job runs (its phase: job_phase)
  kFinishingOnDestination,  // post-migrating: the destination verifies, defines and starts
  kWaitingForConfirm,       // finished: VERIFY_RESIZE
  kDeletingSource,          // confirming: the source's copy is deleted
  kRevertingDestination,    // reverting: the destination's copy is removed
  kRestartingSource,        // reverting: the guest is back on the source
  kRollingBackDestination,  // a failed move (error_reason says why) undoes the destination...
  kRollingBackSource,       // ... then restarts the guest on the source, then ends in error
  kDone,                    // terminal
};
std::string_view ToString(ColdStep s);
std::optional<ColdStep> ParseColdStep(std::string_view s);

// A flavor as a server had or gets it, kept with the move so that a revert restores exactly
// the old one even after the flavor was deleted.
struct FlavorSnapshot {
  std::optional<int64_t> id;  // flavors.id (Nova's old/new_instance_type_id), if it still exists
  std::string flavorid;       // Nova's flavor id (the API's)
  std::string name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t root_gb = 0;
};
void to_json(nlohmann::json& j, const FlavorSnapshot& f);
void from_json(const nlohmann::json& j, FlavorSnapshot& f);
FlavorSnapshot SnapshotOf(const Flavor& f);
FlavorSnapshot FlavorOf(const Server& s);

struct ColdMigration {
  int64_t id = 0;
  std::string uuid;
  std::string instance_uuid;
  ColdType type = ColdType::kMigration;
  MigrationStatus status = MigrationStatus::kAccepted;
  std::optional<std::string> source_compute;
  std::optional<std::string> source_node;
  std::optional<std::string> dest_compute;
  std::optional<std::string> dest_node;
  std::optional<std::string> dest_host;
  std::optional<int64_t> disk_total, disk_processed, disk_remaining;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  TimePoint created_at;
  std::optional<TimePoint> updated_at;
  ColdStep step = ColdStep::kScheduling;
  int attempt = 0;
  int64_t state_version = 0;
  std::optional<std::string> lease_owner;
  std::optional<TimePoint> lease_until;
  int64_t lease_epoch = 0;  // the fencing token agents check (wire::LeaseFence)
  std::optional<int64_t> transfer_rate_bps, eta_seconds;
  std::optional<std::string> error_reason;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> drain_uuid;  // inserted only: the drain that asked, if one did
  nlohmann::json request_params = nlohmann::json::object();  // as made, written once
  // The request, typed.
  std::optional<std::string> requested_host;  // migrate 2.56 "host"
  FlavorSnapshot old_flavor;
  FlavorSnapshot new_flavor;               // the old one for a cold migration
  std::optional<std::string> disk_config;  // "AUTO" | "MANUAL"
  bool power_on = true;                    // the guest ran when the move began
  std::string transfer_token;              // the per-move credential (secret)
  // Workflow state the steps keep.
  std::optional<bool> shared_storage;  // resolved when scheduled: nothing is copied
  std::optional<std::string> receive_uri;
  std::vector<std::string> ignore_hosts;
  std::vector<std::string> precheck_failures;
  // Requests recorded by the API (or the resize_confirm_window) for the lease owner.
  std::optional<TimePoint> abort_requested_at;
  std::optional<TimePoint> confirm_requested_at;
  std::optional<std::string> confirm_reason;
  std::optional<TimePoint> revert_requested_at;
  // The engine's retry budget (moves_store.hpp), read only.
  int step_failures = 0;
  std::optional<std::string> last_step_error;
  // The copy job as the source's agent reports it (progress ingest).
  std::optional<wire::JobState> job_state;
  std::optional<wire::JobPhase> job_phase;
  std::optional<std::string> job_error;
  std::optional<TimePoint> progress_at;
  std::optional<TimePoint> started_at, finished_at;
  // Why this build cannot drive the record (a flavor snapshot it cannot read), else empty: the
  // kind's step refuses it and the engine's retry budget ends it, reading the rest.
  std::string unreadable;
};

// Inserts a new cold move and its first event, leased to lease_owner until now + lease.
// Throws kConflict if m.idempotency_key is taken.
void InsertColdMigration(Tx& tx, ColdMigration& m, const MigrationEvent& first,
                         const std::string& lease_owner, std::chrono::seconds lease);
std::optional<ColdMigration> FindColdMigration(Tx& tx, const std::string& uuid);
std::optional<ColdMigration> FindColdMigrationById(Tx& tx, int64_t id);
std::optional<ColdMigration> FindColdMigrationByIdempotencyKey(Tx& tx, const std::string& key);
// The server's cold move waiting for confirm or revert (status finished), if any.
std::optional<ColdMigration> FindUnconfirmedColdMigration(Tx& tx, const std::string& instance_uuid);

// Compare-and-set of the engine-owned columns (status, step, attempt, dest_*, error_reason,
// started/finished_at, ignore_hosts, precheck_failures, shared_storage, receive_uri) if the row
// still has m.state_version and is leased to `owner`; bumps state_version and appends `event`.
// False when the CAS lost.
bool SaveColdMigration(Tx& tx, ColdMigration& m, const std::string& owner,
                       const std::optional<MigrationEvent>& event);

// The API's confirmResize / revertResize (and the resize_confirm_window): recorded only while
// the move is finished and neither was asked before. False otherwise.
bool RequestConfirm(Tx& tx, const std::string& uuid, TimePoint now, const std::string& reason);
bool RequestRevert(Tx& tx, const std::string& uuid, TimePoint now);
// The API's abort of a cold move not yet started: recorded only while it is queued or
// pre-migrating (a step moving it on at that moment loses its compare-and-set and reads it).
bool RequestColdAbort(Tx& tx, const std::string& uuid, TimePoint now);

// The server's side of a cold move. Task states are Nova's (resize_prep, resize_migrating,
// resize_migrated, resize_finish, resize_reverting); SetServerTask writes task_state only.
void SetServerTask(Tx& tx, const std::string& server_uuid,
                   const std::optional<std::string>& task_state);
// The server now lives on `host_id` with `flavor`, in `vm_state` with `power_state`, its task
// cleared (finish: resized on the destination; revert: back on the source as it was).
void PlaceServer(Tx& tx, const std::string& server_uuid, int64_t host_id, const std::string& node,
                 const FlavorSnapshot& flavor, const std::string& vm_state, int power_state);
// Confirmed, or rolled back before it moved: vm_state set (active or stopped), task cleared.
// A server being deleted (confirmed on its way out) keeps its task.
void SetServerVmState(Tx& tx, const std::string& server_uuid, const std::string& vm_state);

}  // namespace ferry::controller::store
