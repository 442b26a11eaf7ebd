#include "controller/store/servers_store.hpp"

#include "common/errors.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// What a server's row reads, with its host's state (Nova's host_status, 2.16) from the join that
// names the host, and, when $13 asks (a show from 2.71), its server group: one statement for a
// server shown, none per listed server for its host.
#define FERRY_SERVER_COLUMNS                                                                   \
  "SELECT s.id, s.uuid::text, s.name, s.host_id, h.name, s.node, coalesce(s.flavor_id, 0), "   \
  "s.flavorid, s.flavor_name, s.vcpus, s.memory_mb, s.root_gb, s.vm_state, s.task_state, "     \
  "s.power_state, s.storage_kind, s.volumes::text, s.availability_zone, s.user_id, "           \
  "s.project_id, s.locked, s.locked_reason, s.progress, s.fault::text, s.metadata::text, "     \
  "extract(epoch from s.created_at)::float8, extract(epoch from s.updated_at)::float8, "       \
  "extract(epoch from s.launched_at)::float8, s.access_ip_v4, s.access_ip_v6, s.description, " \
  "s.hostname, s.image_ref, s.datastore, h.state, h.disabled, h.forced_down, "                 \
  "CASE WHEN $13::bool THEN (SELECT g.uuid::text FROM server_group_members sm JOIN "           \
  "server_groups g ON g.id = sm.group_id WHERE sm.server_uuid = s.uuid) END "                  \
  "FROM servers s LEFT JOIN hosts h ON h.id = s.host_id "

constexpr Statement kListServers{"servers_list", FERRY_SERVER_COLUMNS R"sql(
WHERE ($1::uuid IS NULL OR s.uuid = $1)
  AND ($2::text IS NULL OR h.name = $2)
  AND $3::text IS NULL  -- a name filter goes through kListServersByName
  AND ($4::text[] IS NULL OR s.vm_state = ANY($4::text[]))
  AND ($5::text[] IS NULL OR s.task_state = ANY($5::text[]))
  AND ($6::text IS NULL OR s.project_id = $6)
  AND ($7::text IS NULL OR s.task_state = $7)
  AND ($8::uuid IS NULL OR (s.created_at, s.id) <
       (SELECT created_at, id FROM servers WHERE uuid = $8))
  AND ($10::text IS NULL OR s.flavorid = $10)
  AND ($11::float8 IS NULL OR s.updated_at >= to_timestamp($11))
  AND ($12::float8 IS NULL OR s.updated_at <= to_timestamp($12))
ORDER BY s.created_at DESC, s.id DESC
LIMIT $9)sql"};

// The name filter is a member-supplied regular expression. PostgreSQL orders quals of equal
// cost as written, so in kListServers it could run over every project's names (a cross-tenant
// timing oracle and a CPU sink). Here the MATERIALIZED CTE (an optimisation fence) holds only
// the rows the other filters admit, the caller's project among them, and the regex sees those
// alone (servers_name_filter_pgtest proves it with EXPLAIN and with other projects' names on
// which the regex would run for seconds).
constexpr Statement kListServersByName{"servers_list_by_name", R"sql(
WITH candidates AS MATERIALIZED (
  SELECT s.id, s.name FROM servers s LEFT JOIN hosts h ON h.id = s.host_id
  WHERE ($1::uuid IS NULL OR s.uuid = $1)
    AND ($2::text IS NULL OR h.name = $2)
    AND ($4::text[] IS NULL OR s.vm_state = ANY($4::text[]))
    AND ($5::text[] IS NULL OR s.task_state = ANY($5::text[]))
    AND ($6::text IS NULL OR s.project_id = $6)
    AND ($7::text IS NULL OR s.task_state = $7)
    AND ($8::uuid IS NULL OR (s.created_at, s.id) <
         (SELECT created_at, id FROM servers WHERE uuid = $8))
    AND ($10::text IS NULL OR s.flavorid = $10)
    AND ($11::float8 IS NULL OR s.updated_at >= to_timestamp($11))
    AND ($12::float8 IS NULL OR s.updated_at <= to_timestamp($12))
)
)sql" FERRY_SERVER_COLUMNS R"sql(
WHERE s.id IN (SELECT c.id FROM candidates c WHERE c.name ~ $3)
ORDER BY s.created_at DESC, s.id DESC
LIMIT $9)sql"};

// The regex runs under a statement timeout of its own; the previous value comes back after.
constexpr Statement kCurrentStatementTimeout{"servers_current_statement_timeout",
                                             "SELECT current_setting('statement_timeout')"};
