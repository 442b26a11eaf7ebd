#include "controller/store/aggregates_store.hpp"

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kListAggregates{"aggregates_list", R"sql(
SELECT a.id, a.uuid::text, a.name, extract(epoch from a.created_at)::float8,
       extract(epoch from a.updated_at)::float8,
       coalesce((SELECT json_agg(h.name ORDER BY h.name) FROM aggregate_hosts ah
                 JOIN hosts h ON h.id = ah.host_id WHERE ah.aggregate_id = a.id), '[]')::text,
       coalesce((SELECT json_object_agg(m.key, m.value) FROM aggregate_metadata m
                 WHERE m.aggregate_id = a.id), '{}')::text
FROM aggregates a
WHERE ($1::bigint IS NULL OR a.id = $1) AND ($2::uuid IS NULL OR a.uuid = $2)
ORDER BY a.id)sql"};

constexpr Statement kInsertAggregate{"aggregates_insert", R"sql(
INSERT INTO aggregates (uuid, name, created_at) VALUES ($1, $2, to_timestamp($3))
ON CONFLICT (name) DO NOTHING RETURNING id)sql"};

constexpr Statement kRenameAggregate{"aggregates_rename", R"sql(
UPDATE aggregates SET name = $2, updated_at = to_timestamp($3) WHERE id = $1)sql"};

constexpr Statement kDeleteAggregate{"aggregates_delete", "DELETE FROM aggregates WHERE id = $1"};

constexpr Statement kAddHost{"aggregates_add_host", R"sql(
INSERT INTO aggregate_hosts (aggregate_id, host_id) VALUES ($1, $2))sql"};
constexpr Statement kRemoveHost{
    "aggregates_remove_host",
    "DELETE FROM aggregate_hosts WHERE aggregate_id = $1 AND host_id = $2"};
constexpr Statement kTouch{"aggregates_touch",
                           "UPDATE aggregates SET updated_at = to_timestamp($2) WHERE id = $1"};

constexpr Statement kSetMetadata{"aggregates_set_metadata", R"sql(
INSERT INTO aggregate_metadata (aggregate_id, key, value) VALUES ($1, $2, $3)
ON CONFLICT (aggregate_id, key) DO UPDATE SET value = EXCLUDED.value)sql"};
constexpr Statement kDeleteMetadata{
    "aggregates_delete_metadata",
    "DELETE FROM aggregate_metadata WHERE aggregate_id = $1 AND key = $2"};

constexpr Statement kHostZones{"aggregates_host_zones", R"sql(
SELECT DISTINCT m.value FROM aggregate_hosts ah
JOIN aggregate_metadata m ON m.aggregate_id = ah.aggregate_id AND m.key = 'availability_zone'
WHERE ah.host_id = $1 AND ah.aggregate_id <> $2 ORDER BY 1)sql"};

Aggregate AggregateFromRow(const pqxx::row& r) {
  Aggregate a;
  a.id = r[0].as<int64_t>();
  a.uuid = r[1].as<std::string>();
  a.name = r[2].as<std::string>();
  a.created_at = ToTime(r[3]);
  a.updated_at = OptTime(r[4]);
  a.hosts = ToJson(r[5]).get<std::vector<std::string>>();
  a.metadata = ToJson(r[6]).get<std::map<std::string, std::string>>();
  if (auto it = a.metadata.find("availability_zone"); it != a.metadata.end()) {
    a.availability_zone = it->second;
  }
  return a;
}

std::vector<Aggregate> Query(Tx& tx, std::optional<int64_t> id, std::optional<std::string> uuid) {
  std::vector<Aggregate> out;
  for (const auto& r : tx.Exec(kListAggregates, id, uuid)) out.push_back(AggregateFromRow(r));
  return out;
}

}  // namespace

std::vector<Aggregate> ListAggregates(Tx& tx) { return Query(tx, std::nullopt, std::nullopt); }

std::optional<Aggregate> FindAggregate(Tx& tx, const std::string& id_or_uuid) {
  std::vector<Aggregate> found;
  if (IsUuid(id_or_uuid)) {
    found = Query(tx, std::nullopt, id_or_uuid);
  } else if (!id_or_uuid.empty() && id_or_uuid.size() < 19 &&
             id_or_uuid.find_first_not_of("0123456789") == std::string::npos) {
    found = Query(tx, std::stoll(id_or_uuid), std::nullopt);
  }
  if (found.empty()) return std::nullopt;
  return found.front();
}

Aggregate CreateAggregate(Tx& tx, const std::string& name, const std::optional<std::string>& az,
                          TimePoint now) {
  auto r = tx.Exec(kInsertAggregate, NewUuid(), name, EpochSeconds(now));
  if (r.empty()) throw Error(Errc::kConflict, "Aggregate " + name + " already exists.");
  auto id = r[0][0].as<int64_t>();
  if (az) tx.Exec(kSetMetadata, id, std::string("availability_zone"), *az);
  return Query(tx, id, std::nullopt).front();
}

void RenameAggregate(Tx& tx, int64_t id, const std::string& name, TimePoint now) {
  tx.Exec(kRenameAggregate, id, name, EpochSeconds(now));
}

void DeleteAggregate(Tx& tx, int64_t id) { tx.Exec(kDeleteAggregate, id); }

void AddAggregateHost(Tx& tx, int64_t aggregate_id, int64_t host_id, TimePoint now) {
  tx.Exec(kAddHost, aggregate_id, host_id);
  tx.Exec(kTouch, aggregate_id, EpochSeconds(now));
}

void RemoveAggregateHost(Tx& tx, int64_t aggregate_id, int64_t host_id, TimePoint now) {
  tx.Exec(kRemoveHost, aggregate_id, host_id);
  tx.Exec(kTouch, aggregate_id, EpochSeconds(now));
}

void SetAggregateMetadata(Tx& tx, int64_t aggregate_id,
                          const std::map<std::string, std::optional<std::string>>& changes,
                          TimePoint now) {
  for (const auto& [key, value] : changes) {
    if (value) {
      tx.Exec(kSetMetadata, aggregate_id, key, *value);
    } else {
      tx.Exec(kDeleteMetadata, aggregate_id, key);
    }
  }
  tx.Exec(kTouch, aggregate_id, EpochSeconds(now));
}

std::vector<std::string> HostZones(Tx& tx, int64_t host_id, int64_t except_aggregate_id) {
  std::vector<std::string> zones;
  for (const auto& r : tx.Exec(kHostZones, host_id, except_aggregate_id))
    zones.push_back(r[0].as<std::string>());
  return zones;
}

}  // namespace ferry::controller::store
