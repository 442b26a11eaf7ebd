#include "controller/store/metrics_store.hpp"

#include <string_view>

#include "common/metrics/metrics.hpp"
#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kLimits{"metrics_limits",
                            "SELECT set_config('statement_timeout', $1, true), "
                            "set_config('lock_timeout', $2, true), "
                            "set_config('transaction_read_only', 'on', true)"};

// Non-terminal moves by kind and status: an index-only scan of migrations_active_idx at most.
constexpr Statement kMoves{"metrics_moves", R"sql(
SELECT migration_type, status, count(*) FROM migrations
WHERE status NOT IN )sql" FERRY_SQL_TERMINAL_STATUSES R"sql(
GROUP BY 1, 2)sql"};

// Stuck moves (MetricsQuery): $1 the lease grace, $2 the no-progress bound, in seconds.
constexpr Statement kStuck{"metrics_stuck", R"sql(
SELECT migration_type,
       count(*) FILTER (WHERE coalesce(lease_until, updated_at, created_at)
                              < now() - make_interval(secs => $1)),
       count(*) FILTER (WHERE status NOT IN ('finished', 'done')
                          AND greatest(updated_at, progress_at, created_at)
                              < now() - make_interval(secs => $2))
FROM migrations
WHERE status NOT IN )sql" FERRY_SQL_TERMINAL_STATUSES R"sql(
GROUP BY 1)sql"};

constexpr Statement kHosts{"metrics_hosts", R"sql(
SELECT name, state = 'up' AND NOT forced_down, forced_down, disabled,
       extract(epoch FROM now() - last_heartbeat_at)::float8
FROM hosts ORDER BY name)sql"};

// The rows of v_orphaned_claims (0014; schema/views.md), counted: one definition of an orphaned
// claim for the dashboard, the metric and its alert.
constexpr Statement kOrphans{"metrics_orphaned_claims", "SELECT count(*) FROM v_orphaned_claims"};

// What a move that has just ended did: a primary-key read in the transaction that ended it.
constexpr Statement kFinished{"metrics_move_finished", R"sql(
SELECT migration_type,
       extract(epoch FROM coalesce(finished_at, now()) - created_at)::float8,
       downtime_ms,
       coalesce(memory_processed, 0) + coalesce(disk_processed, 0)
FROM migrations WHERE id = $1)sql"};

constexpr const char* kOutcomes[] = {"succeeded", "failed", "cancelled", "reverted"};

struct FinishedMetrics {
  metrics::CounterFamily& finished;
  metrics::HistogramFamily& duration;
  metrics::HistogramFamily& downtime;
  metrics::CounterFamily& bytes;
};

FinishedMetrics& Finished() {
  static FinishedMetrics m = [] {
    auto& r = metrics::DefaultRegistry();
    FinishedMetrics f{
        r.AddCounter("ferry_moves_finished_total",
                     "Moves that became terminal on this controller, by kind and outcome "
                     "(succeeded: completed or confirmed; failed: failed or error; cancelled; "
                     "reverted).",
                     {"kind", "outcome"}),
        r.AddHistogram("ferry_move_duration_seconds",
                       "Seconds from a move's request to its terminal status (queueing "
                       "included), observed when it ends, by kind and outcome.",
                       {"kind", "outcome"}, metrics::DurationBuckets()),
        r.AddHistogram("ferry_move_downtime_seconds",
                       "The guest's downtime of a move that ended with one reported, by kind.",
                       {"kind"}, metrics::DowntimeBuckets()),
        r.AddCounter("ferry_moved_bytes_total",
                     "Memory and disk bytes a move copied, counted when it ends, by kind.",
                     {"kind"}),
    };
    for (const char* kind : kMoveKinds) {  // every series from the start: rate() and alerts
      for (const char* outcome : kOutcomes) {
        f.finished.With({kind, outcome});
        f.duration.With({kind, outcome});
      }
      f.downtime.With({kind});
      f.bytes.With({kind});
    }
    return f;
  }();
  return m;
}

void Limit(Tx& tx) {
  tx.Exec(kLimits, std::to_string(kMetricsStatementTimeout.count()),
          std::to_string(kMetricsLockTimeout.count()));
}

}  // namespace

std::string MoveKindLabel(const std::string& migration_type) {
  for (const char* kind : kMoveKinds) {
    if (migration_type == kind) return kind;
  }
  return "other";
}

MetricsSnapshot ReadMetricsSnapshot(Tx& tx, const MetricsQuery& q) {
  Limit(tx);
  MetricsSnapshot s;
  for (const auto& r : tx.Exec(kMoves)) {
    s.moves.push_back(
        {MoveKindLabel(r[0].as<std::string>()), r[1].as<std::string>(), r[2].as<int64_t>()});
  }
  for (const auto& r : tx.Exec(kStuck, static_cast<double>(q.lease_grace.count()),
                               static_cast<double>(q.stuck_after.count()))) {
    s.stuck.push_back(
        {MoveKindLabel(r[0].as<std::string>()), r[1].as<int64_t>(), r[2].as<int64_t>()});
  }
  for (const auto& r : tx.Exec(kHosts)) {
    MetricsHost h;
    h.host = r[0].as<std::string>();
    h.up = r[1].as<bool>();
    h.forced_down = r[2].as<bool>();
    h.disabled = r[3].as<bool>();
    if (!r[4].is_null()) h.heartbeat_age_s = r[4].as<double>();
    s.hosts.push_back(std::move(h));
  }
  return s;
}

int64_t CountOrphanedClaims(Tx& tx) {
  Limit(tx);
  return tx.Exec(kOrphans)[0][0].as<int64_t>();
}

void ObserveMoveFinished(Tx& tx, int64_t migration_id, MigrationStatus to) {
  auto rows = tx.Exec(kFinished, migration_id);
  if (rows.empty()) return;
  const auto& r = rows[0];
  const std::string kind = MoveKindLabel(r[0].as<std::string>());
  const double seconds = r[1].is_null() ? 0.0 : r[1].as<double>();
  const std::optional<int64_t> downtime_ms = OptInt(r[2]);
  const auto bytes = r[3].as<int64_t>();
  // The seed's outcome (migration_statuses.outcome): succeeded, reverted, failed, cancelled.
  const std::string outcome(ToString(OutcomeOf(to)));
  tx.AfterCommit([=] {
    auto& m = Finished();
    m.finished.With({kind, outcome}).Inc();
    m.duration.With({kind, outcome}).Observe(seconds);
    if (downtime_ms) m.downtime.With({kind}).Observe(static_cast<double>(*downtime_ms) / 1000.0);
    m.bytes.With({kind}).Inc(static_cast<double>(bytes));
  });
}

void RegisterMoveMetrics() { Finished(); }

}  // namespace ferry::controller::store
