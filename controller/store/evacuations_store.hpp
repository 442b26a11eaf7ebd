#pragma once
// Evacuations (Nova's migration_type "evacuation") as the move engine drives them. Who writes
// which columns, as for cold moves (cold_migrations_store.hpp): the lease owner writes status
// and everything in SaveEvacuation (compare-and-set on state_version and lease ownership); the
// API writes only the insert. Nothing reports progress: nothing is copied.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/migration_status.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::store {

class Tx;

// What the controller is doing for an evacuation (migrations.step), beside its status.
enum class EvacuationStep {
  kScheduling,               // accepted: choosing and claiming a destination
  kWaitingForSlot,           // queued
  kRebuildingOnDestination,  // pre-migrating: the destination defines (and starts) the guest
  kRollingBackDestination,   // a failed rebuild (error_reason says why) is undone there
  kWaitingForSource,         // done: the guest runs on the destination; its old host is down
  kCleaningUpSource,         // done: the old host is back; its stale copy is removed
  kDone,                     // terminal
};
std::string_view ToString(EvacuationStep s);
std::optional<EvacuationStep> ParseEvacuationStep(std::string_view s);

struct Evacuation {
  int64_t id = 0;
  std::string uuid;
  std::string instance_uuid;
  MigrationStatus status = MigrationStatus::kAccepted;
  std::optional<std::string> source_compute;
  std::optional<std::string> source_node;
  std::optional<std::string> dest_compute;
  std::optional<std::string> dest_node;
  std::optional<std::string> dest_host;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  TimePoint created_at;
  std::optional<TimePoint> updated_at;
  EvacuationStep step = EvacuationStep::kScheduling;
  int attempt = 0;
  int64_t state_version = 0;
  std::optional<std::string> lease_owner;
  std::optional<TimePoint> lease_until;
  int64_t lease_epoch = 0;  // the fencing token agents check (wire::LeaseFence)
  std::optional<std::string> error_reason;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> drain_uuid;  // inserted only: the drain that asked, if one did
  nlohmann::json request_params = nlohmann::json::object();  // as made, written once
  // The request, typed.
  std::optional<std::string> requested_host;  // evacuate's "host"
  bool forced = false;                        // 2.29-2.67 "force": the host is not validated
  bool power_on = true;   // start it on the destination (false: 2.95, or it was stopped)
  FlavorSnapshot flavor;  // the server's when it was asked (migrations.old_flavor)
  // Resolved when scheduled: the destination reaches the same disks. false: they were local
  // and are gone with the source; the root disk is rebuilt from the server's image.
  std::optional<bool> shared_storage;
  // The engine's retry budget (moves_store.hpp), read only.
  int step_failures = 0;
  std::optional<std::string> last_step_error;
  std::optional<TimePoint> started_at, finished_at;
  // Why this build cannot drive the record, else empty (as ColdMigration::unreadable).
  std::string unreadable;
};

// Inserts a new evacuation and its first event, leased to lease_owner until now + lease.
// Throws kConflict if e.idempotency_key is taken.
void InsertEvacuation(Tx& tx, Evacuation& e, const MigrationEvent& first,
                      const std::string& lease_owner, std::chrono::seconds lease);
std::optional<Evacuation> FindEvacuation(Tx& tx, const std::string& uuid);
std::optional<Evacuation> FindEvacuationByIdempotencyKey(Tx& tx, const std::string& key);

// Compare-and-set of the engine-owned columns (status, step, attempt, dest_*, error_reason,
// shared_storage, started/finished_at) if the row still has e.state_version and is leased to
// `owner`; bumps state_version and appends `event`. False when the CAS lost.
bool SaveEvacuation(Tx& tx, Evacuation& e, const std::string& owner,
                    const std::optional<MigrationEvent>& event);

// The tombstones on `host` (hosts.name): the servers of evacuations from it that are accepted,
// queued, pre-migrating or done. Their guests must not run there.
std::vector<std::string> ListEvacuatedFrom(Tx& tx, const std::string& host);

// servers.reported_disks of a server (wire::Disk objects); an empty array when never reported.
nlohmann::json ReportedDisksOf(Tx& tx, const std::string& server_uuid);

}  // namespace ferry::controller::store
