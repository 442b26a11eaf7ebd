#include "controller/store/cold_migrations_store.hpp"

#include <array>

#include "common/errors.hpp"
#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

#define CM_SELECT(where)                                                  \
  "SELECT " CM_COLUMNS                                                    \
  " FROM migrations m WHERE m.migration_type IN ('migration', 'resize') " \
  "AND " where
#define CM_COLUMNS                                                                            \
  "m.id, m.uuid::text, m.instance_uuid::text, m.migration_type, m.status, m.source_compute, " \
  "m.source_node, m.dest_compute, m.dest_node, m.dest_host, m.disk_total, m.disk_processed, " \
  "m.disk_remaining, m.user_id, m.project_id, extract(epoch from m.created_at)::float8, "     \
  "extract(epoch from m.updated_at)::float8, m.step, m.attempt, m.state_version, "            \
  "m.lease_owner, extract(epoch from m.lease_until)::float8, m.lease_epoch, "                 \
  "m.transfer_rate_bps, m.eta_seconds, m.error_reason, m.idempotency_key, m.request_params, " \
  "m.requested_host, m.old_flavor, m.new_flavor, m.disk_config, m.power_on, "                 \
  "m.transfer_token, m.shared_storage, m.receive_uri, array_to_json(m.ignore_hosts), "        \
  "array_to_json(m.precheck_failures), extract(epoch from m.abort_requested_at)::float8, "    \
  "extract(epoch from m.confirm_requested_at)::float8, m.confirm_reason, "                    \
  "extract(epoch from m.revert_requested_at)::float8, m.step_failures, m.last_step_error, "   \
  "m.job_state, m.job_phase, m.job_error, extract(epoch from m.progress_at)::float8, "        \
  "extract(epoch from m.started_at)::float8, extract(epoch from m.finished_at)::float8"

constexpr Statement kFindByUuid{"cm_find_uuid", CM_SELECT("m.uuid = $1::uuid")};
constexpr Statement kFindById{"cm_find_id", CM_SELECT("m.id = $1")};
constexpr Statement kFindByKey{"cm_find_key", CM_SELECT("m.idempotency_key = $1")};
constexpr Statement kFindUnconfirmed{
    "cm_find_unconfirmed",
    CM_SELECT("m.instance_uuid = $1::uuid AND m.status = 'finished' ORDER BY m.id DESC LIMIT 1")};

constexpr Statement kInsert{"cm_insert", R"sql(
INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, source_node,
                        user_id, project_id, created_at, updated_at, step, idempotency_key,
                        request_params, lease_owner, lease_until, lease_epoch, requested_host,
                        old_instance_type_id, new_instance_type_id, old_flavor, new_flavor,
                        disk_config, power_on, transfer_token, drain_uuid)
VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, now(), now(), $9, $10, $11::jsonb, $12,
        now() + make_interval(secs => $13), 1, $14, $15, $16, $17::jsonb, $18::jsonb, $19, $20,
        $21, $22::uuid)
RETURNING id, extract(epoch from created_at)::float8)sql"};

constexpr Statement kSave{"cm_save", R"sql(
UPDATE migrations SET status = $3, step = $4, attempt = $5, dest_compute = $6, dest_node = $7,
       dest_host = $8, error_reason = $9, started_at = to_timestamp($10),
       finished_at = to_timestamp($11), ignore_hosts = $12::text[],
       precheck_failures = $13::text[], shared_storage = $14, receive_uri = $15,
       -- The move's credential is of no use once it ended: forgotten with it.
       transfer_token = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE transfer_token END,
       lease_owner = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_owner END,
       lease_until = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_until END,
       step_failures = CASE WHEN status = $3 THEN step_failures ELSE 0 END,
       step_failing_since = CASE WHEN status = $3 THEN step_failing_since END,
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND state_version = $2 AND lease_owner = $16
RETURNING extract(epoch from updated_at)::float8)sql"};

