#include "controller/store/inventory_store.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// $1 host, $2 the inventory [{uuid, name, vcpus, memory_mb, disk_gb, power_state, disks}],
// $3 now. Forgets what is no longer reported and upserts the rest in one statement (the two
// touch disjoint rows). A row is rewritten only when its content changed: an unchanged
// inventory costs no heap or WAL churn. last_seen_at is therefore the time of the last change;
// the listing shows the host's last heartbeat, which is when the domain was last reported.
// A deleted server whose domain waits to be reaped (domains_to_reap) is not unmanaged: it is
// about to go, and its claims still count it.
constexpr Statement kSyncUnmanaged{"unmanaged_sync", R"sql(
WITH reported AS (
  SELECT DISTINCT ON (d.uuid) d.uuid, d.name, d.vcpus, d.memory_mb, d.disk_gb, d.power_state,
         coalesce(d.disks, '[]'::jsonb) AS disks
  FROM jsonb_to_recordset($2::jsonb) AS d(uuid uuid, name text, vcpus integer, memory_mb bigint,
                                           disk_gb bigint, power_state integer, disks jsonb)
  WHERE NOT EXISTS (SELECT 1 FROM servers s WHERE s.uuid = d.uuid)
    AND NOT EXISTS (SELECT 1 FROM domains_to_reap x WHERE x.server_uuid = d.uuid)),
forgotten AS (
  DELETE FROM unmanaged_domains u
  WHERE u.host_id = $1
    AND u.domain_uuid NOT IN (SELECT (e->>'uuid')::uuid FROM jsonb_array_elements($2::jsonb) e))
INSERT INTO unmanaged_domains AS u (host_id, domain_uuid, name, vcpus, memory_mb, disk_gb,
                                    power_state, first_seen_at, last_seen_at, disks)
SELECT $1, r.uuid, r.name, r.vcpus, r.memory_mb, r.disk_gb, r.power_state, to_timestamp($3),
       to_timestamp($3), r.disks
FROM reported r
ON CONFLICT (host_id, domain_uuid) DO UPDATE SET
    name = EXCLUDED.name, vcpus = EXCLUDED.vcpus, memory_mb = EXCLUDED.memory_mb,
    disk_gb = EXCLUDED.disk_gb, power_state = EXCLUDED.power_state,
    last_seen_at = EXCLUDED.last_seen_at, disks = EXCLUDED.disks
WHERE (u.name, u.vcpus, u.memory_mb, u.disk_gb, u.power_state, u.disks)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.vcpus, EXCLUDED.memory_mb, EXCLUDED.disk_gb,
                        EXCLUDED.power_state, EXCLUDED.disks)
RETURNING u.domain_uuid::text, (xmax = 0) AS inserted)sql"};

// $1 host, $2 inventory [{uuid, power_state}], $3 now, $4 settle seconds. Moves that involve this
// host and have not ended (or ended within the settle time) exempt their server: a live
// migration's guest exists on source and destination until cleanup.
constexpr Statement kSyncMisplaced{"misplaced_sync", R"sql(
WITH reported AS (
  SELECT DISTINCT ON (d.uuid) d.uuid, d.power_state
  FROM jsonb_to_recordset($2::jsonb) AS d(uuid uuid, power_state integer)),
me AS (SELECT name FROM hosts WHERE id = $1),
moving AS (
  SELECT m.instance_uuid FROM migrations m, me
  WHERE (m.source_compute = me.name OR m.dest_compute = me.name)
    AND (m.status IN (SELECT status FROM migration_statuses WHERE NOT is_terminal)
         OR coalesce(m.updated_at, m.created_at) > to_timestamp($3) - make_interval(secs => $4))),
current AS (
  SELECT s.uuid, 'elsewhere' AS kind, r.power_state
  FROM reported r JOIN servers s ON s.uuid = r.uuid
  WHERE s.host_id IS DISTINCT FROM $1 AND (s.host_id IS NOT NULL OR s.task_state IS NULL)
    AND s.uuid NOT IN (SELECT instance_uuid FROM moving)
  UNION ALL
  SELECT s.uuid, 'missing', 0
  FROM servers s
  WHERE s.host_id = $1 AND s.task_state IS NULL
    AND s.vm_state NOT IN ('building', 'error', 'deleted', 'soft-delete', 'shelved_offloaded')
    AND s.updated_at < to_timestamp($3) - make_interval(secs => $4)
    AND s.uuid NOT IN (SELECT uuid FROM reported)
    AND s.uuid NOT IN (SELECT instance_uuid FROM moving)),
forgotten AS (
  DELETE FROM misplaced_domains x
  WHERE x.host_id = $1 AND x.server_uuid NOT IN (SELECT uuid FROM current)),
flagged AS (
  INSERT INTO misplaced_domains AS x (host_id, server_uuid, kind, power_state, first_seen_at,
                                      last_seen_at)
  SELECT $1, c.uuid, c.kind, c.power_state, to_timestamp($3), to_timestamp($3) FROM current c
  ON CONFLICT (host_id, server_uuid) DO UPDATE SET
      kind = EXCLUDED.kind, power_state = EXCLUDED.power_state, last_seen_at = EXCLUDED.last_seen_at
  WHERE (x.kind, x.power_state) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.power_state)
  RETURNING x.server_uuid, x.kind, x.power_state, (xmax = 0) AS inserted),
