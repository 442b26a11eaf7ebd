#include "controller/store/evacuations_store.hpp"

#include <array>

#include "common/errors.hpp"
#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

#define EV_SELECT(where) \
  "SELECT " EV_COLUMNS " FROM migrations m WHERE m.migration_type = 'evacuation' AND " where
#define EV_COLUMNS                                                                         \
  "m.id, m.uuid::text, m.instance_uuid::text, m.status, m.source_compute, m.source_node, " \
  "m.dest_compute, m.dest_node, m.dest_host, m.user_id, m.project_id, "                    \
  "extract(epoch from m.created_at)::float8, extract(epoch from m.updated_at)::float8, "   \
  "m.step, m.attempt, m.state_version, m.lease_owner, "                                    \
  "extract(epoch from m.lease_until)::float8, m.lease_epoch, m.error_reason, "             \
  "m.idempotency_key, m.request_params, m.requested_host, m.forced, m.power_on, "          \
  "m.old_flavor, m.shared_storage, m.step_failures, m.last_step_error, "                   \
  "extract(epoch from m.started_at)::float8, extract(epoch from m.finished_at)::float8"

constexpr Statement kFindByUuid{"ev_find_uuid", EV_SELECT("m.uuid = $1::uuid")};
constexpr Statement kFindByKey{"ev_find_key", EV_SELECT("m.idempotency_key = $1")};

constexpr Statement kInsert{"ev_insert", R"sql(
INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, source_node,
                        user_id, project_id, created_at, updated_at, step, idempotency_key,
                        request_params, lease_owner, lease_until, lease_epoch, requested_host,
                        forced, power_on, old_instance_type_id, new_instance_type_id,
                        old_flavor, new_flavor, drain_uuid)
VALUES ($1::uuid, $2::uuid, 'evacuation', $3, $4, $5, $6, $7, now(), now(), $8, $9, $10::jsonb,
        $11, now() + make_interval(secs => $12), 1, $13, $14, $15, $16, $16, $17::jsonb,
        $17::jsonb, $18::uuid)
RETURNING id, extract(epoch from created_at)::float8)sql"};

constexpr Statement kSave{"ev_save", R"sql(
UPDATE migrations SET status = $3, step = $4, attempt = $5, dest_compute = $6, dest_node = $7,
       dest_host = $8, error_reason = $9, started_at = to_timestamp($10),
       finished_at = to_timestamp($11), shared_storage = $12,
       lease_owner = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_owner END,
       lease_until = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_until END,
       step_failures = CASE WHEN status = $3 THEN step_failures ELSE 0 END,
       step_failing_since = CASE WHEN status = $3 THEN step_failing_since END,
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND state_version = $2 AND lease_owner = $13
RETURNING extract(epoch from updated_at)::float8)sql"};

// The partial index migrations_evacuation_tombstone_idx answers this (0012_evacuation.sql).
constexpr Statement kEvacuatedFrom{"ev_evacuated_from", R"sql(
SELECT DISTINCT m.instance_uuid::text FROM migrations m
WHERE m.migration_type = 'evacuation' AND m.source_compute = $1
  AND m.status IN ('accepted', 'queued', 'pre-migrating', 'done')
  -- A server that has since moved back onto that host runs there legitimately.
  AND NOT EXISTS (SELECT 1 FROM servers s JOIN hosts h ON h.id = s.host_id
                  WHERE s.uuid = m.instance_uuid AND h.name = $1 AND m.status = 'done')
ORDER BY 1)sql"};

constexpr Statement kReportedDisks{"ev_reported_disks", R"sql(
SELECT coalesce(reported_disks, '[]'::jsonb) FROM servers WHERE uuid = $1::uuid)sql"};

constexpr std::array<std::string_view, 7> kSteps = {"scheduling",
                                                    "waiting for a slot",
                                                    "rebuilding on destination",
                                                    "rolling back destination",
                                                    "waiting for the source",
                                                    "cleaning up source",
                                                    "done"};

