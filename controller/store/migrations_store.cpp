#include "controller/store/migrations_store.hpp"

#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// The phase is the agent's job phase while a copy runs (live: running; cold: migrating), else
// the controller's step.
// Callers pass only well-formed uuids for $4 and $10 (the API answers a malformed one itself).
constexpr Statement kListMigrations{"migrations_list", R"sql(
SELECT m.id, m.uuid::text, m.instance_uuid::text, m.migration_type, m.status, s.api_in_progress,
       m.source_compute, m.source_node, m.dest_compute, m.dest_node, m.dest_host,
       m.old_instance_type_id, m.new_instance_type_id, m.memory_total, m.memory_processed,
       m.memory_remaining, m.user_id, m.project_id, extract(epoch from m.created_at)::float8,
       extract(epoch from m.updated_at)::float8,
       coalesce(CASE WHEN m.status IN ('running', 'migrating') THEN m.job_phase END, m.step,
                m.phase),
       m.attempt, m.error_reason, m.disk_total, m.disk_remaining
FROM migrations m JOIN migration_statuses s ON s.status = m.status
WHERE ($1::text IS NULL OR m.source_compute = $1 OR m.dest_compute = $1)
  AND ($2::text IS NULL OR m.source_compute = $2)
  AND ($3::text[] IS NULL OR m.status = ANY($3::text[]))
  AND ($4::uuid IS NULL OR m.instance_uuid = $4::uuid)
  AND ($5::text IS NULL OR m.migration_type = $5)
  AND ($6::text IS NULL OR m.user_id = $6)
  AND ($7::text IS NULL OR m.project_id = $7)
  AND ($8::float8 IS NULL OR m.updated_at >= to_timestamp($8))
  AND ($9::float8 IS NULL OR m.updated_at <= to_timestamp($9))
  AND ($10::uuid IS NULL OR (m.created_at, m.id) <
       (SELECT created_at, id FROM migrations WHERE uuid = $10::uuid))
ORDER BY m.created_at DESC, m.id DESC
LIMIT $11)sql"};

// The list has one shape for every filter combination ($n IS NULL OR ...), so a generic plan
// cannot use the index that fits the filters given: measured on 1M rows, the generic plan is a
// seq scan + sort taking ~5 s where the custom plan takes ~2 ms. PostgreSQL switches a prepared
// statement to its generic plan after five executions when it guesses that is cheaper, so the
// transaction pins custom plans for itself before listing.
constexpr Statement kForceCustomPlan{"migrations_list_custom_plan",
                                     "SET LOCAL plan_cache_mode = force_custom_plan"};

constexpr Statement kMigrationExists{"migrations_exists",
                                     "SELECT 1 FROM migrations WHERE uuid = $1::uuid"};

Migration MigrationFromRow(const pqxx::row& r) {
  Migration m;
  m.id = r[0].as<int64_t>();
  m.uuid = r[1].as<std::string>();
  m.instance_uuid = r[2].as<std::string>();
  m.migration_type = r[3].as<std::string>();
  m.status = r[4].as<std::string>();
  m.api_in_progress = r[5].as<bool>();
  m.source_compute = OptString(r[6]);
  m.source_node = OptString(r[7]);
  m.dest_compute = OptString(r[8]);
  m.dest_node = OptString(r[9]);
  m.dest_host = OptString(r[10]);
  m.old_instance_type_id = OptInt(r[11]);
  m.new_instance_type_id = OptInt(r[12]);
  m.memory_total = OptInt(r[13]);
  m.memory_processed = OptInt(r[14]);
  m.memory_remaining = OptInt(r[15]);
  m.user_id = OptString(r[16]);
  m.project_id = OptString(r[17]);
  m.created_at = ToTime(r[18]);
  m.updated_at = OptTime(r[19]);
  m.phase = OptString(r[20]);
  m.attempt = r[21].as<int>();
  m.error_reason = OptString(r[22]);
  m.disk_total = OptInt(r[23]);
  m.disk_remaining = OptInt(r[24]);
  return m;
}

}  // namespace

std::vector<Migration> ListMigrations(Tx& tx, const MigrationFilter& f) {
  std::vector<Migration> out;
  tx.Exec(kForceCustomPlan);
  for (const auto& r :
       tx.Exec(kListMigrations, f.host, f.source_compute, PgTextArray(f.statuses), f.instance_uuid,
               f.migration_type, f.user_id, f.project_id, OptEpoch(f.changes_since),
               OptEpoch(f.changes_before), f.marker, f.limit)) {
    out.push_back(MigrationFromRow(r));
  }
  return out;
}

std::string ExplainListMigrationsForTest(Tx& tx, const MigrationFilter& f) {
  std::string plan;
  // Parameters bound as ListMigrations binds them, so the plan is the custom plan it gets.
  for (const auto& r : tx.work().exec_params(
           std::string("EXPLAIN ") + kListMigrations.sql, f.host, f.source_compute,
           PgTextArray(f.statuses), f.instance_uuid, f.migration_type, f.user_id, f.project_id,
           OptEpoch(f.changes_since), OptEpoch(f.changes_before), f.marker, f.limit)) {
    plan += r[0].as<std::string>() + "\n";
  }
  return plan;
}

bool MigrationExists(Tx& tx, const std::string& uuid) {
  return !tx.Exec(kMigrationExists, uuid).empty();
}

}  // namespace ferry::controller::store