fresh AS (
  SELECT f.server_uuid, f.kind, f.power_state, s.project_id, rh.name AS recorded_host,
         me.name AS host
  FROM flagged f JOIN servers s ON s.uuid = f.server_uuid LEFT JOIN hosts rh ON rh.id = s.host_id,
       me
  WHERE f.inserted),
observed AS (
  INSERT INTO server_observations (instance_uuid, request_id, action, event, result, host,
                                   details, project_id, at)
  SELECT server_uuid, 'req-' || gen_random_uuid(),
         CASE kind WHEN 'elsewhere' THEN 'ferry-running-elsewhere' ELSE 'ferry-domain-missing' END,
         'ferry_inventory_check', 'Error', host,
         CASE kind
           WHEN 'elsewhere' THEN 'host ' || host || ' reports this server (power_state ' ||
                                 power_state || ') while it is recorded on ' ||
                                 coalesce(recorded_host, 'no host') || '; nothing was changed'
           ELSE 'its host ' || host || ' no longer reports it; nothing was changed' END,
         project_id, to_timestamp($3)
  FROM fresh)
SELECT server_uuid::text, kind, power_state, recorded_host FROM fresh)sql"};

// $1 host, $2 inventory [{uuid, power_state}], $3 now, $4 settle seconds. Power states: Nova's
// (4 SHUTDOWN, 6 CRASHED, 1 RUNNING).
constexpr Statement kSyncPowerStates{"servers_sync_power_states", R"sql(
WITH reported AS (
  SELECT DISTINCT ON (d.uuid) d.uuid, d.power_state
  FROM jsonb_to_recordset($2::jsonb) AS d(uuid uuid, power_state integer)),
me AS (SELECT name FROM hosts WHERE id = $1),
moving AS (
  SELECT m.instance_uuid FROM migrations m, me
  WHERE (m.source_compute = me.name OR m.dest_compute = me.name)
    AND (m.status IN (SELECT status FROM migration_statuses WHERE NOT is_terminal)
         OR coalesce(m.updated_at, m.created_at) > to_timestamp($3) - make_interval(secs => $4))),
differs AS (
  SELECT s.id, s.vm_state, s.power_state AS old_power, coalesce(r.power_state, 0) AS new_power
  FROM servers s LEFT JOIN reported r ON r.uuid = s.uuid
  WHERE s.host_id = $1 AND s.task_state IS NULL
    AND s.vm_state NOT IN ('building', 'deleted', 'soft-delete', 'shelved_offloaded')
    AND s.updated_at < to_timestamp($3) - make_interval(secs => $4)
    AND s.uuid NOT IN (SELECT instance_uuid FROM moving)
    AND s.power_state IS DISTINCT FROM coalesce(r.power_state, 0)),
updated AS (
  UPDATE servers s SET
      power_state = d.new_power,
      vm_state = CASE WHEN d.vm_state = 'active' AND d.new_power IN (4, 6) THEN 'stopped'
                      WHEN d.vm_state = 'stopped' AND d.new_power = 1 THEN 'active'
                      ELSE s.vm_state END,
      updated_at = to_timestamp($3)
  FROM differs d WHERE s.id = d.id
  RETURNING s.uuid, d.old_power, d.new_power, d.vm_state AS old_vm_state, s.vm_state AS new_vm_state,
            s.project_id),
observed AS (
  INSERT INTO server_observations (instance_uuid, request_id, action, event, result, host,
                                   details, project_id, at)
  SELECT u.uuid, 'req-' || gen_random_uuid(),
         CASE u.new_vm_state WHEN 'stopped' THEN 'stop' ELSE 'start' END,
         'ferry_sync_power_state', 'Success', me.name,
         'the hypervisor reports power_state ' || u.new_power || ' (was ' || u.old_power ||
         '): vm_state ' || u.old_vm_state || ' -> ' || u.new_vm_state ||
         '; nothing was done on the host',
         u.project_id, to_timestamp($3)
  FROM updated u, me
  WHERE u.old_vm_state <> u.new_vm_state)
SELECT uuid::text, old_power, new_power, old_vm_state, new_vm_state FROM updated)sql"};

// last_seen_at: the row is rewritten only on change, and exists only while its host reports the
// discrepancy, so the host's last heartbeat is when it was last seen.
constexpr Statement kListMisplaced{"misplaced_list", R"sql(
SELECT x.server_uuid::text, x.kind, h.name, rh.name, x.power_state,
       extract(epoch from x.first_seen_at)::float8,
       extract(epoch from greatest(x.last_seen_at, h.last_heartbeat_at))::float8
FROM misplaced_domains x JOIN hosts h ON h.id = x.host_id
LEFT JOIN servers s ON s.uuid = x.server_uuid LEFT JOIN hosts rh ON rh.id = s.host_id
ORDER BY x.server_uuid, h.name)sql"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// $1 host, $2 inventory [{uuid, disks}]: a server's disks as its own host reports them, written
// only when they changed (an evacuation's destination is given them: the source cannot be asked).
constexpr Statement kSyncReportedDisks{"servers_sync_reported_disks", R"sql(
UPDATE servers s SET reported_disks = d.disks
FROM (SELECT DISTINCT ON (d.uuid) d.uuid, d.disks
      FROM jsonb_to_recordset($2::jsonb) AS d(uuid uuid, disks jsonb)) d
WHERE s.uuid = d.uuid AND s.host_id = $1 AND s.reported_disks IS DISTINCT FROM d.disks)sql"};

