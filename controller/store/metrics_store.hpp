#pragma once
// What /metrics reads from PostgreSQL, and the metrics of a move's end (observed where every
// kind's status change lands: AppendMigrationEvent).
//
// The reads are few and cheap: each is a GROUP BY over the non-terminal moves (the partial
// index migrations_active_idx, whose list is FERRY_SQL_TERMINAL_STATUSES) or over the hosts
// table (one row per host), under a statement timeout of its own; the orphaned-claims count,
// the one join over claims, is read less often by its caller. Callers cache the answers (the
// API's /metrics keeps them a few seconds), so a scrape every second cannot hammer the database.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/migration_status.hpp"

namespace ferry::controller::store {

class Tx;

// 1 s per metrics statement: each reads an index or a small table in milliseconds; a database
// that needs longer is in trouble, and /metrics then shows its last answer rather than waiting.
inline constexpr std::chrono::milliseconds kMetricsStatementTimeout{1000};
// 0.5 s for a table lock (a LOCK TABLE, a long DDL): the reads take none but ACCESS SHARE, so a
// wait means someone holds an exclusive lock, and the metrics give up at once rather than queue.
inline constexpr std::chrono::milliseconds kMetricsLockTimeout{500};

struct MetricsQuery {
  // A non-terminal move no controller has held a lease on for this long is stuck
  // (reason "lease_expired"). 60 s: four times the default lease (15 s), so a takeover after a
  // controller's crash (one lease) never counts.
  std::chrono::seconds lease_grace{60};
  // A non-terminal move with no status change and no progress report for this long is stuck
  // (reason "no_progress"), unless it waits by design: a resize waiting for its confirm
  // (finished) or an evacuation waiting for its dead source to return (done). 3600 s: progress
  // reports come every 5 s while a copy runs, and every other step ends within minutes.
  std::chrono::seconds stuck_after{3600};
};

struct MetricsMoveCount {
  std::string kind;    // migrations.migration_type
  std::string status;  // non-terminal only
  int64_t count = 0;
};

struct MetricsStuckCount {
  std::string kind;
  int64_t lease_expired = 0;
  int64_t no_progress = 0;
};

struct MetricsHost {
  std::string host;
  bool up = false;  // state 'up' as heartbeats say and not forced down
  bool forced_down = false;
  bool disabled = false;
  std::optional<double> heartbeat_age_s;  // none: never heartbeated
};

struct MetricsSnapshot {
  std::vector<MetricsMoveCount> moves;
  std::vector<MetricsStuckCount> stuck;
  std::vector<MetricsHost> hosts;
};

// Moves by kind and non-terminal status, stuck moves by kind, and every host.
MetricsSnapshot ReadMetricsSnapshot(Tx& tx, const MetricsQuery& q);

// The rows of v_orphaned_claims: claims whose consumer is a move that ended, a deleted server, a
// server on another host that no move holding resources names (source or destination), or
// nothing ferry knows. Read in a transaction of its own: it is the one read over every claim,
// and its failure must not hold back the snapshot's gauges.
int64_t CountOrphanedClaims(Tx& tx);

// The move `migration_id` has just become terminal (`to`) in tx: once tx commits, its kind's
// ferry_moves_finished_total, ferry_move_duration_seconds, ferry_move_downtime_seconds and
// ferry_moved_bytes_total count it.
void ObserveMoveFinished(Tx& tx, int64_t migration_id, MigrationStatus to);

// Registers the families ObserveMoveFinished feeds, so they show (at 0) before a move ends.
void RegisterMoveMetrics();

// The move kinds' label values; anything else is "other".
inline constexpr const char* kMoveKinds[] = {"live-migration", "migration", "resize", "evacuation"};
std::string MoveKindLabel(const std::string& migration_type);

}  // namespace ferry::controller::store
