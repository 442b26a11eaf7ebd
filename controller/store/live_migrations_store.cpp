#include "controller/store/live_migrations_store.hpp"

#include <array>

#include "common/errors.hpp"
#include "controller/store/progress_store.hpp"
#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

#define LM_SELECT(where) \
  "SELECT " LM_COLUMNS " FROM migrations m WHERE m.migration_type = 'live-migration' AND " where
#define LM_COLUMNS                                                                               \
  "m.id, m.uuid::text, m.instance_uuid::text, m.status, m.source_compute, m.source_node, "       \
  "m.dest_compute, m.dest_node, m.dest_host, m.memory_total, m.memory_processed, "               \
  "m.memory_remaining, m.disk_total, m.disk_processed, m.disk_remaining, m.user_id, "            \
  "m.project_id, "                                                                               \
  "extract(epoch from m.created_at)::float8, extract(epoch from m.updated_at)::float8, m.step, " \
  "m.attempt, m.state_version, m.lease_owner, extract(epoch from m.lease_until)::float8, "       \
  "m.transfer_rate_bps, m.dirty_rate_bps, m.eta_seconds, m.downtime_ms, m.error_reason, "        \
  "m.idempotency_key, m.request_params, m.job_state, m.job_phase, m.job_error, "                 \
  "extract(epoch from m.progress_at)::float8, m.iteration, m.throttle_percent, "                 \
  "m.lowest_remaining, extract(epoch from m.lowest_remaining_at)::float8, "                      \
  "extract(epoch from m.started_at)::float8, extract(epoch from m.finished_at)::float8, "        \
  "extract(epoch from m.abort_requested_at)::float8, "                                           \
  "extract(epoch from m.force_complete_requested_at)::float8, "                                  \
  "extract(epoch from m.force_completed_at)::float8, m.policy, array_to_json(m.ignore_hosts), "  \
  "m.lease_epoch, m.requested_host, m.block_migration, m.forced, m.copies_disk, "                \
  "m.incoming_uri, array_to_json(m.precheck_failures), m.abort_reason, m.abort_sent, "           \
  "m.abort_refused, m.force_complete_reason, m.force_complete_refused, m.step_failures, "        \
  "m.last_step_error"

constexpr Statement kFindByUuid{"lm_find_uuid", LM_SELECT("m.uuid = $1::uuid")};
constexpr Statement kFindById{"lm_find_id", LM_SELECT("m.id = $1")};
constexpr Statement kFindByKey{"lm_find_key", LM_SELECT("m.idempotency_key = $1")};
constexpr Statement kListForServer{
    "lm_list_server",
    LM_SELECT(
        "m.instance_uuid = $1::uuid AND (NOT $2 OR m.status IN " FERRY_SQL_LIVE_IN_PROGRESS_STATUSES
        ") ORDER BY m.created_at, m.id")};
constexpr Statement kFindActive{
    "lm_find_active",
    LM_SELECT("m.instance_uuid = $1::uuid AND m.status NOT IN " FERRY_SQL_TERMINAL_STATUSES
              " ORDER BY m.id DESC LIMIT 1")};

constexpr Statement kInsert{"lm_insert", R"sql(
INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, source_node,
                        dest_compute, dest_node, dest_host, user_id, project_id, created_at,
                        updated_at, step, idempotency_key, request_params, policy, lease_owner,
                        lease_until, memory_total, disk_total, lease_epoch, requested_host,
                        block_migration, forced, drain_uuid)
VALUES ($1::uuid, $2::uuid, 'live-migration', $3, $4, $5, $6, $7, $8, $9, $10, now(), now(), $11,
        $12, $13::jsonb, $14::jsonb, $15, now() + make_interval(secs => $16), $17, $18, 1, $19,
        $20, $21, $22::uuid)
RETURNING id, extract(epoch from created_at)::float8)sql"};

