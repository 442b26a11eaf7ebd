#pragma once
// The built-in dashboard's reads and its sessions. Rows come only from the views of
// 0014_dashboard_views.sql (schema/views.md, the dashboard contract); PostgreSQL renders each
// answer as one JSON text (an array of rows, or an object of counts), so the page gets the
// contract's column names unchanged and an admin's page is sent as PostgreSQL wrote it. (The live
// moves' page and counts pick and count moves in migrations itself, through indexes the view's
// joins cannot keep in order.) Sessions
// are the rows of dashboard_sessions (0015_dashboard_sessions.sql).
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/store/database.hpp"

namespace ferry::controller::store {

class Tx;

// The dashboard's pools, apart from the API's so that a flood of dashboard requests (or of
// logins, which take a valid token) never holds API connections:
// its reads: 2 connections, read-only, each statement ended after kDashboardStatementTimeout
// (both win over the DSN's own options);
DatabaseOptions DashboardReadPool(DatabaseOptions shared);
// its reads that keep one plan (the pages of hosts and of drains): the same, but every prepared
// statement keeps its generic plan (SessionLimits::generic_plans). Not for a read planned for
// its values (Tx::ExecForValues): the setting holds its unnamed statements to a generic plan
// too, which for a member's history or moves walks every move of the range.
DatabaseOptions DashboardKeptPlanPool(DatabaseOptions shared);
// its sessions' writes (login, logout, a session's last-seen time): 1 connection, waited for at
// most 1 s, each statement ended after kDashboardStatementTimeout.
DatabaseOptions DashboardSessionPool(DatabaseOptions shared);

// The dashboard reads through a pool of its own (main.cpp) whose connections are read-only and
// time a statement out after kDashboardStatementTimeout instead of the pool's 10 s. Each read is
// one statement, sent outside a transaction block.
// 2 s: the views answer in milliseconds at a million migrations (their EXPLAIN pg tests; the
// issue's bound for dashboard view queries is 20 ms); the page polls every 2 s, so an answer
// slower than that is useless and its pooled connection better freed.
inline constexpr std::chrono::milliseconds kDashboardStatementTimeout{2000};

// The live moves' page: the oldest kDashboardMovesPage of v_migrations_in_progress; project:
// only that project's servers' moves (a member).
inline constexpr int kDashboardMovesPage = 100;
std::string DashboardMovesInProgress(Tx& tx, const std::optional<std::string>& project);
// The statement DashboardMovesInProgress sends, for a project or not (its EXPLAIN test; the one
// for a project takes it as $1).
const char* DashboardMovesSql(bool of_project);
// {in_progress, queued}: every unfinished move, and those queued; of the project's servers only
// when project is given.
std::string DashboardMovesCounts(Tx& tx, const std::optional<std::string>& project);

struct DashboardHistoryFilter {
  std::optional<std::string> project;  // a member's project; nullopt: all (an admin)
  std::optional<std::string> kind;     // migrations.migration_type
  std::optional<std::string> outcome;  // succeeded | failed | cancelled | reverted
  std::optional<std::string> host;     // source or destination
  // finished_at >= since and < until (epoch seconds), always both: a bounded walk of
  // migrations_finished_idx for an admin, of a project's servers' moves for a member.
  double since = 0;
  double until = 0;
  int limit = 50;
};
// v_migration_history, the latest finished first. A member's read starts from the project's
// servers (servers_project_idx, then migrations_instance_idx per server), never a walk of every
// finished move.
std::string DashboardHistory(Tx& tx, const DashboardHistoryFilter& f);
// The statement DashboardHistory sends (its EXPLAIN test).
const char* DashboardHistorySql();

// v_migration_events of one move, in order; empty ("[]") when the move is not the project's.
std::string DashboardEvents(Tx& tx, const std::string& migration_uuid,
                            const std::optional<std::string>& project, int limit);

// v_host_load, a page by host name: the hosts after `after` (all when nullopt); problems_only:
// only hosts down, forced down, disabled or draining.
struct DashboardHostsPage {
  std::string rows;                 // JSON array, by name
  std::optional<std::string> next;  // the last host's name when the page is full
  std::string summary;  // {total, down, disabled, draining} over every host, read with the page
};
DashboardHostsPage DashboardHosts(Tx& tx, const std::optional<std::string>& after,
                                  bool problems_only, int limit);
// The statement DashboardHosts sends for a page after a host (its plan test: the keyset bounds
// the index scan even in a kept generic plan). Parameters: $1 after, $2 problems only, $3 limit.
const char* DashboardHostsAfterSql();
// The query of DashboardHostsPage::summary (its EXPLAIN test: no claim nor move is read).
const char* DashboardHostsSummarySql();
// The rows of v_orphaned_claims. It reads every claim: tens of ms, over 100 with 10,000 moves
// in flight (the dashboard caches it).
int64_t DashboardOrphanedClaims(Tx& tx);

// v_host_drain_status, live drains first then the newest, each with its plan from
// v_drain_servers ("servers", plan order, at most plan_limit rows per drain). The page's drains
// are picked first: only their counts and ETA are computed, whatever the drains' history.
std::string DashboardDrains(Tx& tx, int limit, int plan_limit);
// The statement DashboardDrains sends ($1 limit, $2 plan_limit; its EXPLAIN test).
const char* DashboardDrainsSql();

// Sessions. id_sha256_hex: the SHA-256 of the cookie's id, 64 hex digits (never the id).
struct DashboardSession {
  std::string role;  // admin | member | reader
  std::string project_id;
  std::string user_id;
  std::string name;
  std::string token_sha256_hex;  // SHA-256 of the token that logged in, 64 hex digits
};
// Inserts the session after deleting that user's (user_id, project_id) oldest sessions beyond
// max_per_user - 1, so at most max_per_user are left; returns how many were deleted.
int64_t InsertDashboardSession(Tx& tx, const std::string& id_sha256_hex, const DashboardSession& s,
                               std::chrono::seconds lifetime, int max_per_user);
// The session when it has neither passed its absolute end nor been idle longer than `idle`; one
// statement, which writes nothing.
struct FoundDashboardSession {
  DashboardSession session;
  bool touch_due = false;  // last seen longer than kSessionTouchEvery ago: TouchDashboardSession
};
std::optional<FoundDashboardSession> FindDashboardSession(Tx& tx, const std::string& id_sha256_hex,
                                                          std::chrono::seconds idle);
// 15 s: a page polling every 2 s writes its session row at most once per 15 s instead of on
// every request; the idle end is this much later at worst.
inline constexpr std::chrono::seconds kSessionTouchEvery{15};
// Moves the session's last_seen_at to now, without waiting for a disk flush: inside tx, whose
// commit then returns before the WAL is flushed (tx should hold nothing else).
void TouchDashboardSession(Tx& tx, const std::string& id_sha256_hex);
// Logout: false when there was none.
bool DeleteDashboardSession(Tx& tx, const std::string& id_sha256_hex);
// Deletes at most `limit` ended sessions (past their end or idle longer than `idle`); returns
// how many.
int64_t DeleteEndedDashboardSessions(Tx& tx, std::chrono::seconds idle, int limit);

}  // namespace ferry::controller::store
