#pragma once
// Live-migration records as the engine drives them. Who writes which columns is split so that
// writers never overwrite each other:
//   - the lease owner (engine): status and everything in SaveLiveMigration, guarded by
//     compare-and-set on state_version AND lease ownership (a controller whose lease was taken
//     over cannot write any more: fencing);
//   - the API: abort_requested_at / force_complete_requested_at (RequestAbort, RequestForce...);
//   - progress ingest: the job_* and byte counters (ApplyProgress).
// Leases and slot admission are the move engine's, the same for every kind (moves_store.hpp).
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "common/clock.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/migration_status.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::store {

class Tx;

// What the controller is doing for a live migration (migrations.step), beside its status.
enum class LiveStep {
  kScheduling,            // accepted: choosing and claiming a destination
  kWaitingForSlot,        // queued
  kPreparingDestination,  // preparing
  kStarting,              // running, start_live_migration not yet answered by the source
  kCopying,               // running, the source's job copies (its phase: job_phase)
  kFinishing,             // post-migrating
  kDone,                  // terminal
};
std::string_view ToString(LiveStep s);

// Nova's block_migration: "auto" copies the disk exactly when it is local to the host.
enum class BlockMigration { kAuto, kTrue, kFalse };
std::string_view ToString(BlockMigration b);
std::optional<BlockMigration> ParseBlockMigration(std::string_view s);
std::optional<LiveStep> ParseLiveStep(std::string_view s);

struct LiveMigration {
  int64_t id = 0;
  std::string uuid;
  std::string instance_uuid;
  MigrationStatus status = MigrationStatus::kAccepted;
  std::optional<std::string> source_compute;
  std::optional<std::string> source_node;
  std::optional<std::string> dest_compute;
  std::optional<std::string> dest_node;
  std::optional<std::string> dest_host;
  std::optional<int64_t> memory_total, memory_processed, memory_remaining;
  std::optional<int64_t> disk_total, disk_processed, disk_remaining;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  TimePoint created_at;
  std::optional<TimePoint> updated_at;
  LiveStep step = LiveStep::kScheduling;
  int attempt = 0;
  int64_t state_version = 0;
  std::optional<std::string> lease_owner;
  std::optional<TimePoint> lease_until;
  // The fencing token of the current lease: +1 at every takeover, kept by renewals. Agents
  // refuse a command of this migration that carries an older one (wire::LeaseFence).
  int64_t lease_epoch = 0;
  std::optional<int64_t> transfer_rate_bps, dirty_rate_bps, eta_seconds, downtime_ms;
  std::optional<std::string> error_reason;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> drain_uuid;  // inserted only: the drain that asked, if one did
  // The request as it was made: written once, read by nothing that decides (see below).
  nlohmann::json request_params = nlohmann::json::object();
  // The request, typed.
  std::optional<std::string> requested_host;
  BlockMigration block_migration = BlockMigration::kAuto;
  bool forced = false;
  // Workflow state the steps keep.
  std::optional<bool> copies_disk;  // block migration as resolved when scheduled
  std::optional<std::string> incoming_uri;
  std::vector<std::string> precheck_failures;
  std::optional<std::string> abort_reason;  // set with the abort request by a timeout
  bool abort_sent = false;
  std::optional<std::string> abort_refused;
  std::optional<std::string> force_complete_reason;
  std::optional<std::string> force_complete_refused;
  // The move engine's retry budget (moves_store.hpp), read only: failures in a row of its
  // step and the last one's text, which the API shows an operator.
  int step_failures = 0;
  std::optional<std::string> last_step_error;
  std::optional<wire::JobState> job_state;
  std::optional<wire::JobPhase> job_phase;
  std::optional<std::string> job_error;
  std::optional<TimePoint> progress_at;
  std::optional<int64_t> iteration, throttle_percent;
  std::optional<int64_t> lowest_remaining;
  std::optional<TimePoint> lowest_remaining_at;
  std::optional<TimePoint> started_at, finished_at;
  std::optional<TimePoint> abort_requested_at, force_complete_requested_at, force_completed_at;
  nlohmann::json policy = nlohmann::json::object();
  std::vector<std::string> ignore_hosts;
};

// Inserts a new live migration (status from `m`) and its first event, leased to lease_owner
// until now + lease. Throws kConflict if m.idempotency_key is taken.
void InsertLiveMigration(Tx& tx, LiveMigration& m, const MigrationEvent& first,
                         const std::string& lease_owner, std::chrono::seconds lease);
std::optional<LiveMigration> FindLiveMigration(Tx& tx, const std::string& uuid);
std::optional<LiveMigration> FindLiveMigrationById(Tx& tx, int64_t id);
std::optional<LiveMigration> FindByIdempotencyKey(Tx& tx, const std::string& key);
// Live migrations of a server, oldest first; only Nova's "in progress" statuses when asked.
std::vector<LiveMigration> ListServerLiveMigrations(Tx& tx, const std::string& instance_uuid,
                                                    bool in_progress_only);
// The server's live migration that is not terminal, if any.
std::optional<LiveMigration> FindActiveLiveMigration(Tx& tx, const std::string& instance_uuid);

// Compare-and-set: writes the engine-owned columns of `m` (status, step, attempt, dest_*,
// error_reason, started/finished/force_completed_at, ignore_hosts and the workflow state) if the
// row still has m.state_version and is leased to `owner`; bumps state_version (and m's) and appends
// `event` when the status changes. False when the CAS lost: someone else moved it on.
bool SaveLiveMigration(Tx& tx, LiveMigration& m, const std::string& owner,
                       const std::optional<MigrationEvent>& event);

// Requests recorded by the API for the lease owner to act on. False if already requested.
bool RequestAbort(Tx& tx, const std::string& uuid, TimePoint now);
bool RequestForceComplete(Tx& tx, const std::string& uuid, TimePoint now);

// Progress ingest: applies every report in one statement (progress_store.hpp). Only a report
// from the migration's source host for a running migration lands, never one sampled before what
// the row holds, and of several reports of one migration from one host only the newest; also
// sets servers.progress. Returns rows updated.
struct HostReport {
  std::string host;  // the agent that posted it
  wire::LiveMigrationJob job;
};
int ApplyProgress(Tx& tx, const std::vector<HostReport>& reports);
int ApplyProgress(Tx& tx, const std::string& host,
                  const std::vector<wire::LiveMigrationJob>& reports);

// The server's side of a move ending: task_state 'migrating' cleared (and progress reset);
// FinishServerMove also puts the server on its new host.
void ClearMigratingTask(Tx& tx, const std::string& server_uuid);
void FinishServerMove(Tx& tx, const std::string& server_uuid, int64_t host_id,
                      const std::string& node);

}  // namespace ferry::controller::store