constexpr Statement kSave{"lm_save", R"sql(
UPDATE migrations SET status = $3, step = $4, attempt = $5, dest_compute = $6, dest_node = $7,
       dest_host = $8, error_reason = $9, started_at = to_timestamp($10),
       finished_at = to_timestamp($11), force_completed_at = to_timestamp($12),
       ignore_hosts = $13::text[], copies_disk = $14, incoming_uri = $16,
       precheck_failures = $17::text[], abort_reason = $18, abort_sent = $19, abort_refused = $20,
       force_complete_reason = $21, force_complete_refused = $22,
       lease_owner = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_owner END,
       lease_until = CASE WHEN $3 IN )sql" FERRY_SQL_TERMINAL_STATUSES
                                     R"sql( THEN NULL ELSE lease_until END,
       step_failures = CASE WHEN status = $3 THEN step_failures ELSE 0 END,
       step_failing_since = CASE WHEN status = $3 THEN step_failing_since END,
       state_version = state_version + 1, updated_at = now()
WHERE uuid = $1::uuid AND state_version = $2 AND lease_owner = $15
RETURNING extract(epoch from updated_at)::float8)sql"};

constexpr Statement kRequestAbort{"lm_request_abort", R"sql(
UPDATE migrations SET abort_requested_at = to_timestamp($2), updated_at = now()
WHERE uuid = $1::uuid AND abort_requested_at IS NULL)sql"};
constexpr Statement kRequestForce{"lm_request_force", R"sql(
UPDATE migrations SET force_complete_requested_at = to_timestamp($2), updated_at = now()
WHERE uuid = $1::uuid AND force_complete_requested_at IS NULL)sql"};

constexpr Statement kClearTask{"lm_clear_task", R"sql(
UPDATE servers SET task_state = NULL, progress = 0, updated_at = now()
WHERE uuid = $1::uuid AND task_state = 'migrating')sql"};
constexpr Statement kFinishMove{"lm_finish_move", R"sql(
UPDATE servers SET host_id = $2, node = $3, task_state = NULL, progress = 0, updated_at = now()
WHERE uuid = $1::uuid)sql"};

// Text columns the store reads into enums: an unknown value throws (row.hpp StatusFrom).
MigrationStatus ParseStatus(const pqxx::field& f) { return StatusFrom(f); }

LiveStep ParseStep(const pqxx::field& f) {
  if (f.is_null()) return LiveStep::kScheduling;
  auto s = ParseLiveStep(f.as<std::string>());
  if (!s) throw Error(Errc::kInternal, "unknown live-migration step " + f.as<std::string>());
  return *s;
}

