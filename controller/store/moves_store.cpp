#include "controller/store/moves_store.hpp"

#include <set>

#include "controller/store/metrics_store.hpp"
#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kAppendEvent{"moves_append_event", R"sql(
INSERT INTO migration_events (migration_id, from_status, to_status, event, reason, actor, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7))sql"};

constexpr Statement kMoveClaims{
    "moves_move_claims",
    "UPDATE claims SET consumer_uuid = $2::uuid WHERE consumer_uuid = $1::uuid"};
constexpr Statement kReleaseOnHost{
    "moves_release_on_host", "DELETE FROM claims WHERE consumer_uuid = $1::uuid AND host_id = $2"};

constexpr Statement kEvents{"moves_events", R"sql(
SELECT from_status, to_status, event, reason, actor, request_id FROM migration_events
WHERE migration_id = $1 ORDER BY id)sql"};

constexpr Statement kActiveMove{"moves_active_of_server", R"sql(
SELECT migration_type, uuid::text FROM migrations
WHERE instance_uuid = $1::uuid AND status NOT IN )sql" FERRY_SQL_TERMINAL_STATUSES R"sql(
  -- An evacuation that is done has moved the server; it waits only for its dead source to come
  -- back and clean up, which may be never: the server may move again meanwhile.
  AND NOT (migration_type = 'evacuation' AND status = 'done')
ORDER BY id DESC LIMIT 1)sql"};

// A takeover starts a new lease epoch (the fencing token agents check, 0006_lease_epoch.sql).
// The status list is a literal so that the partial index migrations_active_idx serves it.
constexpr Statement kAcquire{"moves_acquire", R"sql(
UPDATE migrations SET lease_owner = $1, lease_until = now() + make_interval(secs => $2),
       lease_epoch = lease_epoch + 1
WHERE id IN (
  SELECT id FROM migrations
  WHERE migration_type = ANY($3::text[])
    AND status NOT IN )sql" FERRY_SQL_TERMINAL_STATUSES R"sql(
    AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until < now())
  ORDER BY created_at LIMIT $4
  FOR UPDATE SKIP LOCKED)
RETURNING migration_type, uuid::text)sql"};

// Every move this owner drives; leases are rewritten only once half of them has run out
// (lease_until is indexed, so each rewrite costs index writes: renewing every tick would cost
// one non-HOT update per move per second for nothing).
constexpr Statement kRenew{"moves_renew", R"sql(
WITH mine AS (
  SELECT uuid, migration_type, lease_until FROM migrations
  WHERE lease_owner = $1 AND migration_type = ANY($3::text[])
    AND status NOT IN )sql" FERRY_SQL_TERMINAL_STATUSES R"sql(
), renewed AS (
  UPDATE migrations m SET lease_until = now() + make_interval(secs => $2)
  FROM mine
  WHERE m.uuid = mine.uuid AND m.lease_owner = $1
    AND mine.lease_until < now() + make_interval(secs => $2 / 2)
)
SELECT migration_type, uuid::text FROM mine)sql"};

// Still ours, by PostgreSQL's clock, in the same epoch.
constexpr Statement kLeaseHeld{"moves_lease_held", R"sql(
SELECT 1 FROM migrations
WHERE uuid = $1::uuid AND lease_owner = $2 AND lease_epoch = $3 AND lease_until > now())sql"};

constexpr Statement kRelease{"moves_release", R"sql(
UPDATE migrations SET lease_owner = NULL, lease_until = NULL
WHERE uuid = $1::uuid AND lease_owner = $2)sql"};

// One lock id for slot admission across every controller on this database and every kind.
constexpr Statement kSlotLock{"moves_slot_lock",
                              "SELECT pg_advisory_xact_lock(hashtext('ferry.moves.slots'))"};

// The host a move sends from, whose outbound slot it takes: none for an evacuation, whose source
// is down and sends nothing (its guests are rebuilt elsewhere; a dead host's evacuation is not
// held to one server at a time by max_outbound_per_host).
#define FERRY_SQL_OUTBOUND_SOURCE \
  "CASE WHEN migration_type = 'evacuation' THEN NULL ELSE source_compute END"