// $1 host name: per server on it whose host reported its disks, the virtual size of its local
// ones (what a block migration or a cold move copies).
constexpr Statement kLocalDiskBytes{"servers_local_disk_bytes", R"sql(
SELECT s.uuid::text,
       -- numeric, clamped at 2^62: an agent's sizes are its word, not a reason to fail a plan
       least(coalesce((SELECT sum(greatest(coalesce((d->>'capacity_bytes')::numeric, 0), 0))
                       FROM jsonb_array_elements(s.reported_disks) d
                       WHERE d->>'kind' = 'local' AND jsonb_typeof(d->'capacity_bytes') = 'number'),
                      0), 4611686018427387904)::bigint
FROM servers s JOIN hosts h ON h.id = s.host_id
WHERE h.name = $1 AND jsonb_typeof(s.reported_disks) = 'array'
  AND jsonb_array_length(s.reported_disks) > 0)sql"};

nlohmann::json InventoryJson(const std::vector<ReportedDomain>& domains, bool full) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : domains) {
    nlohmann::json o = {{"uuid", d.uuid}, {"power_state", d.power_state}};
    if (full) {
      o["name"] = d.name;
      o["vcpus"] = d.vcpus;
      o["memory_mb"] = d.memory_mb;
      o["disk_gb"] = d.disk_gb;
      o["disks"] = d.disks;
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::vector<std::string> SyncUnmanagedDomains(Tx& tx, int64_t host_id,
                                              const std::vector<ReportedDomain>& domains,
                                              TimePoint now) {
  // The database answers in lower case; callers log the uuid as the agent spelled it.
  std::map<std::string, std::string> as_reported;
  for (const auto& d : domains) as_reported[Lower(d.uuid)] = d.uuid;
  std::vector<std::string> fresh;
  for (const auto& r :
       tx.Exec(kSyncUnmanaged, host_id, InventoryJson(domains, true).dump(), EpochSeconds(now))) {
    if (r[1].as<bool>()) fresh.push_back(as_reported[r[0].as<std::string>()]);
  }
  return fresh;
}

std::vector<MisplacedFlag> SyncMisplacedDomains(Tx& tx, int64_t host_id,
                                                const std::vector<ReportedDomain>& domains,
                                                TimePoint now, std::chrono::seconds settle) {
  std::vector<MisplacedFlag> out;
  for (const auto& r : tx.Exec(kSyncMisplaced, host_id, InventoryJson(domains, false).dump(),
                               EpochSeconds(now), static_cast<double>(settle.count()))) {
    out.push_back(
        {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int>(), OptString(r[3])});
  }
  return out;
}

std::vector<PowerStateChange> SyncPowerStates(Tx& tx, int64_t host_id,
                                              const std::vector<ReportedDomain>& domains,
                                              TimePoint now, std::chrono::seconds settle) {
  std::vector<PowerStateChange> out;
  for (const auto& r : tx.Exec(kSyncPowerStates, host_id, InventoryJson(domains, false).dump(),
                               EpochSeconds(now), static_cast<double>(settle.count()))) {
    out.push_back({r[0].as<std::string>(), r[1].as<int>(), r[2].as<int>(), r[3].as<std::string>(),
                   r[4].as<std::string>()});
  }
  return out;
}

void SyncReportedDisks(Tx& tx, int64_t host_id, const std::vector<ReportedDomain>& domains) {
  nlohmann::json inventory = nlohmann::json::array();
  for (const auto& d : domains) inventory.push_back({{"uuid", d.uuid}, {"disks", d.disks}});
  tx.Exec(kSyncReportedDisks, host_id, inventory.dump());
}

std::map<std::string, int64_t> ReportedLocalDiskBytes(Tx& tx, const std::string& host) {
  std::map<std::string, int64_t> out;
  for (const auto& r : tx.Exec(kLocalDiskBytes, host)) {
    out[r[0].as<std::string>()] = r[1].as<int64_t>();
  }
  return out;
}

std::vector<MisplacedDomain> ListMisplacedDomains(Tx& tx) {
  std::vector<MisplacedDomain> out;
  for (const auto& r : tx.Exec(kListMisplaced)) {
    MisplacedDomain d;
    d.server_uuid = r[0].as<std::string>();
    d.kind = r[1].as<std::string>();
    d.host = r[2].as<std::string>();
    d.recorded_host = OptString(r[3]);
    d.power_state = r[4].as<int>();
    d.first_seen_at = ToTime(r[5]);
    d.last_seen_at = ToTime(r[6]);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace ferry::controller::store
