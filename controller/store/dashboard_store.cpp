#include "controller/store/dashboard_store.hpp"

#include <algorithm>

#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// A member's rows are those of their project's servers: the views' project_id is the project
// that asked for the move (Nova's migrations.project_id), an admin's for most moves, so the
// filter goes through the server's own project (servers.project_id, indexed).
//
// Each read names its columns (never `*`): a column added to a view reaches the page only when
// it is added here too, and none of the views carries a secret (schema/views.md).
// A read whose plan depends on its values (a member's project, the history's filters) is sent
// unprepared (Tx::ExecForValues) and planned for them each time: a generic plan, estimated for an
// average project or host, could walk a large project's servers one by one. The others are
// prepared; the pages of hosts and drains, whose generic plan PostgreSQL estimates a little
// dearer than planning each run (2 ms of 5 for hosts), go through DashboardKeptPlanPool.

// The page's moves are picked first (migrations_active_created_idx); the view then computes only
// their rows, instead of every move in flight before a sort. The page size is written into the
// statement and an admin's read has no parameter at all: PostgreSQL keeps one generic plan for
// it instead of planning the view again on every read (the plan is 3 ms of 4.4 at 10,000 moves
// in flight, and with the limit as a parameter the generic plan is slower than planning).
#define FERRY_DASHBOARD_MOVES(PICKED)                                                            \
  "SELECT coalesce(json_agg(t ORDER BY t.created_at, t.migration_id), '[]'::json)::text FROM ( " \
  "SELECT migration_id, migration_uuid, kind, server_uuid, server_name, project_id, user_id, "   \
  "status, phase, source_host, dest_host, progress_percent, memory_total_bytes, "                \
  "memory_processed_bytes, memory_remaining_bytes, disk_total_bytes, disk_processed_bytes, "     \
  "disk_remaining_bytes, transfer_rate_bps, eta_seconds, queue_position, attempt, drain_uuid, "  \
  "created_at, started_at, updated_at, progress_at, age_seconds, lease_owner, lease_expired, "   \
  "step_failures, last_step_error "                                                              \
  "FROM v_migrations_in_progress "                                                               \
  "WHERE migration_id IN (SELECT m.id FROM migrations m "                                        \
  "WHERE m.status = ANY (migration_status_list('active')) " PICKED                               \
  " ORDER BY m.created_at, m.id LIMIT 100)) t"
static_assert(kDashboardMovesPage == 100, "the LIMIT of FERRY_DASHBOARD_MOVES");

constexpr Statement kInProgress{"dashboard_in_progress", FERRY_DASHBOARD_MOVES("")};
// A member's: the moves of their project's servers ($1).
constexpr Statement kInProgressOfProject{
    "dashboard_in_progress_of_project",
    FERRY_DASHBOARD_MOVES(
        "AND m.instance_uuid IN (SELECT uuid FROM servers WHERE project_id = $1)")};

// The tiles' counts of every unfinished move (the page shows the oldest only), through a partial
// index of unfinished moves; each counted row's heap version is read, which progress reports
// keep rewriting (controller/web caches an admin's counts). A member's: their project's servers'.
constexpr Statement kMovesCounts{"dashboard_moves_counts", R"sql(
SELECT json_build_object('in_progress', count(*),
                         'queued', count(*) FILTER (WHERE m.status = 'queued'))::text
FROM migrations m
WHERE m.status = ANY (migration_status_list('active'))
  AND ($1::text IS NULL OR m.instance_uuid IN (SELECT uuid FROM servers WHERE project_id = $1)))sql"};

constexpr Statement kHistory{"dashboard_history", R"sql(
SELECT coalesce(json_agg(t ORDER BY t.finished_at DESC, t.migration_id DESC), '[]'::json)::text
FROM (
  SELECT migration_id, migration_uuid, kind, server_uuid, server_name, project_id, user_id,
         status, outcome, reason, source_host, dest_host, created_at, started_at, finished_at,
         queued_seconds, duration_seconds, memory_total_bytes, disk_total_bytes, bytes_moved,
         downtime_ms, attempt, drain_uuid
  FROM v_migration_history
  WHERE ($1::text IS NULL
         OR server_uuid = ANY (ARRAY(SELECT uuid FROM servers WHERE project_id = $1)))
    AND ($2::text IS NULL OR kind = $2)
    AND ($3::text IS NULL OR outcome = $3)
    AND ($4::text IS NULL OR source_host = $4 OR dest_host = $4)
    AND finished_at >= to_timestamp($5::float8)
    AND finished_at < to_timestamp($6::float8)
  ORDER BY finished_at DESC, migration_id DESC
  LIMIT $7) t)sql"};