// Fair order: requesters (a drain, else a user) take turns, whatever the kind: each one's n-th
// queued move before anyone's n+1-th, where a requester's moves already in slots are turns it
// has taken; within a turn, the requester served least recently first (then the oldest move).
// Counting queued moves alone, a drain whose next move is older than an admin's single one would
// take every slot that frees up until it ran out of moves. "Served" looks back from $1
// (kServedSince): a requester served before that counts as never served.
// With one requester queued (most passes: a move just asked for, a drain's next) turns and
// "served" order nothing: its moves go oldest first whatever it has taken. Neither is read then
// (a gate the planner evaluates once, before the scan): counting every move in a slot took
// 10 ms at 10,000 moves in flight, on every pass. Otherwise every move in a slot is still read,
// and only the queued requesters' are counted (an index by requester would spare the read; not
// worth its writes while passes with several requesters queued are the exception).
constexpr Statement kFairQueue{"moves_fair_queue", R"sql(
WITH queued AS (
  SELECT migration_type, uuid, id, created_at, dest_compute, lease_owner,
         )sql" FERRY_SQL_OUTBOUND_SOURCE R"sql( AS source_compute,
         coalesce(drain_uuid::text, user_id, '') AS requester
  FROM migrations WHERE status = 'queued'),
requesters AS (SELECT count(DISTINCT requester) AS n FROM queued),
taken AS (
  SELECT coalesce(drain_uuid::text, user_id, '') AS requester, count(*) AS taken
  FROM migrations WHERE status IN )sql" FERRY_SQL_SLOT_STATUSES R"sql(
    AND (SELECT n FROM requesters) > 1
    AND coalesce(drain_uuid::text, user_id, '') IN (SELECT requester FROM queued)
  GROUP BY 1),
served AS (
  SELECT coalesce(m.drain_uuid::text, m.user_id, '') AS requester, max(e.id) AS last
  FROM migrations m JOIN migration_events e ON e.migration_id = m.id
  WHERE m.updated_at >= to_timestamp($1::float8) AND e.from_status = 'queued'
    AND e.to_status IN )sql" FERRY_SQL_SLOT_STATUSES R"sql(
    AND (SELECT n FROM requesters) > 1
  GROUP BY 1)
SELECT q.migration_type, q.uuid::text, q.source_compute, q.dest_compute, q.lease_owner
FROM (SELECT queued.*, row_number() OVER (PARTITION BY requester ORDER BY created_at, id) AS turn
      FROM queued) q
LEFT JOIN taken t USING (requester)
LEFT JOIN served s USING (requester)
ORDER BY q.turn + coalesce(t.taken, 0), s.last NULLS FIRST, q.created_at, q.id)sql"};

// How far "served" looks back: to the oldest queued move, and never more than 15 minutes (a
// move queued for days must not make every pass read days of history; who was served a quarter
// of an hour ago is history for turn-taking). The bound goes in as a value and the plan is made
// for it (a generic plan of a bound the planner cannot see reads every event: ~1 s per pass at a
// million moves).
constexpr Statement kServedSince{"moves_served_since", R"sql(
SELECT extract(epoch FROM greatest((SELECT min(created_at) FROM migrations WHERE status = 'queued'),
                                   now() - interval '15 minutes'))::float8,
       set_config('plan_cache_mode', 'force_custom_plan', true))sql"};

// The slots in use that a pass can reach: on the hosts its queued moves go from ($1: an
// evacuation takes no outbound slot, as FERRY_SQL_OUTBOUND_SOURCE says) and to
// ($2), an index descent each (migrations_active_source_idx, _dest_idx), not every move in a
// slot (10,000 rows to read and send at 10,000 moves in flight, on every pass); and the
// cluster's total only when a limit asks for it ($3).
constexpr Statement kSlotsInUse{"moves_slots_in_use", R"sql(
SELECT 'out', h, (SELECT count(*) FROM migrations
                  WHERE status IN )sql" FERRY_SQL_SLOT_STATUSES R"sql(
                    AND migration_type <> 'evacuation' AND source_compute = h)
FROM unnest($1::text[]) h
UNION ALL
SELECT 'in', h, (SELECT count(*) FROM migrations
                 WHERE status IN )sql" FERRY_SQL_SLOT_STATUSES R"sql( AND dest_compute = h)
FROM unnest($2::text[]) h
UNION ALL
SELECT 'total', NULL, count(*) FROM migrations
WHERE $3 AND status IN )sql" FERRY_SQL_SLOT_STATUSES};

// Not a status change: state_version stays, so the step's own compare-and-set still holds.
constexpr Statement kStepFailed{"moves_step_failed", R"sql(
UPDATE migrations SET step_failures = step_failures + 1,
       step_failing_since = CASE WHEN step_failures = 0 OR step_failing_since IS NULL THEN now()
                                 ELSE step_failing_since END,
       last_step_error = left($3, 500)
WHERE uuid = $1::uuid AND lease_owner = $2
RETURNING step_failures, extract(epoch from now() - step_failing_since)::float8)sql"};
constexpr Statement kStepsClean{"moves_steps_clean", R"sql(
UPDATE migrations SET step_failures = 0, step_failing_since = NULL, last_step_error = NULL
WHERE uuid = $1::uuid AND lease_owner = $2 AND step_failures > 0)sql"};

std::vector<MoveRef> Refs(const pqxx::result& res) {
  std::vector<MoveRef> out;
  out.reserve(res.size());
  for (const auto& r : res) out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
  return out;
}

std::string OrEmpty(const pqxx::field& f) { return f.is_null() ? "" : f.as<std::string>(); }

}  // namespace

std::vector<MoveRef> AcquireLeases(Tx& tx, const std::string& owner, std::chrono::seconds lease,
                                   const std::vector<std::string>& types, int limit) {
  return Refs(
      tx.Exec(kAcquire, owner, static_cast<double>(lease.count()), PgTextArray(types), limit));
}

