#include "controller/store/drains_store.hpp"

#include "common/errors.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

#define DRAIN_COLUMNS                                                                             \
  "d.id, d.uuid::text, d.host, d.mode, d.status, d.max_parallel, array_to_json(d.target_hosts), " \
  "extract(epoch from d.deadline)::float8, d.plan, d.idempotency_key, d.user_id, d.project_id, "  \
  "extract(epoch from d.created_at)::float8, extract(epoch from d.updated_at)::float8, "          \
  "extract(epoch from d.finished_at)::float8, d.lease_owner"
#define LIVE_DRAIN "d.status IN ('running', 'paused', 'cancelling')"

constexpr Statement kFind{"drain_find",
                          "SELECT " DRAIN_COLUMNS " FROM drains d WHERE d.uuid = $1::uuid"};
constexpr Statement kFindLive{
    "drain_find_live", "SELECT " DRAIN_COLUMNS " FROM drains d WHERE d.host = $1 AND " LIVE_DRAIN};
constexpr Statement kFindKey{"drain_find_key",
                             "SELECT " DRAIN_COLUMNS " FROM drains d WHERE d.idempotency_key = $1"};
constexpr Statement kList{"drain_list",
                          "SELECT " DRAIN_COLUMNS " FROM drains d ORDER BY d.id DESC LIMIT $1"};
constexpr Statement kLiveHosts{"drain_live_hosts", "SELECT d.host FROM drains d WHERE " LIVE_DRAIN};
constexpr Statement kServers{"drain_servers", R"sql(
SELECT server_uuid::text, name, position, kind, planned_dest, state, bytes, predicted_seconds,
       migration_uuid::text, attempts, array_to_json(failed_dests), dest, reason,
       extract(epoch from started_at)::float8, extract(epoch from finished_at)::float8
FROM drain_servers WHERE drain_id = $1 ORDER BY position)sql"};

constexpr Statement kInsert{"drain_insert", R"sql(
INSERT INTO drains (uuid, host, mode, status, max_parallel, target_hosts, deadline, plan,
                    idempotency_key, user_id, project_id)
VALUES ($1::uuid, $2, $3, $4, $5, $6::text[], to_timestamp($7), $8::jsonb, $9, $10, $11)
RETURNING id, extract(epoch from created_at)::float8)sql"};
constexpr Statement kSaveServer{"drain_save_server", R"sql(
INSERT INTO drain_servers AS s (drain_id, server_uuid, name, position, kind, planned_dest, state,
                                bytes, predicted_seconds, migration_uuid, attempts, failed_dests,
                                dest, reason, started_at, finished_at)
VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10::uuid, $11, $12::text[], $13, $14,
        to_timestamp($15), to_timestamp($16))
ON CONFLICT (drain_id, server_uuid) DO UPDATE SET
    planned_dest = EXCLUDED.planned_dest, state = EXCLUDED.state, bytes = EXCLUDED.bytes,
    migration_uuid = EXCLUDED.migration_uuid, attempts = EXCLUDED.attempts,
    failed_dests = EXCLUDED.failed_dests, dest = EXCLUDED.dest, reason = EXCLUDED.reason,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at)sql"};
constexpr Statement kTouch{"drain_touch", "UPDATE drains SET updated_at = now() WHERE id = $1"};

constexpr Statement kChangeStatus{"drain_change_status", R"sql(
UPDATE drains SET status = $3, updated_at = now()
WHERE uuid = $1::uuid AND status = ANY($2::text[]))sql"};
constexpr Statement kFinish{"drain_finish", R"sql(
UPDATE drains d SET status = $3, finished_at = now(), updated_at = now(), lease_owner = NULL,
       lease_until = NULL
WHERE d.uuid = $1::uuid AND d.lease_owner = $2 AND d.status = $4 AND )sql" LIVE_DRAIN};

constexpr Statement kAcquire{"drain_acquire", R"sql(
UPDATE drains d SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
WHERE )sql" LIVE_DRAIN R"sql( AND (d.lease_owner = $1 OR d.lease_owner IS NULL
                                   OR d.lease_until < now())
RETURNING d.uuid::text)sql"};
constexpr Statement kLeaseHeld{"drain_lease_held", R"sql(
SELECT 1 FROM drains WHERE uuid = $1::uuid AND lease_owner = $2 AND lease_until > clock_timestamp()
FOR UPDATE)sql"};

constexpr Statement kSetMoveDrain{
    "drain_set_move",
    "UPDATE migrations SET drain_uuid = $2::uuid WHERE uuid = $1::uuid AND drain_uuid IS NULL"};
constexpr Statement kMoveOutcome{"drain_move_outcome", R"sql(
SELECT id, migration_type, status, dest_compute, error_reason,
       coalesce(memory_processed, 0) + coalesce(disk_processed, 0)
FROM migrations WHERE uuid = $1::uuid)sql"};

std::vector<std::string> TextArray(const pqxx::field& f) {
  auto j = ToJson(f);
  return j.is_array() ? j.get<std::vector<std::string>>() : std::vector<std::string>{};
}