constexpr Statement kEvents{"dashboard_events", R"sql(
SELECT coalesce(json_agg(t ORDER BY t.at, t.event_id), '[]'::json)::text FROM (
  SELECT event_id, migration_uuid, kind, server_uuid, project_id, from_status, to_status, event,
         reason, actor, request_id, at
  FROM v_migration_events
  WHERE migration_uuid = $1::uuid
    AND ($2::text IS NULL OR server_uuid IN (SELECT uuid FROM servers WHERE project_id = $2))
  ORDER BY at, event_id
  LIMIT $3) t)sql"};

// The hosts' tiles: none of v_host_load's per-host sums is read, so the planner drops them and
// this stays one pass over hosts.
#define FERRY_DASHBOARD_HOSTS_SUMMARY                                  \
  "SELECT json_build_object('total', count(*), "                       \
  "'down', count(*) FILTER (WHERE NOT is_up), "                        \
  "'disabled', count(*) FILTER (WHERE disabled), "                     \
  "'draining', count(*) FILTER (WHERE drain_uuid IS NOT NULL))::text " \
  "FROM v_host_load"
constexpr const char* kHostsSummarySql = FERRY_DASHBOARD_HOSTS_SUMMARY;

// $1 after (a host name; null: from the first), $2 problems only (down, forced down, disabled
// or draining), $3 limit: a page by name, keyset on hosts_name_key. The second column is the
// next page's `after` (the page's last host) when the page is full; the third the tiles' counts
// over every host, in the same statement (one round trip a poll). The first page and the
// next ones are two statements: in one, a kept generic plan could not bound the index scan by
// `host > $1` (it might be null) and would walk every host before the page.
#define FERRY_DASHBOARD_HOSTS(AFTER)                                                        \
  "SELECT coalesce(json_agg(t ORDER BY t.host), '[]'::json)::text, "                        \
  "CASE WHEN count(*) = $3 THEN max(t.host) END, (" FERRY_DASHBOARD_HOSTS_SUMMARY           \
  ") FROM ( "                                                                               \
  "SELECT host_id, host, hypervisor_type, cell, state, is_up, forced_down, disabled, "      \
  "disabled_reason, last_heartbeat_at, heartbeat_age_seconds, servers, vcpus, vcpus_used, " \
  "memory_mb, memory_mb_used, local_gb, disk_gb_used, outbound_moves, inbound_moves, "      \
  "queued_outbound, drain_uuid FROM v_host_load WHERE " AFTER                               \
  " AND (NOT $2 OR NOT is_up OR disabled OR drain_uuid IS NOT NULL) "                       \
  "ORDER BY host LIMIT $3) t"
constexpr Statement kHostsFirst{"dashboard_hosts_first", FERRY_DASHBOARD_HOSTS("$1::text IS NULL")};
constexpr Statement kHostsAfter{"dashboard_hosts_after", FERRY_DASHBOARD_HOSTS("host > $1")};

constexpr Statement kOrphanedClaims{"dashboard_orphaned_claims",
                                    "SELECT count(*) FROM v_orphaned_claims"};