LiveMigration FromRow(const pqxx::row& r) {
  LiveMigration m;
  int i = 0;
  m.id = r[i++].as<int64_t>();
  m.uuid = r[i++].as<std::string>();
  m.instance_uuid = r[i++].as<std::string>();
  m.status = ParseStatus(r[i++]);
  m.source_compute = OptString(r[i++]);
  m.source_node = OptString(r[i++]);
  m.dest_compute = OptString(r[i++]);
  m.dest_node = OptString(r[i++]);
  m.dest_host = OptString(r[i++]);
  m.memory_total = OptInt(r[i++]);
  m.memory_processed = OptInt(r[i++]);
  m.memory_remaining = OptInt(r[i++]);
  m.disk_total = OptInt(r[i++]);
  m.disk_processed = OptInt(r[i++]);
  m.disk_remaining = OptInt(r[i++]);
  m.user_id = OptString(r[i++]);
  m.project_id = OptString(r[i++]);
  m.created_at = ToTime(r[i++]);
  m.updated_at = OptTime(r[i++]);
  m.step = ParseStep(r[i++]);
  m.attempt = r[i++].as<int>();
  m.state_version = r[i++].as<int64_t>();
  m.lease_owner = OptString(r[i++]);
  m.lease_until = OptTime(r[i++]);
  m.transfer_rate_bps = OptInt(r[i++]);
  m.dirty_rate_bps = OptInt(r[i++]);
  m.eta_seconds = OptInt(r[i++]);
  m.downtime_ms = OptInt(r[i++]);
  m.error_reason = OptString(r[i++]);
  m.idempotency_key = OptString(r[i++]);
  m.request_params = ToJson(r[i++]);
  m.job_state = ParseOptional(r[i++], wire::ParseJobState, "job_state");
  m.job_phase = ParseOptional(r[i++], wire::ParseJobPhase, "job_phase");
  m.job_error = OptString(r[i++]);
  m.progress_at = OptTime(r[i++]);
  m.iteration = OptInt(r[i++]);
  m.throttle_percent = OptInt(r[i++]);
  m.lowest_remaining = OptInt(r[i++]);
  m.lowest_remaining_at = OptTime(r[i++]);
  m.started_at = OptTime(r[i++]);
  m.finished_at = OptTime(r[i++]);
  m.abort_requested_at = OptTime(r[i++]);
  m.force_complete_requested_at = OptTime(r[i++]);
  m.force_completed_at = OptTime(r[i++]);
  m.policy = ToJson(r[i++]);
  auto hosts = ToJson(r[i++]);
  if (hosts.is_array()) m.ignore_hosts = hosts.get<std::vector<std::string>>();
  m.lease_epoch = r[i++].as<int64_t>();
  m.requested_host = OptString(r[i++]);
  m.block_migration =
      ParseOptional(r[i++], ParseBlockMigration, "block_migration").value_or(BlockMigration::kAuto);
  m.forced = r[i++].as<bool>();
  m.copies_disk = r[i].is_null() ? std::nullopt : std::optional<bool>(r[i].as<bool>());
  ++i;
  m.incoming_uri = OptString(r[i++]);
  auto failures = ToJson(r[i++]);
  if (failures.is_array()) m.precheck_failures = failures.get<std::vector<std::string>>();
  m.abort_reason = OptString(r[i++]);
  m.abort_sent = r[i++].as<bool>();
  m.abort_refused = OptString(r[i++]);
  m.force_complete_reason = OptString(r[i++]);
  m.force_complete_refused = OptString(r[i++]);
  m.step_failures = r[i++].as<int>();
  m.last_step_error = OptString(r[i++]);
  return m;
}

std::optional<LiveMigration> FirstOrNone(const pqxx::result& res) {
  if (res.empty()) return std::nullopt;
  return FromRow(res[0]);
}

template <typename T>
std::string PgArray(const std::vector<T>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(v[i]);
  }
  return out + "}";
}

}  // namespace

void InsertLiveMigration(Tx& tx, LiveMigration& m, const MigrationEvent& first,
                         const std::string& lease_owner, std::chrono::seconds lease) {
  auto row = tx.Exec(
      kInsert, m.uuid, m.instance_uuid, std::string(ToString(m.status)), m.source_compute,
      m.source_node, m.dest_compute, m.dest_node, m.dest_host, m.user_id, m.project_id,
      std::string(ToString(m.step)), m.idempotency_key, m.request_params.dump(), m.policy.dump(),
      lease_owner, static_cast<double>(lease.count()), m.memory_total, m.disk_total,
      m.requested_host, std::string(ToString(m.block_migration)), m.forced, m.drain_uuid)[0];
  m.id = row[0].as<int64_t>();
  m.created_at = ToTime(row[1]);
  m.lease_owner = lease_owner;
  m.lease_epoch = 1;
  AppendMigrationEvent(tx, m.id, first);
}

std::optional<LiveMigration> FindLiveMigration(Tx& tx, const std::string& uuid) {
  return FirstOrNone(tx.Exec(kFindByUuid, uuid));
}

std::optional<LiveMigration> FindLiveMigrationById(Tx& tx, int64_t id) {
  return FirstOrNone(tx.Exec(kFindById, id));
}