// Each request bumps state_version: a step that read the move before it cannot commit over it
// (its compare-and-set fails and it reads the request on its next look).
constexpr Statement kRequestConfirm{"cm_request_confirm", R"sql(
UPDATE migrations SET confirm_requested_at = to_timestamp($2), confirm_reason = $3,
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND status = 'finished' AND confirm_requested_at IS NULL
  AND revert_requested_at IS NULL)sql"};
constexpr Statement kRequestRevert{"cm_request_revert", R"sql(
UPDATE migrations SET revert_requested_at = to_timestamp($2),
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND status = 'finished' AND confirm_requested_at IS NULL
  AND revert_requested_at IS NULL)sql"};
constexpr Statement kRequestAbort{"cm_request_abort", R"sql(
UPDATE migrations SET abort_requested_at = to_timestamp($2),
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND status IN ('queued', 'pre-migrating')
  AND abort_requested_at IS NULL)sql"};

constexpr Statement kSetTask{"cm_set_task", R"sql(
UPDATE servers SET task_state = $2, updated_at = now() WHERE uuid = $1::uuid)sql"};
constexpr Statement kPlaceServer{"cm_place_server", R"sql(
UPDATE servers SET host_id = $2, node = $3,
       flavor_id = (SELECT id FROM flavors WHERE id = $4), flavorid = $5, flavor_name = $6,
       vcpus = $7, memory_mb = $8, root_gb = $9, vm_state = $10, power_state = $11,
       task_state = NULL, progress = 0, updated_at = now()
WHERE uuid = $1::uuid)sql"};
constexpr Statement kSetVmState{"cm_set_vm_state", R"sql(
UPDATE servers SET vm_state = $2, task_state = NULL, progress = 0, updated_at = now()
WHERE uuid = $1::uuid AND task_state IS DISTINCT FROM 'deleting')sql"};

std::vector<std::string> TextArray(const pqxx::field& f) {
  auto j = ToJson(f);
  if (j.is_array()) return j.get<std::vector<std::string>>();
  return {};
}

// A snapshot this build cannot read makes the move undrivable (ColdMigration::unreadable): its
// step refuses it and the engine's retry budget ends it, which needs the rest of the row.
FlavorSnapshot SnapshotFrom(const pqxx::field& f, const char* column, std::string& unreadable) {
  try {
    return ToJson(f).get<FlavorSnapshot>();
  } catch (const nlohmann::json::exception& e) {
    unreadable = std::string(column) + " unreadable: " + e.what();
    return {};
  }
}

ColdMigration FromRow(const pqxx::row& r) {
  ColdMigration m;
  int i = 0;
  m.id = r[i++].as<int64_t>();
  m.uuid = r[i++].as<std::string>();
  m.instance_uuid = r[i++].as<std::string>();
  m.type = *ParseOptional(r[i++], ParseColdType, "migration_type");
  m.status = StatusFrom(r[i++]);
  m.source_compute = OptString(r[i++]);
  m.source_node = OptString(r[i++]);
  m.dest_compute = OptString(r[i++]);
  m.dest_node = OptString(r[i++]);
  m.dest_host = OptString(r[i++]);
  m.disk_total = OptInt(r[i++]);
  m.disk_processed = OptInt(r[i++]);
  m.disk_remaining = OptInt(r[i++]);
  m.user_id = OptString(r[i++]);
  m.project_id = OptString(r[i++]);
  m.created_at = ToTime(r[i++]);
  m.updated_at = OptTime(r[i++]);
  m.step =
      ParseOptional(r[i++], ParseColdStep, "cold-migration step").value_or(ColdStep::kScheduling);
  m.attempt = r[i++].as<int>();
  m.state_version = r[i++].as<int64_t>();
  m.lease_owner = OptString(r[i++]);
  m.lease_until = OptTime(r[i++]);
  m.lease_epoch = r[i++].as<int64_t>();
  m.transfer_rate_bps = OptInt(r[i++]);
  m.eta_seconds = OptInt(r[i++]);
  m.error_reason = OptString(r[i++]);
  m.idempotency_key = OptString(r[i++]);
  m.request_params = ToJson(r[i++]);
  m.requested_host = OptString(r[i++]);
  m.old_flavor = SnapshotFrom(r[i++], "old_flavor", m.unreadable);
  m.new_flavor = SnapshotFrom(r[i++], "new_flavor", m.unreadable);
  m.disk_config = OptString(r[i++]);
  m.power_on = r[i].is_null() || r[i].as<bool>();
  ++i;
  m.transfer_token = OptString(r[i++]).value_or("");
  m.shared_storage = r[i].is_null() ? std::nullopt : std::optional<bool>(r[i].as<bool>());
  ++i;
  m.receive_uri = OptString(r[i++]);
  m.ignore_hosts = TextArray(r[i++]);
  m.precheck_failures = TextArray(r[i++]);
  m.abort_requested_at = OptTime(r[i++]);
  m.confirm_requested_at = OptTime(r[i++]);
  m.confirm_reason = OptString(r[i++]);
  m.revert_requested_at = OptTime(r[i++]);
  m.step_failures = r[i++].as<int>();
  m.last_step_error = OptString(r[i++]);
  m.job_state = ParseOptional(r[i++], wire::ParseJobState, "job_state");
  m.job_phase = ParseOptional(r[i++], wire::ParseJobPhase, "job_phase");
  m.job_error = OptString(r[i++]);
  m.progress_at = OptTime(r[i++]);
  m.started_at = OptTime(r[i++]);
  m.finished_at = OptTime(r[i++]);
  return m;
}