constexpr Statement kSetStatementTimeout{"servers_set_statement_timeout",
                                         "SELECT set_config('statement_timeout', $1, true)"};

// 1 s: matching one project's names (255 characters at most) takes microseconds per row for
// any expression without back-reference backtracking; one that needs a second is refused.
constexpr const char* kNameRegexTimeout = "1s";

constexpr Statement kServerExists{"servers_exists", "SELECT 1 FROM servers WHERE uuid = $1::uuid"};

constexpr Statement kInsertServer{"servers_insert", R"sql(
INSERT INTO servers (uuid, name, host_id, node, flavor_id, flavorid, flavor_name, vcpus,
                     memory_mb, root_gb, vm_state, task_state, power_state, storage_kind, volumes,
                     availability_zone, user_id, project_id, metadata, fault, created_at,
                     updated_at, launched_at, access_ip_v4, access_ip_v6, description, hostname,
                     image_ref, datastore)
VALUES ($1, $2, $3, $4, nullif($5, 0), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16,
        $17, $18, $19::jsonb, $20::jsonb, to_timestamp($21), to_timestamp($21),
        to_timestamp($22), $23, $24, $25, $26,
        $27, $28))sql"};

constexpr Statement kLockServer{"servers_lock",
                                "SELECT 1 FROM servers WHERE uuid = $1::uuid FOR UPDATE"};

constexpr Statement kUpdateUserFields{"servers_update_user_fields", R"sql(
UPDATE servers SET name = $2, access_ip_v4 = $3, access_ip_v6 = $4, description = $5,
                   hostname = $6, updated_at = to_timestamp($7)
WHERE uuid = $1)sql"};

constexpr Statement kCasTaskState{"servers_cas_task_state", R"sql(
UPDATE servers SET task_state = $3, updated_at = to_timestamp($4)
WHERE uuid = $1 AND task_state IS NOT DISTINCT FROM $2)sql"};

constexpr Statement kMarkActive{"servers_mark_active", R"sql(
UPDATE servers SET vm_state = 'active', task_state = NULL, power_state = $2, fault = NULL,
                   launched_at = coalesce(launched_at, to_timestamp($3)),
                   updated_at = to_timestamp($3)
WHERE uuid = $1)sql"};

constexpr Statement kMarkError{"servers_mark_error", R"sql(
UPDATE servers SET vm_state = 'error', task_state = NULL, fault = $2::jsonb,
                   updated_at = to_timestamp($3)
WHERE uuid = $1)sql"};

constexpr Statement kRecordAction{"servers_record_action", R"sql(
INSERT INTO server_observations (instance_uuid, request_id, action, event, result, host, details,
                                 user_id, project_id, at)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10)))sql"};

constexpr Statement kDeleteServer{"servers_delete", "DELETE FROM servers WHERE uuid = $1"};

Server ServerFromRow(const pqxx::row& r) {
  Server s;
  s.id = r[0].as<int64_t>();
  s.uuid = r[1].as<std::string>();
  s.name = r[2].as<std::string>();
  s.host_id = OptInt(r[3]);
  s.host = OptString(r[4]);
  s.node = OptString(r[5]);
  s.flavor_id = r[6].as<int64_t>();
  s.flavorid = r[7].as<std::string>();
  s.flavor_name = r[8].as<std::string>();
  s.vcpus = r[9].as<int>();
  s.memory_mb = r[10].as<int64_t>();
  s.root_gb = r[11].as<int64_t>();
  s.vm_state = r[12].as<std::string>();
  s.task_state = OptString(r[13]);
  s.power_state = r[14].as<int>();
  s.storage_kind = r[15].as<std::string>();
  s.volumes = ToJson(r[16]);
  s.availability_zone = OptString(r[17]);
  s.user_id = r[18].as<std::string>();
  s.project_id = r[19].as<std::string>();
  s.locked = r[20].as<bool>();
  s.locked_reason = OptString(r[21]);
  s.progress = r[22].as<int>();
  if (!r[23].is_null()) s.fault = ToJson(r[23]);
  s.metadata = ToJson(r[24]);
  s.created_at = ToTime(r[25]);
  s.updated_at = ToTime(r[26]);
  s.launched_at = OptTime(r[27]);
  s.attributes.access_ip_v4 = OptString(r[28]);
  s.attributes.access_ip_v6 = OptString(r[29]);
  s.attributes.description = OptString(r[30]);
  s.attributes.hostname = OptString(r[31]);
  s.attributes.image_ref = OptString(r[32]);
  s.datastore = OptString(r[33]);
  if (!r[34].is_null()) {
    s.host_state = HostState{r[34].as<std::string>(), r[35].as<bool>(), r[36].as<bool>()};
  }
  s.group_uuid = OptString(r[37]);
  return s;
}

}  // namespace

