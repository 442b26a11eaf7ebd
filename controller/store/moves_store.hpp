#pragma once
// What the move engine (controller/moves) needs of the migrations table for every kind of move
// alike: leases with their fencing epoch, slot admission across kinds in fair order, and the
// retry budget of a step that keeps throwing. Kind-specific columns are each kind's own store
// (live_migrations_store.hpp).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/migration_status.hpp"

namespace ferry::controller::store {

class Tx;

// One move: its uuid and migrations.migration_type (which kind drives it).
struct MoveRef {
  std::string type;
  std::string uuid;
  bool operator==(const MoveRef&) const = default;
};

// One transition of a move, appended to migration_events in the transaction that commits it.
struct MigrationEvent {
  std::optional<MigrationStatus> from_status;
  MigrationStatus to_status = MigrationStatus::kAccepted;
  std::string event;
  std::optional<std::string> reason;
  std::string actor;
  std::optional<std::string> request_id;
};

// Appends `e` to the move's trail (migration_events).
void AppendMigrationEvent(Tx& tx, int64_t migration_id, const MigrationEvent& e);
// Events of one migration, oldest first (for instance actions and tests).
std::vector<MigrationEvent> ListMigrationEvents(Tx& tx, int64_t migration_id);

// Claims during a move: the source claim moves between the server and the migration.
void MoveClaims(Tx& tx, const std::string& from_consumer, const std::string& to_consumer);
// Drops the consumer's claims on one host only.
void ReleaseClaimsOnHost(Tx& tx, const std::string& consumer_uuid, int64_t host_id);

// The server's move of any kind that is not terminal, if any: a server moves once at a time. An
// evacuation that is done does not count: the server runs on its destination already.
std::optional<MoveRef> FindActiveMove(Tx& tx, const std::string& instance_uuid);

// Leases. Acquire takes non-terminal moves of the given types that have no live lease (never
// leased, expired, or released) in a new epoch (the fencing token agents check); Renew extends
// ours (same epoch). Both return the moves now held. Types this controller does not drive are
// never leased by it.
std::vector<MoveRef> AcquireLeases(Tx& tx, const std::string& owner, std::chrono::seconds lease,
                                   const std::vector<std::string>& types, int limit);
std::vector<MoveRef> RenewLeases(Tx& tx, const std::string& owner, std::chrono::seconds lease,
                                 const std::vector<std::string>& types);
void ReleaseLease(Tx& tx, const std::string& uuid, const std::string& owner);
// True while `owner` holds the lease of `uuid` in `epoch` and it runs until after PostgreSQL's
// now(): checked right before a step makes an agent act, as the lease may have lapsed since the
// step read the move (a stalled controller).
bool LeaseStillHeld(Tx& tx, const std::string& uuid, const std::string& owner, int64_t epoch);

// Slot admission across every kind. Holds a transaction-scoped advisory lock so that
// admissions by several controllers are serialised; returns the queued moves in fair order
// (requesters, and each host drain, take turns, oldest first within a turn) with the slots in
// use they must respect (FERRY_SQL_SLOT_STATUSES: a cold move occupies the same slots as a live
// one).
struct SlotView {
  struct Queued {
    MoveRef move;
    std::string source;
    std::string dest;
    std::optional<std::string> lease_owner;
  };
  std::vector<Queued> queued;
  // Counted on the hosts the queued moves go from and to only (another host's count reads 0).
  std::map<std::string, int> outbound;  // host -> moves occupying a slot from it
  std::map<std::string, int> inbound;   // host -> ... towards it
  int total = 0;                        // the cluster's, when asked for (with_total)
};
SlotView LockSlots(Tx& tx, bool with_total);
// Queue positions (1-based, fair order across kinds) of every queued move.
std::map<std::string, int> QueuePositions(Tx& tx);
// EXPLAIN of the fair order's query with its look-back bound, as LockSlots runs it (tests);
// analyze: run, with what each node read.
std::string ExplainFairQueueForTest(Tx& tx, bool analyze = false);

// The retry budget: counts one more failure in a row of the move's step (only while `owner`
// holds its lease); nullopt when it is not ours any more. A clean step (ClearStepFailures) and
// every status change (each kind's save) start the count over.
struct StepFailures {
  int count = 0;
  double failing_for_s = 0;  // since the first of them, by PostgreSQL's clock
};
std::optional<StepFailures> RecordStepFailure(Tx& tx, const std::string& uuid,
                                              const std::string& owner, const std::string& error);
void ClearStepFailures(Tx& tx, const std::string& uuid, const std::string& owner);

}  // namespace ferry::controller::store