std::optional<ColdMigration> FirstOrNone(const pqxx::result& res) {
  if (res.empty()) return std::nullopt;
  return FromRow(res[0]);
}

constexpr std::array<std::string_view, 2> kColdTypes = {"migration", "resize"};
constexpr std::array<std::string_view, 14> kColdSteps = {"scheduling",
                                                         "waiting for a slot",
                                                         "preparing destination",
                                                         "powering off",
                                                         "starting copy",
                                                         "copying disks",
                                                         "finishing on destination",
                                                         "waiting for confirm",
                                                         "deleting source",
                                                         "reverting destination",
                                                         "restarting source",
                                                         "rolling back destination",
                                                         "rolling back source",
                                                         "done"};

template <typename E, size_t N>
std::optional<E> ParseFrom(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(ColdType t) { return kColdTypes.at(static_cast<size_t>(t)); }
std::optional<ColdType> ParseColdType(std::string_view s) {
  return ParseFrom<ColdType>(kColdTypes, s);
}
std::string_view ToString(ColdStep s) { return kColdSteps.at(static_cast<size_t>(s)); }
std::optional<ColdStep> ParseColdStep(std::string_view s) {
  return ParseFrom<ColdStep>(kColdSteps, s);
}

void to_json(nlohmann::json& j, const FlavorSnapshot& f) {
  j = {{"id", f.id ? nlohmann::json(*f.id) : nlohmann::json(nullptr)},
       {"flavorid", f.flavorid},
       {"name", f.name},
       {"vcpus", f.vcpus},
       {"memory_mb", f.memory_mb},
       {"root_gb", f.root_gb}};
}

void from_json(const nlohmann::json& j, FlavorSnapshot& f) {
  f.id = j.contains("id") && !j.at("id").is_null() ? std::optional(j.at("id").get<int64_t>())
                                                   : std::nullopt;
  j.at("flavorid").get_to(f.flavorid);
  j.at("name").get_to(f.name);
  j.at("vcpus").get_to(f.vcpus);
  j.at("memory_mb").get_to(f.memory_mb);
  j.at("root_gb").get_to(f.root_gb);
}

FlavorSnapshot SnapshotOf(const Flavor& f) {
  return {f.id, f.flavorid, f.name, f.vcpus, f.memory_mb, f.root_gb};
}

FlavorSnapshot FlavorOf(const Server& s) {
  return {s.flavor_id > 0 ? std::optional(s.flavor_id) : std::nullopt,
          s.flavorid,
          s.flavor_name,
          s.vcpus,
          s.memory_mb,
          s.root_gb};
}

void InsertColdMigration(Tx& tx, ColdMigration& m, const MigrationEvent& first,
                         const std::string& lease_owner, std::chrono::seconds lease) {
  auto row = tx.Exec(kInsert, m.uuid, m.instance_uuid, std::string(ToString(m.type)),
                     std::string(ToString(m.status)), m.source_compute, m.source_node, m.user_id,
                     m.project_id, std::string(ToString(m.step)), m.idempotency_key,
                     m.request_params.dump(), lease_owner, static_cast<double>(lease.count()),
                     m.requested_host, m.old_flavor.id, m.new_flavor.id,
                     nlohmann::json(m.old_flavor).dump(), nlohmann::json(m.new_flavor).dump(),
                     m.disk_config, m.power_on, m.transfer_token, m.drain_uuid)[0];
  m.id = row[0].as<int64_t>();
  m.created_at = ToTime(row[1]);
  m.lease_owner = lease_owner;
  m.lease_epoch = 1;
  AppendMigrationEvent(tx, m.id, first);
}

std::optional<ColdMigration> FindColdMigration(Tx& tx, const std::string& uuid) {
  return FirstOrNone(tx.Exec(kFindByUuid, uuid));
}

std::optional<ColdMigration> FindColdMigrationById(Tx& tx, int64_t id) {
  return FirstOrNone(tx.Exec(kFindById, id));
}

std::optional<ColdMigration> FindColdMigrationByIdempotencyKey(Tx& tx, const std::string& key) {
  return FirstOrNone(tx.Exec(kFindByKey, key));
}

std::optional<ColdMigration> FindUnconfirmedColdMigration(Tx& tx,
                                                          const std::string& instance_uuid) {
  return FirstOrNone(tx.Exec(kFindUnconfirmed, instance_uuid));
}

bool SaveColdMigration(Tx& tx, ColdMigration& m, const std::string& owner,
                       const std::optional<MigrationEvent>& event) {
  auto res = tx.Exec(kSave, m.uuid, m.state_version, std::string(ToString(m.status)),
                     std::string(ToString(m.step)), m.attempt, m.dest_compute, m.dest_node,
                     m.dest_host, m.error_reason, OptEpoch(m.started_at), OptEpoch(m.finished_at),
                     PgTextArray(m.ignore_hosts), PgTextArray(m.precheck_failures),
                     m.shared_storage, m.receive_uri, owner);
  if (res.empty()) return false;
  ++m.state_version;
  m.updated_at = ToTime(res[0][0]);
  if (event) AppendMigrationEvent(tx, m.id, *event);
  return true;
}

bool RequestConfirm(Tx& tx, const std::string& uuid, TimePoint now, const std::string& reason) {
  return tx.Exec(kRequestConfirm, uuid, EpochSeconds(now), reason).affected_rows() == 1;
}

bool RequestRevert(Tx& tx, const std::string& uuid, TimePoint now) {
  return tx.Exec(kRequestRevert, uuid, EpochSeconds(now)).affected_rows() == 1;
}

bool RequestColdAbort(Tx& tx, const std::string& uuid, TimePoint now) {
  return tx.Exec(kRequestAbort, uuid, EpochSeconds(now)).affected_rows() == 1;
}

void SetServerTask(Tx& tx, const std::string& server_uuid,
                   const std::optional<std::string>& task_state) {
  tx.Exec(kSetTask, server_uuid, task_state);
}

void PlaceServer(Tx& tx, const std::string& server_uuid, int64_t host_id, const std::string& node,
                 const FlavorSnapshot& flavor, const std::string& vm_state, int power_state) {
  tx.Exec(kPlaceServer, server_uuid, host_id, node, flavor.id, flavor.flavorid, flavor.name,
          flavor.vcpus, flavor.memory_mb, flavor.root_gb, vm_state, power_state);
}

void SetServerVmState(Tx& tx, const std::string& server_uuid, const std::string& vm_state) {
  tx.Exec(kSetVmState, server_uuid, vm_state);
}

}  // namespace ferry::controller::store