namespace {

pqxx::result ListByName(Tx& tx, const ServerFilter& f) {
  const auto before = tx.Exec(kCurrentStatementTimeout)[0][0].as<std::string>();
  tx.Exec(kSetStatementTimeout, std::string(kNameRegexTimeout));
  pqxx::result rows;
  try {
    rows = tx.Exec(kListServersByName, f.uuid, f.host, f.name_regex, PgTextArray(f.vm_states),
                   PgTextArray(f.task_states), f.project_id, f.task_state_is, f.marker, f.limit,
                   f.flavorid, OptEpoch(f.changes_since), OptEpoch(f.changes_before), f.with_group);
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() != "57014") throw;  // 57014: cancelled by the timeout set above
    throw Error(Errc::kBadRequest,
                "Invalid input for query parameters name. The regular expression is too "
                "expensive to evaluate.");
  }
  tx.Exec(kSetStatementTimeout, before);
  return rows;
}

}  // namespace

std::vector<Server> ListServers(Tx& tx, const ServerFilter& f) {
  std::vector<Server> out;
  const pqxx::result rows =
      f.name_regex ? ListByName(tx, f)
                   : tx.Exec(kListServers, f.uuid, f.host, f.name_regex, PgTextArray(f.vm_states),
                             PgTextArray(f.task_states), f.project_id, f.task_state_is, f.marker,
                             f.limit, f.flavorid, OptEpoch(f.changes_since),
                             OptEpoch(f.changes_before), f.with_group);
  for (const auto& r : rows) out.push_back(ServerFromRow(r));
  return out;
}

std::optional<Server> FindServer(Tx& tx, const std::string& uuid, bool with_group) {
  ServerFilter f;
  f.uuid = uuid;
  f.with_group = with_group;
  auto all = ListServers(tx, f);
  if (all.empty()) return std::nullopt;
  return all.front();
}

bool ServerExists(Tx& tx, const std::string& uuid) { return !tx.Exec(kServerExists, uuid).empty(); }

void InsertServer(Tx& tx, const Server& s) {
  std::optional<double> launched;
  if (s.launched_at) launched = EpochSeconds(*s.launched_at);
  std::optional<std::string> fault;
  if (s.fault) fault = s.fault->dump();
  tx.Exec(kInsertServer, s.uuid, s.name, s.host_id, s.node, s.flavor_id, s.flavorid, s.flavor_name,
          s.vcpus, s.memory_mb, s.root_gb, s.vm_state, s.task_state, s.power_state, s.storage_kind,
          s.volumes.dump(), s.availability_zone, s.user_id, s.project_id, s.metadata.dump(), fault,
          EpochSeconds(s.created_at), launched, s.attributes.access_ip_v4,
          s.attributes.access_ip_v6, s.attributes.description, s.attributes.hostname,
          s.attributes.image_ref, s.datastore);
}

bool LockServer(Tx& tx, const std::string& uuid) { return !tx.Exec(kLockServer, uuid).empty(); }

void UpdateServerUserFields(Tx& tx, const Server& s, TimePoint now) {
  tx.Exec(kUpdateUserFields, s.uuid, s.name, s.attributes.access_ip_v4, s.attributes.access_ip_v6,
          s.attributes.description, s.attributes.hostname, EpochSeconds(now));
}

bool CasTaskState(Tx& tx, const std::string& uuid, const std::optional<std::string>& expected,
                  const std::optional<std::string>& next, TimePoint now) {
  return tx.Exec(kCasTaskState, uuid, expected, next, EpochSeconds(now)).affected_rows() == 1;
}

void MarkServerActive(Tx& tx, const std::string& uuid, int power_state, TimePoint now) {
  tx.Exec(kMarkActive, uuid, power_state, EpochSeconds(now));
}

void MarkServerError(Tx& tx, const std::string& uuid, const nlohmann::json& fault, TimePoint now) {
  tx.Exec(kMarkError, uuid, fault.dump(), EpochSeconds(now));
}

void DeleteServerRow(Tx& tx, const std::string& uuid) { tx.Exec(kDeleteServer, uuid); }

void RecordServerAction(Tx& tx, const ServerActionRecord& r, TimePoint at) {
  tx.Exec(kRecordAction, r.instance_uuid, r.request_id, r.action, r.event,
          std::string(r.error ? "Error" : "Success"), r.host, r.details, r.user_id, r.project_id,
          EpochSeconds(at));
}

}  // namespace ferry::controller::store
