#include "controller/store/hosts_store.hpp"

#include "common/uuid.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kListHosts{"hosts_list", R"sql(
SELECT h.id, h.service_uuid::text, h.node_uuid::text, h.name, h.cell, h.hypervisor_type,
       h.hypervisor_version, h.simulated, coalesce(h.host_ip, ''), coalesce(h.migration_address, ''),
       coalesce(h.agent_url, ''), h.state, extract(epoch from h.last_heartbeat_at)::float8,
       h.disabled, h.disabled_reason, h.forced_down, h.vcpus, h.memory_mb, h.local_gb,
       h.cpu_allocation_ratio, h.ram_allocation_ratio, h.disk_allocation_ratio,
       h.reserved_host_memory_mb, h.cpu_info::text, extract(epoch from h.updated_at)::float8,
       coalesce((SELECT min(m.value) FROM aggregate_hosts ah
                 JOIN aggregate_metadata m ON m.aggregate_id = ah.aggregate_id
                                          AND m.key = 'availability_zone'
                 WHERE ah.host_id = h.id), $6),
       coalesce(u.vcpus, 0), coalesce(u.memory_mb, 0), coalesce(u.disk_gb, 0),
       (SELECT count(*) FROM servers s WHERE s.host_id = h.id)
FROM hosts h
-- Per host (claims_host_idx), so that a filtered list sums only its hosts' claims: summing the
-- whole table first cost ~0.5 s per request at 1,250 hosts and 40,000 claims.
LEFT JOIN LATERAL (SELECT sum(amount) FILTER (WHERE resource = 'VCPU') AS vcpus,
                          sum(amount) FILTER (WHERE resource = 'MEMORY_MB') AS memory_mb,
                          sum(amount) FILTER (WHERE resource = 'DISK_GB') AS disk_gb
                   FROM claims c WHERE c.host_id = h.id) u ON true
WHERE ($1::bigint IS NULL OR h.id = $1)
  AND ($2::text IS NULL OR h.name = $2)
  AND ($3::uuid IS NULL OR h.service_uuid = $3)
  AND ($4::uuid IS NULL OR h.node_uuid = $4)
  AND ($5::text IS NULL OR strpos(h.name, $5) > 0)
ORDER BY h.id)sql"};

constexpr Statement kUpsertHost{"hosts_upsert", R"sql(
INSERT INTO hosts (service_uuid, node_uuid, name, cell, hypervisor_type, hypervisor_version,
                   simulated, host_ip, migration_address, agent_url, state, last_heartbeat_at,
                   vcpus, memory_mb, local_gb, cpu_info, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'up', now(), $12, $13, $14,
        $15::jsonb, to_timestamp($11))
ON CONFLICT (name) DO UPDATE SET
    cell = EXCLUDED.cell, hypervisor_type = EXCLUDED.hypervisor_type,
    hypervisor_version = EXCLUDED.hypervisor_version, simulated = EXCLUDED.simulated,
    host_ip = EXCLUDED.host_ip, migration_address = EXCLUDED.migration_address,
    agent_url = EXCLUDED.agent_url, state = 'up', last_heartbeat_at = now(),
    vcpus = EXCLUDED.vcpus, memory_mb = EXCLUDED.memory_mb, local_gb = EXCLUDED.local_gb,
    cpu_info = EXCLUDED.cpu_info, updated_at = EXCLUDED.updated_at
RETURNING id)sql"};

constexpr Statement kUpsertDatastore{"datastores_upsert", R"sql(
INSERT INTO datastores (name, kind, capacity_gb, free_gb) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, capacity_gb = EXCLUDED.capacity_gb,
    free_gb = EXCLUDED.free_gb, updated_at = now()
RETURNING id)sql"};

constexpr Statement kClearHostDatastores{"host_datastores_clear",
                                         "DELETE FROM host_datastores WHERE host_id = $1"};
constexpr Statement kLinkHostDatastore{"host_datastores_link", R"sql(
INSERT INTO host_datastores (host_id, datastore_id) VALUES ($1, $2) ON CONFLICT DO NOTHING)sql"};