constexpr Statement kDrains{"dashboard_drains", R"sql(
SELECT coalesce(json_agg(t ORDER BY t.live DESC, t.created_at DESC, t.drain_id DESC),
                '[]'::json)::text FROM (
  SELECT d.drain_id, d.drain_uuid, d.host, d.mode, d.status, d.max_parallel, d.target_hosts,
         d.deadline, d.created_at, d.updated_at, d.finished_at, d.user_id, d.project_id,
         d.servers_total, d.servers_pending, d.servers_moving, d.servers_moved,
         d.servers_failed, d.servers_skipped, d.servers_cancelled, d.progress_percent,
         d.eta_seconds, d.remaining_servers, d.finished_at IS NULL AS live,
         (SELECT coalesce(json_agg(p ORDER BY p.position), '[]'::json) FROM (
            SELECT s.position, s.server_uuid, s.server_name, s.kind, s.planned_dest, s.dest,
                   s.state, s.bytes, s.predicted_seconds, s.migration_uuid, s.attempts,
                   s.reason, s.started_at, s.finished_at
            FROM v_drain_servers s WHERE s.drain_uuid = d.drain_uuid
            ORDER BY s.position LIMIT $2) p) AS servers
  -- The page's drains are picked from drains alone, then the view computes their counts and ETA
  -- only: sorting the view itself would compute every drain's before keeping $1.
  FROM (SELECT id FROM drains
        ORDER BY finished_at IS NULL DESC, created_at DESC, id DESC
        LIMIT $1) page
  JOIN v_host_drain_status d ON d.drain_id = page.id) t)sql"};

constexpr Statement kInsertSession{"dashboard_session_insert", R"sql(
INSERT INTO dashboard_sessions (id_sha256, role, project_id, user_id, name, token_sha256,
                                expires_at)
VALUES (decode($1, 'hex'), $2, $3, $4, $5, decode($6, 'hex'), now() + make_interval(secs => $7)))sql"};
// A user's sessions beyond the newest $3, by dashboard_sessions_user_idx.
constexpr Statement kTrimUserSessions{"dashboard_session_trim_user", R"sql(
DELETE FROM dashboard_sessions WHERE id_sha256 IN (
  SELECT id_sha256 FROM dashboard_sessions WHERE user_id = $1 AND project_id = $2
  ORDER BY created_at DESC, id_sha256 DESC
  OFFSET $3))sql"};
constexpr Statement kFindSession{"dashboard_session_find", R"sql(
SELECT role, project_id, user_id, name, encode(token_sha256, 'hex'),
       last_seen_at < now() - make_interval(secs => $3)
FROM dashboard_sessions
WHERE id_sha256 = decode($1, 'hex') AND expires_at > now()
  AND last_seen_at > now() - make_interval(secs => $2))sql"};
constexpr Statement kTouchSession{
    "dashboard_session_touch",
    "UPDATE dashboard_sessions SET last_seen_at = now() WHERE id_sha256 = decode($1, 'hex')"};
// A session's last-seen time is not worth a wait for a disk flush (milliseconds, more on a
// busy disk, on the request that happens to touch): its commit returns before the WAL is
// flushed. A crash can lose the last touch; the session then ends at most kSessionTouchEvery
// sooner.
constexpr Statement kNoFlushWait{"dashboard_no_flush_wait",
                                 "SELECT set_config('synchronous_commit', 'off', true)"};
constexpr Statement kDeleteSession{
    "dashboard_session_delete",
    "DELETE FROM dashboard_sessions WHERE id_sha256 = decode($1, 'hex')"};
constexpr Statement kDeleteEnded{"dashboard_session_delete_ended", R"sql(
DELETE FROM dashboard_sessions WHERE id_sha256 IN (
  SELECT id_sha256 FROM dashboard_sessions WHERE expires_at <= now()
  UNION
  SELECT id_sha256 FROM dashboard_sessions WHERE last_seen_at <= now() - make_interval(secs => $1)
  LIMIT $2))sql"};

// The one JSON text a dashboard read answers.
std::string Text(const pqxx::result& r) { return r[0][0].as<std::string>(); }

}  // namespace

DatabaseOptions DashboardReadPool(DatabaseOptions shared) {
  // 2: the page's reads take milliseconds each and a few open pages poll every 2 s.
  shared.pool_size = 2;
  shared.name = "dashboard";
  shared.session.statement_timeout = kDashboardStatementTimeout;
  shared.session.read_only = true;
  return shared;
}

DatabaseOptions DashboardKeptPlanPool(DatabaseOptions shared) {
  shared = DashboardReadPool(std::move(shared));
  shared.name = "dashboard_kept_plans";
  shared.session.generic_plans = true;
  return shared;
}

