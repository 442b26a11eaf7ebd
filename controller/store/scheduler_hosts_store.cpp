#include "controller/store/scheduler_hosts_store.hpp"

#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// Moves of every kind that have chosen their destination and still head there or wait there.
#define FERRY_MOVES_UNDER_WAY "m.status IN " FERRY_SQL_HEADS_TO_DESTINATION_STATUSES

constexpr Statement kLoad{"scheduler_hosts_load", R"sql(
SELECT h.id, h.name, h.cell, h.hypervisor_type, h.hypervisor_version, h.state, h.disabled,
       h.forced_down, h.vcpus, h.memory_mb, h.local_gb, h.cpu_allocation_ratio,
       h.ram_allocation_ratio, h.disk_allocation_ratio, h.reserved_host_memory_mb,
       h.cpu_info::text,
       coalesce((SELECT min(m.value) FROM aggregate_hosts ah
                 JOIN aggregate_metadata m ON m.aggregate_id = ah.aggregate_id
                                          AND m.key = 'availability_zone'
                 WHERE ah.host_id = h.id), $2),
       coalesce(u.vcpus, 0), coalesce(u.memory_mb, 0), coalesce(u.disk_gb, 0),
       (SELECT coalesce(jsonb_agg(jsonb_build_array(m.key, m.value)), '[]'::jsonb)
        FROM aggregate_hosts ah JOIN aggregate_metadata m ON m.aggregate_id = ah.aggregate_id
        WHERE ah.host_id = h.id)::text,
       (SELECT coalesce(jsonb_agg(d.name ORDER BY d.name), '[]'::jsonb)
        FROM host_datastores hd JOIN datastores d ON d.id = hd.datastore_id
        WHERE hd.host_id = h.id AND d.kind = 'shared')::text,
       (SELECT count(*) FROM migrations m WHERE m.dest_compute = h.name AND )sql" FERRY_MOVES_UNDER_WAY
                                                  R"sql(),
       (SELECT count(*) FROM migrations m WHERE m.source_compute = h.name AND )sql" FERRY_MOVES_UNDER_WAY
                                                  R"sql()
FROM hosts h
LEFT JOIN LATERAL (SELECT sum(amount) FILTER (WHERE resource = 'VCPU') AS vcpus,
                          sum(amount) FILTER (WHERE resource = 'MEMORY_MB') AS memory_mb,
                          sum(amount) FILTER (WHERE resource = 'DISK_GB') AS disk_gb
                   FROM claims c WHERE c.host_id = h.id) u ON true
WHERE ($1::bigint[] IS NULL OR h.id = ANY($1::bigint[]))
ORDER BY h.id)sql"};

// Overlapping windows are the caller's business (it subtracts a margin from the watermark).
constexpr Statement kChanged{"scheduler_hosts_changed", R"sql(
SELECT extract(epoch from clock_timestamp())::float8, coalesce(array_agg(DISTINCT id), '{}')::text
FROM (
  SELECT h.id FROM hosts h
  WHERE h.updated_at > to_timestamp($1) OR (h.id = ANY($2::bigint[]) AND h.state = 'up')
  UNION ALL
  SELECT c.host_id FROM claims c WHERE c.created_at > to_timestamp($1)
  UNION ALL
  SELECT ah.host_id FROM aggregate_hosts ah JOIN aggregates a ON a.id = ah.aggregate_id
  WHERE a.updated_at > to_timestamp($1) OR a.created_at > to_timestamp($1)
  UNION ALL
  SELECT h.id FROM migrations m JOIN hosts h ON h.name IN (m.source_compute, m.dest_compute)
  WHERE (m.updated_at > to_timestamp($1) OR m.created_at > to_timestamp($1))
) changed)sql"};

constexpr Statement kNow{"scheduler_database_now",
                         "SELECT extract(epoch from clock_timestamp())::float8"};

std::string BigintArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

std::vector<int64_t> ParseBigintArray(const std::string& text) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
      size_t used = 0;
      out.push_back(std::stoll(text.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  return out;
}

SchedulerHostView ViewFromRow(const pqxx::row& r) {
  SchedulerHostView v;
  Host& h = v.host;
  h.id = r[0].as<int64_t>();
  h.name = r[1].as<std::string>();
  h.cell = r[2].as<std::string>();
  h.hypervisor_type = r[3].as<std::string>();
  h.hypervisor_version = r[4].as<int64_t>();
  h.state = r[5].as<std::string>();
  h.disabled = r[6].as<bool>();
  h.forced_down = r[7].as<bool>();
  h.vcpus = r[8].as<int>();
  h.memory_mb = r[9].as<int64_t>();
  h.local_gb = r[10].as<int64_t>();
  h.cpu_allocation_ratio = r[11].as<double>();
  h.ram_allocation_ratio = r[12].as<double>();
  h.disk_allocation_ratio = r[13].as<double>();
  h.reserved_host_memory_mb = r[14].as<int64_t>();
  h.cpu_info = ToJson(r[15]);
  h.availability_zone = r[16].as<std::string>();
  h.vcpus_used = r[17].as<int64_t>();
  h.memory_mb_used = r[18].as<int64_t>();
  h.local_gb_used = r[19].as<int64_t>();
  for (const auto& kv : ToJson(r[20])) {
    v.aggregate_metadata.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
  }
  for (const auto& name : ToJson(r[21])) v.shared_datastores.push_back(name.get<std::string>());
  v.inbound_live_migrations = r[22].as<int>();
  v.outbound_live_migrations = r[23].as<int>();
  return v;
}

}  // namespace

std::vector<SchedulerHostView> LoadSchedulerHosts(Tx& tx,
                                                  const std::optional<std::vector<int64_t>>& ids) {
  std::optional<std::string> id_array;
  if (ids) id_array = BigintArray(*ids);
  std::vector<SchedulerHostView> out;
  for (const auto& r : tx.Exec(kLoad, id_array, std::string(kDefaultAvailabilityZone))) {
    out.push_back(ViewFromRow(r));
  }
  return out;
}

TimePoint DatabaseNow(Tx& tx) { return ToTime(tx.Exec(kNow)[0][0]); }

HostChanges HostsChangedSince(Tx& tx, TimePoint since, const std::vector<int64_t>& believed_down) {
  auto r = tx.Exec(kChanged, EpochSeconds(since), BigintArray(believed_down))[0];
  HostChanges out;
  out.database_now = ToTime(r[0]);
  out.host_ids = ParseBigintArray(r[1].as<std::string>());
  return out;
}

}  // namespace ferry::controller::store