// Heartbeat times are PostgreSQL's now(), and so is the cutoff they are compared with: with
// several controllers, each one's own clock would mix with times the others wrote.
constexpr Statement kHeartbeat{"hosts_heartbeat", R"sql(
UPDATE hosts h SET last_heartbeat_at = now(), state = 'up'
FROM (SELECT id, state AS old_state FROM hosts WHERE name = $1 FOR UPDATE) old
WHERE h.id = old.id
RETURNING h.id, old.old_state = 'down')sql"};

// $1 seconds of silence; $2 the controller's now, for updated_at as every other host write.
constexpr Statement kMarkDown{"hosts_mark_down", R"sql(
UPDATE hosts SET state = 'down', updated_at = to_timestamp($2)
WHERE state = 'up'
  AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1))
RETURNING name)sql"};

constexpr Statement kUpdateService{"hosts_update_service", R"sql(
UPDATE hosts SET disabled = coalesce($2, disabled),
                 disabled_reason = CASE WHEN $3 THEN $4 ELSE disabled_reason END,
                 forced_down = coalesce($5, forced_down),
                 updated_at = to_timestamp($6)
WHERE id = $1)sql"};

constexpr Statement kListUnmanaged{"unmanaged_list", R"sql(
SELECT h.name, u.host_id, u.domain_uuid::text, u.name, u.vcpus, u.memory_mb, u.disk_gb,
       u.power_state, extract(epoch from u.first_seen_at)::float8,
       extract(epoch from greatest(u.last_seen_at, h.last_heartbeat_at))::float8, u.disks::text
FROM unmanaged_domains u JOIN hosts h ON h.id = u.host_id
WHERE ($1::uuid IS NULL OR u.domain_uuid = $1)
ORDER BY h.name, u.name)sql"};

constexpr Statement kDeleteUnmanaged{
    "unmanaged_delete",
    "DELETE FROM unmanaged_domains WHERE host_id = $1 AND domain_uuid = $2::uuid"};

Host HostFromRow(const pqxx::row& r) {
  Host h;
  h.id = r[0].as<int64_t>();
  h.service_uuid = r[1].as<std::string>();
  h.node_uuid = r[2].as<std::string>();
  h.name = r[3].as<std::string>();
  h.cell = r[4].as<std::string>();
  h.hypervisor_type = r[5].as<std::string>();
  h.hypervisor_version = r[6].as<int64_t>();
  h.simulated = r[7].as<bool>();
  h.host_ip = r[8].as<std::string>();
  h.migration_address = r[9].as<std::string>();
  h.agent_url = r[10].as<std::string>();
  h.state = r[11].as<std::string>();
  h.last_heartbeat_at = OptTime(r[12]);
  h.disabled = r[13].as<bool>();
  h.disabled_reason = OptString(r[14]);
  h.forced_down = r[15].as<bool>();
  h.vcpus = r[16].as<int>();
  h.memory_mb = r[17].as<int64_t>();
  h.local_gb = r[18].as<int64_t>();
  h.cpu_allocation_ratio = r[19].as<double>();
  h.ram_allocation_ratio = r[20].as<double>();
  h.disk_allocation_ratio = r[21].as<double>();
  h.reserved_host_memory_mb = r[22].as<int64_t>();
  h.cpu_info = ToJson(r[23]);
  h.updated_at = ToTime(r[24]);
  h.availability_zone = r[25].as<std::string>();
  h.vcpus_used = r[26].as<int64_t>();
  h.memory_mb_used = r[27].as<int64_t>();
  h.local_gb_used = r[28].as<int64_t>();
  h.running_vms = r[29].as<int64_t>();
  return h;
}

}  // namespace

std::vector<Host> ListHosts(Tx& tx, const HostFilter& f) {
  std::vector<Host> out;
  for (const auto& r : tx.Exec(kListHosts, f.id, f.name, f.service_uuid, f.node_uuid,
                               f.name_pattern, std::string(kDefaultAvailabilityZone))) {
    out.push_back(HostFromRow(r));
  }
  return out;
}