std::vector<MoveRef> RenewLeases(Tx& tx, const std::string& owner, std::chrono::seconds lease,
                                 const std::vector<std::string>& types) {
  return Refs(tx.Exec(kRenew, owner, static_cast<double>(lease.count()), PgTextArray(types)));
}

bool LeaseStillHeld(Tx& tx, const std::string& uuid, const std::string& owner, int64_t epoch) {
  return !tx.Exec(kLeaseHeld, uuid, owner, epoch).empty();
}

void ReleaseLease(Tx& tx, const std::string& uuid, const std::string& owner) {
  tx.Exec(kRelease, uuid, owner);
}

namespace {
pqxx::result FairQueue(Tx& tx) {
  const double since = tx.Exec(kServedSince)[0][0].as<double>();
  return tx.Exec(kFairQueue, since);
}
}  // namespace

SlotView LockSlots(Tx& tx, bool with_total) {
  tx.Exec(kSlotLock);
  SlotView view;
  for (const auto& r : FairQueue(tx)) {
    view.queued.push_back({{r[0].as<std::string>(), r[1].as<std::string>()},
                           OrEmpty(r[2]),
                           OrEmpty(r[3]),
                           OptString(r[4])});
  }
  if (view.queued.empty()) return view;
  std::set<std::string> sources, dests;
  for (const auto& q : view.queued) {
    if (!q.source.empty()) sources.insert(q.source);
    if (!q.dest.empty()) dests.insert(q.dest);
  }
  const std::vector<std::string> from(sources.begin(), sources.end()),
      to(dests.begin(), dests.end());
  for (const auto& r : tx.Exec(kSlotsInUse, PgTextArray(from), PgTextArray(to), with_total)) {
    const auto what = r[0].as<std::string>();
    const int n = r[2].as<int>();
    if (what == "out") view.outbound[r[1].as<std::string>()] = n;
    if (what == "in") view.inbound[r[1].as<std::string>()] = n;
    if (what == "total") view.total = n;
  }
  return view;
}

std::string ExplainFairQueueForTest(Tx& tx, bool analyze) {
  const double since = tx.Exec(kServedSince)[0][0].as<double>();
  std::string plan;
  const std::string explain = analyze ? "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " : "EXPLAIN ";
  for (const auto& r : tx.work().exec_params(explain + kFairQueue.sql, since)) {
    plan += r[0].as<std::string>() + "\n";
  }
  return plan;
}

std::map<std::string, int> QueuePositions(Tx& tx) {
  std::map<std::string, int> out;
  int position = 0;
  for (const auto& r : FairQueue(tx)) out[r[1].as<std::string>()] = ++position;
  return out;
}

std::optional<StepFailures> RecordStepFailure(Tx& tx, const std::string& uuid,
                                              const std::string& owner, const std::string& error) {
  auto res = tx.Exec(kStepFailed, uuid, owner, error);
  if (res.empty()) return std::nullopt;
  return StepFailures{res[0][0].as<int>(), res[0][1].as<double>()};
}

void ClearStepFailures(Tx& tx, const std::string& uuid, const std::string& owner) {
  tx.Exec(kStepsClean, uuid, owner);
}

void AppendMigrationEvent(Tx& tx, int64_t migration_id, const MigrationEvent& e) {
  std::optional<std::string> from;
  if (e.from_status) from = std::string(ToString(*e.from_status));
  tx.Exec(kAppendEvent, migration_id, from, std::string(ToString(e.to_status)), e.event, e.reason,
          e.actor, e.request_id);
  // Every status change of every kind lands here: the one place a move's end is seen.
  if (IsTerminal(e.to_status)) ObserveMoveFinished(tx, migration_id, e.to_status);
}

std::vector<MigrationEvent> ListMigrationEvents(Tx& tx, int64_t migration_id) {
  std::vector<MigrationEvent> out;
  for (const auto& r : tx.Exec(kEvents, migration_id)) {
    out.push_back({r[0].is_null() ? std::nullopt : std::optional(StatusFrom(r[0])),
                   StatusFrom(r[1]), r[2].as<std::string>(), OptString(r[3]),
                   r[4].as<std::string>(), OptString(r[5])});
  }
  return out;
}

void MoveClaims(Tx& tx, const std::string& from_consumer, const std::string& to_consumer) {
  tx.Exec(kMoveClaims, from_consumer, to_consumer);
}

void ReleaseClaimsOnHost(Tx& tx, const std::string& consumer_uuid, int64_t host_id) {
  tx.Exec(kReleaseOnHost, consumer_uuid, host_id);
}

std::optional<MoveRef> FindActiveMove(Tx& tx, const std::string& instance_uuid) {
  auto res = tx.Exec(kActiveMove, instance_uuid);
  if (res.empty()) return std::nullopt;
  return MoveRef{res[0][0].as<std::string>(), res[0][1].as<std::string>()};
}

}  // namespace ferry::controller::store