Evacuation FromRow(const pqxx::row& r) {
  Evacuation e;
  int i = 0;
  e.id = r[i++].as<int64_t>();
  e.uuid = r[i++].as<std::string>();
  e.instance_uuid = r[i++].as<std::string>();
  e.status = StatusFrom(r[i++]);
  e.source_compute = OptString(r[i++]);
  e.source_node = OptString(r[i++]);
  e.dest_compute = OptString(r[i++]);
  e.dest_node = OptString(r[i++]);
  e.dest_host = OptString(r[i++]);
  e.user_id = OptString(r[i++]);
  e.project_id = OptString(r[i++]);
  e.created_at = ToTime(r[i++]);
  e.updated_at = OptTime(r[i++]);
  e.step = ParseOptional(r[i++], ParseEvacuationStep, "evacuation step")
               .value_or(EvacuationStep::kScheduling);
  e.attempt = r[i++].as<int>();
  e.state_version = r[i++].as<int64_t>();
  e.lease_owner = OptString(r[i++]);
  e.lease_until = OptTime(r[i++]);
  e.lease_epoch = r[i++].as<int64_t>();
  e.error_reason = OptString(r[i++]);
  e.idempotency_key = OptString(r[i++]);
  e.request_params = ToJson(r[i++]);
  e.requested_host = OptString(r[i++]);
  e.forced = !r[i].is_null() && r[i].as<bool>();
  ++i;
  e.power_on = r[i].is_null() || r[i].as<bool>();
  ++i;
  try {
    e.flavor = ToJson(r[i]).get<FlavorSnapshot>();
  } catch (const nlohmann::json::exception& ex) {
    e.unreadable = std::string("old_flavor unreadable: ") + ex.what();
  }
  ++i;
  e.shared_storage = r[i].is_null() ? std::nullopt : std::optional<bool>(r[i].as<bool>());
  ++i;
  e.step_failures = r[i++].as<int>();
  e.last_step_error = OptString(r[i++]);
  e.started_at = OptTime(r[i++]);
  e.finished_at = OptTime(r[i++]);
  return e;
}

std::optional<Evacuation> FirstOrNone(const pqxx::result& res) {
  if (res.empty()) return std::nullopt;
  return FromRow(res[0]);
}

}  // namespace

std::string_view ToString(EvacuationStep s) { return kSteps.at(static_cast<size_t>(s)); }

std::optional<EvacuationStep> ParseEvacuationStep(std::string_view s) {
  for (size_t i = 0; i < kSteps.size(); ++i) {
    if (kSteps[i] == s) return static_cast<EvacuationStep>(i);
  }
  return std::nullopt;
}

void InsertEvacuation(Tx& tx, Evacuation& e, const MigrationEvent& first,
                      const std::string& lease_owner, std::chrono::seconds lease) {
  auto row = tx.Exec(kInsert, e.uuid, e.instance_uuid, std::string(ToString(e.status)),
                     e.source_compute, e.source_node, e.user_id, e.project_id,
                     std::string(ToString(e.step)), e.idempotency_key, e.request_params.dump(),
                     lease_owner, static_cast<double>(lease.count()), e.requested_host, e.forced,
                     e.power_on, e.flavor.id, nlohmann::json(e.flavor).dump(), e.drain_uuid)[0];
  e.id = row[0].as<int64_t>();
  e.created_at = ToTime(row[1]);
  e.lease_owner = lease_owner;
  e.lease_epoch = 1;
  AppendMigrationEvent(tx, e.id, first);
}

std::optional<Evacuation> FindEvacuation(Tx& tx, const std::string& uuid) {
  return FirstOrNone(tx.Exec(kFindByUuid, uuid));
}

std::optional<Evacuation> FindEvacuationByIdempotencyKey(Tx& tx, const std::string& key) {
  return FirstOrNone(tx.Exec(kFindByKey, key));
}

bool SaveEvacuation(Tx& tx, Evacuation& e, const std::string& owner,
                    const std::optional<MigrationEvent>& event) {
  auto res = tx.Exec(kSave, e.uuid, e.state_version, std::string(ToString(e.status)),
                     std::string(ToString(e.step)), e.attempt, e.dest_compute, e.dest_node,
                     e.dest_host, e.error_reason, OptEpoch(e.started_at), OptEpoch(e.finished_at),
                     e.shared_storage, owner);
  if (res.empty()) return false;
  ++e.state_version;
  e.updated_at = ToTime(res[0][0]);
  if (event) AppendMigrationEvent(tx, e.id, *event);
  return true;
}

std::vector<std::string> ListEvacuatedFrom(Tx& tx, const std::string& host) {
  std::vector<std::string> out;
  for (const auto& r : tx.Exec(kEvacuatedFrom, host)) out.push_back(r[0].as<std::string>());
  return out;
}

nlohmann::json ReportedDisksOf(Tx& tx, const std::string& server_uuid) {
  auto res = tx.Exec(kReportedDisks, server_uuid);
  if (res.empty()) return nlohmann::json::array();
  auto j = ToJson(res[0][0]);
  return j.is_array() ? j : nlohmann::json::array();
}

}  // namespace ferry::controller::store
