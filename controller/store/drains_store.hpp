#pragma once
// Host drains (drains, drain_servers; 0013_drains.sql). The API inserts a drain and records
// pause, resume and cancel; the drain runner (controller/drains) holding its lease writes the
// rest: each server's state, its move, and the drain's end.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct DrainServer {
  std::string server_uuid;
  std::string name;
  int position = 0;  // 1-based, the plan's order
  std::string kind;  // "live" | "cold" | "evacuate"
  std::optional<std::string> planned_dest;
  // pending | starting | moving | moved | failed | skipped | cancelled
  std::string state = "pending";
  int64_t bytes = 0;  // predicted bytes to move
  double predicted_seconds = 0;
  std::optional<std::string> migration_uuid;  // the move now (or last) running for it
  int attempts = 0;                           // moves started for it
  std::vector<std::string> failed_dests;      // destinations a move of it failed towards
  std::optional<std::string> dest;            // where it went
  std::optional<std::string> reason;          // why it did not (skipped, failed, cancelled)
  std::optional<TimePoint> started_at, finished_at;
};

struct Drain {
  int64_t id = 0;
  std::string uuid;
  std::string host;
  std::string mode = "auto";  // live | cold | auto
  std::string status = "running";
  int max_parallel = 2;
  std::vector<std::string> target_hosts;
  std::optional<TimePoint> deadline;
  nlohmann::json plan = nlohmann::json::object();
  std::optional<std::string> idempotency_key;
  std::optional<std::string> user_id;
  std::optional<std::string> project_id;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> finished_at;
  std::optional<std::string> lease_owner;
  std::vector<DrainServer> servers;  // in plan order
};

// Inserts the drain and its servers, leased to nobody (the runner takes it). Throws kConflict
// when the host has a live drain or the idempotency key is taken (unique indexes).
void InsertDrain(Tx& tx, Drain& d);
std::optional<Drain> FindDrain(Tx& tx, const std::string& uuid);
std::optional<Drain> FindLiveDrainOfHost(Tx& tx, const std::string& host);
std::optional<Drain> FindDrainByIdempotencyKey(Tx& tx, const std::string& key);
std::vector<Drain> ListDrains(Tx& tx, int limit);  // newest first
// Hosts with a running, paused or cancelling drain.
std::vector<std::string> LiveDrainHosts(Tx& tx);

// status `from` (one of) -> `to`; false when it was in none of them.
bool ChangeDrainStatus(Tx& tx, const std::string& uuid, const std::vector<std::string>& from,
                       const std::string& to);
// Ends a drain the runner holds, still in status `from` (running, paused or cancelling), in
// `to` (done, partial, failed, cancelled), releasing its lease; false when it was not so.
bool FinishDrain(Tx& tx, const std::string& uuid, const std::string& owner, const std::string& from,
                 const std::string& to);
void SaveDrainServer(Tx& tx, int64_t drain_id, const DrainServer& s);

// Live drains leased to `owner` for `lease` more: ours, and those whose lease lapsed.
std::vector<std::string> AcquireDrainLeases(Tx& tx, const std::string& owner,
                                            std::chrono::seconds lease);
// Still `owner`'s by the clock now (not the transaction's start), and the drain's row locked
// until the transaction ends: a controller that stalls between this check and its write cannot
// commit after another has taken the lease (the taking waits for the lock, then sees the write).
bool DrainLeaseHeld(Tx& tx, const std::string& uuid, const std::string& owner);

// Tags a move with the drain it belongs to (the fair queue's turn, dashboards) if it has no tag:
// a drain's move is tagged as it is created; this tags one an older controller created.
void SetMoveDrain(Tx& tx, const std::string& migration_uuid, const std::string& drain_uuid);

// What became of a move, as a drain reads it.
struct MoveOutcome {
  int64_t id = 0;    // migrations.id (Nova's migration id)
  std::string type;  // migration_type
  std::string status;
  std::optional<std::string> dest;
  std::optional<std::string> error_reason;
  int64_t bytes_moved = 0;
};
std::optional<MoveOutcome> FindMoveOutcome(Tx& tx, const std::string& migration_uuid);

}  // namespace ferry::controller::store