std::vector<DrainServer> ServersOf(Tx& tx, int64_t drain_id) {
  std::vector<DrainServer> out;
  for (const auto& r : tx.Exec(kServers, drain_id)) {
    DrainServer s;
    int i = 0;
    s.server_uuid = r[i++].as<std::string>();
    s.name = r[i++].as<std::string>();
    s.position = r[i++].as<int>();
    s.kind = r[i++].as<std::string>();
    s.planned_dest = OptString(r[i++]);
    s.state = r[i++].as<std::string>();
    s.bytes = r[i++].as<int64_t>();
    s.predicted_seconds = r[i++].as<double>();
    s.migration_uuid = OptString(r[i++]);
    s.attempts = r[i++].as<int>();
    s.failed_dests = TextArray(r[i++]);
    s.dest = OptString(r[i++]);
    s.reason = OptString(r[i++]);
    s.started_at = OptTime(r[i++]);
    s.finished_at = OptTime(r[i++]);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<Drain> FirstOrNone(Tx& tx, const pqxx::result& res) {
  if (res.empty()) return std::nullopt;
  const auto& r = res[0];
  Drain d;
  int i = 0;
  d.id = r[i++].as<int64_t>();
  d.uuid = r[i++].as<std::string>();
  d.host = r[i++].as<std::string>();
  d.mode = r[i++].as<std::string>();
  d.status = r[i++].as<std::string>();
  d.max_parallel = r[i++].as<int>();
  d.target_hosts = TextArray(r[i++]);
  d.deadline = OptTime(r[i++]);
  d.plan = ToJson(r[i++]);
  d.idempotency_key = OptString(r[i++]);
  d.user_id = OptString(r[i++]);
  d.project_id = OptString(r[i++]);
  d.created_at = ToTime(r[i++]);
  d.updated_at = ToTime(r[i++]);
  d.finished_at = OptTime(r[i++]);
  d.lease_owner = OptString(r[i++]);
  d.servers = ServersOf(tx, d.id);
  return d;
}

}  // namespace

void InsertDrain(Tx& tx, Drain& d) {
  auto row = tx.Exec(kInsert, d.uuid, d.host, d.mode, d.status, d.max_parallel,
                     PgTextArray(d.target_hosts), OptEpoch(d.deadline), d.plan.dump(),
                     d.idempotency_key, d.user_id, d.project_id)[0];
  d.id = row[0].as<int64_t>();
  d.created_at = d.updated_at = ToTime(row[1]);
  for (const auto& s : d.servers) SaveDrainServer(tx, d.id, s);
}

std::optional<Drain> FindDrain(Tx& tx, const std::string& uuid) {
  return FirstOrNone(tx, tx.Exec(kFind, uuid));
}

std::optional<Drain> FindLiveDrainOfHost(Tx& tx, const std::string& host) {
  return FirstOrNone(tx, tx.Exec(kFindLive, host));
}

std::optional<Drain> FindDrainByIdempotencyKey(Tx& tx, const std::string& key) {
  return FirstOrNone(tx, tx.Exec(kFindKey, key));
}

std::vector<Drain> ListDrains(Tx& tx, int limit) {
  std::vector<Drain> out;
  for (const auto& r : tx.Exec(kList, limit)) {
    if (auto d = FindDrain(tx, r[1].as<std::string>())) out.push_back(std::move(*d));
  }
  return out;
}

std::vector<std::string> LiveDrainHosts(Tx& tx) {
  std::vector<std::string> out;
  for (const auto& r : tx.Exec(kLiveHosts)) out.push_back(r[0].as<std::string>());
  return out;
}

bool ChangeDrainStatus(Tx& tx, const std::string& uuid, const std::vector<std::string>& from,
                       const std::string& to) {
  return tx.Exec(kChangeStatus, uuid, PgTextArray(from), to).affected_rows() == 1;
}

bool FinishDrain(Tx& tx, const std::string& uuid, const std::string& owner, const std::string& from,
                 const std::string& to) {
  return tx.Exec(kFinish, uuid, owner, to, from).affected_rows() == 1;
}

void SaveDrainServer(Tx& tx, int64_t drain_id, const DrainServer& s) {
  tx.Exec(kSaveServer, drain_id, s.server_uuid, s.name, s.position, s.kind, s.planned_dest, s.state,
          s.bytes, s.predicted_seconds, s.migration_uuid, s.attempts, PgTextArray(s.failed_dests),
          s.dest, s.reason, OptEpoch(s.started_at), OptEpoch(s.finished_at));
  tx.Exec(kTouch, drain_id);
}

std::vector<std::string> AcquireDrainLeases(Tx& tx, const std::string& owner,
                                            std::chrono::seconds lease) {
  std::vector<std::string> out;
  for (const auto& r : tx.Exec(kAcquire, owner, static_cast<double>(lease.count()))) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

bool DrainLeaseHeld(Tx& tx, const std::string& uuid, const std::string& owner) {
  return !tx.Exec(kLeaseHeld, uuid, owner).empty();
}

void SetMoveDrain(Tx& tx, const std::string& migration_uuid, const std::string& drain_uuid) {
  tx.Exec(kSetMoveDrain, migration_uuid, drain_uuid);
}

std::optional<MoveOutcome> FindMoveOutcome(Tx& tx, const std::string& migration_uuid) {
  auto res = tx.Exec(kMoveOutcome, migration_uuid);
  if (res.empty()) return std::nullopt;
  const auto& r = res[0];
  return MoveOutcome{r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     OptString(r[3]),    OptString(r[4]),        r[5].as<int64_t>()};
}

}  // namespace ferry::controller::store