std::optional<LiveMigration> FindByIdempotencyKey(Tx& tx, const std::string& key) {
  return FirstOrNone(tx.Exec(kFindByKey, key));
}

std::vector<LiveMigration> ListServerLiveMigrations(Tx& tx, const std::string& instance_uuid,
                                                    bool in_progress_only) {
  std::vector<LiveMigration> out;
  for (const auto& r : tx.Exec(kListForServer, instance_uuid, in_progress_only))
    out.push_back(FromRow(r));
  return out;
}

std::optional<LiveMigration> FindActiveLiveMigration(Tx& tx, const std::string& instance_uuid) {
  return FirstOrNone(tx.Exec(kFindActive, instance_uuid));
}

bool SaveLiveMigration(Tx& tx, LiveMigration& m, const std::string& owner,
                       const std::optional<MigrationEvent>& event) {
  auto res =
      tx.Exec(kSave, m.uuid, m.state_version, std::string(ToString(m.status)),
              std::string(ToString(m.step)), m.attempt, m.dest_compute, m.dest_node, m.dest_host,
              m.error_reason, OptEpoch(m.started_at), OptEpoch(m.finished_at),
              OptEpoch(m.force_completed_at), PgTextArray(m.ignore_hosts), m.copies_disk, owner,
              m.incoming_uri, PgTextArray(m.precheck_failures), m.abort_reason, m.abort_sent,
              m.abort_refused, m.force_complete_reason, m.force_complete_refused);
  if (res.empty()) return false;
  ++m.state_version;
  m.updated_at = ToTime(res[0][0]);
  if (event) AppendMigrationEvent(tx, m.id, *event);
  return true;
}

bool RequestAbort(Tx& tx, const std::string& uuid, TimePoint now) {
  return tx.Exec(kRequestAbort, uuid, EpochSeconds(now)).affected_rows() == 1;
}

bool RequestForceComplete(Tx& tx, const std::string& uuid, TimePoint now) {
  return tx.Exec(kRequestForce, uuid, EpochSeconds(now)).affected_rows() == 1;
}

int ApplyProgress(Tx& tx, const std::vector<HostReport>& reports) {
  ProgressRows rows;
  for (const auto& [host, job] : reports) rows.Add(host, job);
  return ApplyProgressRows(tx, rows);
}

int ApplyProgress(Tx& tx, const std::string& host,
                  const std::vector<wire::LiveMigrationJob>& reports) {
  ProgressRows rows;
  for (const auto& j : reports) rows.Add(host, j);
  return ApplyProgressRows(tx, rows);
}

void ClearMigratingTask(Tx& tx, const std::string& server_uuid) {
  tx.Exec(kClearTask, server_uuid);
}

void FinishServerMove(Tx& tx, const std::string& server_uuid, int64_t host_id,
                      const std::string& node) {
  tx.Exec(kFinishMove, server_uuid, host_id, node);
}

namespace {
constexpr std::array<std::string_view, 3> kBlockMigration = {"auto", "true", "false"};
constexpr std::array<std::string_view, 7> kLiveSteps = {
    "scheduling", "waiting for a slot", "preparing destination", "starting", "copying", "finishing",
    "done"};
}  // namespace

std::string_view ToString(BlockMigration b) { return kBlockMigration.at(static_cast<size_t>(b)); }

std::optional<BlockMigration> ParseBlockMigration(std::string_view s) {
  for (size_t i = 0; i < kBlockMigration.size(); ++i) {
    if (kBlockMigration[i] == s) return static_cast<BlockMigration>(i);
  }
  return std::nullopt;
}

std::string_view ToString(LiveStep s) { return kLiveSteps.at(static_cast<size_t>(s)); }

std::optional<LiveStep> ParseLiveStep(std::string_view s) {
  for (size_t i = 0; i < kLiveSteps.size(); ++i) {
    if (kLiveSteps[i] == s) return static_cast<LiveStep>(i);
  }
  return std::nullopt;
}

}  // namespace ferry::controller::store