DatabaseOptions DashboardSessionPool(DatabaseOptions shared) {
  shared.pool_size = 1;
  shared.name = "dashboard_sessions";
  shared.acquire_timeout = std::chrono::seconds(1);
  shared.session.statement_timeout = kDashboardStatementTimeout;
  return shared;
}

std::string DashboardMovesInProgress(Tx& tx, const std::optional<std::string>& project) {
  return Text(project ? tx.ExecForValues(kInProgressOfProject, *project) : tx.Exec(kInProgress));
}

std::string DashboardHistory(Tx& tx, const DashboardHistoryFilter& f) {
  return Text(
      tx.ExecForValues(kHistory, f.project, f.kind, f.outcome, f.host, f.since, f.until, f.limit));
}

const char* DashboardHistorySql() { return kHistory.sql; }

const char* DashboardMovesSql(bool of_project) {
  return of_project ? kInProgressOfProject.sql : kInProgress.sql;
}

std::string DashboardMovesCounts(Tx& tx, const std::optional<std::string>& project) {
  return Text(tx.ExecForValues(kMovesCounts, project));
}

std::string DashboardEvents(Tx& tx, const std::string& migration_uuid,
                            const std::optional<std::string>& project, int limit) {
  return Text(tx.Exec(kEvents, migration_uuid, project, limit));
}

DashboardHostsPage DashboardHosts(Tx& tx, const std::optional<std::string>& after,
                                  bool problems_only, int limit) {
  auto r = tx.Exec(after ? kHostsAfter : kHostsFirst, after, problems_only, limit);
  return {r[0][0].as<std::string>(), OptString(r[0][1]), r[0][2].as<std::string>()};
}

const char* DashboardHostsAfterSql() { return kHostsAfter.sql; }

const char* DashboardHostsSummarySql() { return kHostsSummarySql; }

int64_t DashboardOrphanedClaims(Tx& tx) { return tx.Exec(kOrphanedClaims)[0][0].as<int64_t>(); }

std::string DashboardDrains(Tx& tx, int limit, int plan_limit) {
  return Text(tx.Exec(kDrains, limit, plan_limit));
}

const char* DashboardDrainsSql() { return kDrains.sql; }

int64_t InsertDashboardSession(Tx& tx, const std::string& id_sha256_hex, const DashboardSession& s,
                               std::chrono::seconds lifetime, int max_per_user) {
  const int64_t trimmed =
      tx.Exec(kTrimUserSessions, s.user_id, s.project_id, std::max(0, max_per_user - 1))
          .affected_rows();
  tx.Exec(kInsertSession, id_sha256_hex, s.role, s.project_id, s.user_id, s.name,
          s.token_sha256_hex, static_cast<double>(lifetime.count()));
  return trimmed;
}

std::optional<FoundDashboardSession> FindDashboardSession(Tx& tx, const std::string& id_sha256_hex,
                                                          std::chrono::seconds idle) {
  auto r = tx.Exec(kFindSession, id_sha256_hex, static_cast<double>(idle.count()),
                   static_cast<double>(kSessionTouchEvery.count()));
  if (r.empty()) return std::nullopt;
  DashboardSession s{r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                     r[0][2].as<std::string>(), r[0][3].as<std::string>(),
                     r[0][4].as<std::string>()};
  return FoundDashboardSession{std::move(s), r[0][5].as<bool>()};
}

void TouchDashboardSession(Tx& tx, const std::string& id_sha256_hex) {
  tx.Exec(kNoFlushWait);
  tx.Exec(kTouchSession, id_sha256_hex);
}

bool DeleteDashboardSession(Tx& tx, const std::string& id_sha256_hex) {
  return tx.Exec(kDeleteSession, id_sha256_hex).affected_rows() > 0;
}

int64_t DeleteEndedDashboardSessions(Tx& tx, std::chrono::seconds idle, int limit) {
  return tx.Exec(kDeleteEnded, static_cast<double>(idle.count()), limit).affected_rows();
}

}  // namespace ferry::controller::store