std::optional<Host> FindHost(Tx& tx, const HostFilter& filter) {
  auto hosts = ListHosts(tx, filter);
  if (hosts.empty()) return std::nullopt;
  return hosts.front();
}

std::optional<Host> FindHostNamed(Tx& tx, const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  HostFilter f;
  f.name = *name;
  return FindHost(tx, f);
}

Host RegisterHost(Tx& tx, const HostRegistration& reg, TimePoint now) {
  auto id = tx.Exec(kUpsertHost, NewUuid(), NewUuid(), reg.name, reg.cell, reg.hypervisor_type,
                    reg.hypervisor_version, reg.simulated, reg.host_ip, reg.migration_address,
                    reg.agent_url, EpochSeconds(now), reg.vcpus, reg.memory_mb, reg.local_gb,
                    reg.cpu_info.dump())[0][0]
                .as<int64_t>();
  tx.Exec(kClearHostDatastores, id);
  for (const auto& ds : reg.datastores) {
    auto ds_id =
        tx.Exec(kUpsertDatastore, ds.name, ds.kind, ds.capacity_gb, ds.free_gb)[0][0].as<int64_t>();
    tx.Exec(kLinkHostDatastore, id, ds_id);
  }
  HostFilter by_id;
  by_id.id = id;
  return *FindHost(tx, by_id);
}

std::optional<HeartbeatOutcome> RecordHeartbeat(Tx& tx, const std::string& name) {
  auto r = tx.Exec(kHeartbeat, name);
  if (r.empty()) return std::nullopt;
  return HeartbeatOutcome{r[0][0].as<int64_t>(), r[0][1].as<bool>()};
}

std::vector<std::string> MarkSilentHostsDown(Tx& tx, std::chrono::seconds silence, TimePoint now) {
  std::vector<std::string> names;
  for (const auto& r :
       tx.Exec(kMarkDown, static_cast<double>(silence.count()), EpochSeconds(now))) {
    names.push_back(r[0].as<std::string>());
  }
  return names;
}

void UpdateService(Tx& tx, int64_t host_id, const ServiceUpdate& u, TimePoint now) {
  std::optional<std::string> reason;
  if (u.disabled_reason) reason = *u.disabled_reason;
  tx.Exec(kUpdateService, host_id, u.disabled, u.disabled_reason.has_value(), reason, u.forced_down,
          EpochSeconds(now));
}

std::vector<UnmanagedDomain> ListUnmanaged(Tx& tx, const std::optional<std::string>& uuid) {
  std::vector<UnmanagedDomain> out;
  for (const auto& r : tx.Exec(kListUnmanaged, uuid)) {
    UnmanagedDomain d;
    d.host = r[0].as<std::string>();
    d.host_id = r[1].as<int64_t>();
    d.uuid = r[2].as<std::string>();
    d.name = r[3].as<std::string>();
    d.vcpus = r[4].as<int>();
    d.memory_mb = r[5].as<int64_t>();
    d.disk_gb = r[6].as<int64_t>();
    d.power_state = r[7].as<int>();
    d.first_seen_at = ToTime(r[8]);
    d.last_seen_at = ToTime(r[9]);
    d.disks = ToJson(r[10]);
    out.push_back(d);
  }
  return out;
}

std::vector<UnmanagedDomain> ListUnmanagedDomains(Tx& tx) {
  return ListUnmanaged(tx, std::nullopt);
}

std::optional<UnmanagedDomain> FindUnmanagedDomain(Tx& tx, const std::string& uuid) {
  auto all = ListUnmanaged(tx, uuid);
  if (all.empty()) return std::nullopt;
  return all.front();
}

void DeleteUnmanagedDomain(Tx& tx, int64_t host_id, const std::string& uuid) {
  tx.Exec(kDeleteUnmanaged, host_id, uuid);
}

}  // namespace ferry::controller::store
