#include "controller/store/instance_actions_store.hpp"

#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// One row per migration of the instance that has events; the first event is the request, the
// last one dates the action. Served by migrations_instance_idx and migration_events_migration_idx.
// A migration whose first event carries no request id (one the controller started itself) is
// addressed as "req-<migration uuid>": Nova's request_id is a required string. The controller's
// own observations (server_observations: one action of one event each) follow, with their id
// negated so that one id names either kind (ListInstanceActionEvents). kFindAction reads the
// same actions.

// $4 (a request id) pages after that action; the API checks it exists first.
constexpr Statement kListActions{"instance_actions_list", R"sql(
WITH actions AS (
  SELECT m.id, m.instance_uuid::text AS instance_uuid, m.migration_type, m.status,
         COALESCE(first.request_id, 'req-' || m.uuid::text) AS request_id,
         COALESCE(first.actor, m.user_id) AS user_id, m.project_id,
         m.source_compute, m.dest_compute, first.at AS start_at, last.at AS updated_at
  FROM migrations m
  JOIN LATERAL (SELECT e.request_id, e.actor, e.at FROM migration_events e
                WHERE e.migration_id = m.id ORDER BY e.id LIMIT 1) first ON true
  JOIN LATERAL (SELECT e.at FROM migration_events e
                WHERE e.migration_id = m.id ORDER BY e.id DESC LIMIT 1) last ON true
  WHERE m.instance_uuid = $1::uuid
  UNION ALL
  SELECT -o.id, o.instance_uuid::text, o.action,
         CASE o.result WHEN 'Error' THEN 'error' ELSE 'completed' END, o.request_id, o.user_id,
         o.project_id, o.host, NULL, o.at, o.at
  FROM server_observations o
  WHERE o.instance_uuid = $1::uuid)
SELECT id, instance_uuid, migration_type, status, request_id, user_id, project_id,
       source_compute, dest_compute, extract(epoch from start_at)::float8,
       extract(epoch from updated_at)::float8
FROM actions
WHERE ($2::float8 IS NULL OR updated_at >= to_timestamp($2))
  AND ($3::float8 IS NULL OR updated_at <= to_timestamp($3))
  AND ($4::text IS NULL OR (start_at, id) <
       (SELECT start_at, id FROM actions WHERE request_id = $4 ORDER BY start_at DESC, id DESC
        LIMIT 1))
ORDER BY start_at DESC, id DESC
LIMIT $5)sql"};

constexpr Statement kFindAction{"instance_actions_find", R"sql(
WITH actions AS (
  SELECT m.id, m.instance_uuid::text AS instance_uuid, m.migration_type, m.status,
         COALESCE(first.request_id, 'req-' || m.uuid::text) AS request_id,
         COALESCE(first.actor, m.user_id) AS user_id, m.project_id,
         m.source_compute, m.dest_compute, first.at AS start_at, last.at AS updated_at
  FROM migrations m
  JOIN LATERAL (SELECT e.request_id, e.actor, e.at FROM migration_events e
                WHERE e.migration_id = m.id ORDER BY e.id LIMIT 1) first ON true
  JOIN LATERAL (SELECT e.at FROM migration_events e
                WHERE e.migration_id = m.id ORDER BY e.id DESC LIMIT 1) last ON true
  WHERE m.instance_uuid = $1::uuid
  UNION ALL
  SELECT -o.id, o.instance_uuid::text, o.action,
         CASE o.result WHEN 'Error' THEN 'error' ELSE 'completed' END, o.request_id, o.user_id,
         o.project_id, o.host, NULL, o.at, o.at
  FROM server_observations o
  WHERE o.instance_uuid = $1::uuid)
SELECT id, instance_uuid, migration_type, status, request_id, user_id, project_id,
       source_compute, dest_compute, extract(epoch from start_at)::float8,
       extract(epoch from updated_at)::float8
FROM actions
WHERE request_id = $2
ORDER BY start_at DESC, id DESC
LIMIT 1)sql"};

constexpr Statement kListEvents{"instance_action_events_list", R"sql(
SELECT event, from_status, to_status, reason, actor, extract(epoch from at)::float8
FROM migration_events WHERE migration_id = $1
ORDER BY id DESC)sql"};

// An observation's single event: it starts and finishes at once, actor = the host it concerns.
constexpr Statement kObservationEvent{"instance_action_observation_event", R"sql(
SELECT event, NULL, CASE result WHEN 'Error' THEN 'error' ELSE 'completed' END, details,
       coalesce(host, 'ferry'), extract(epoch from at)::float8
FROM server_observations WHERE id = $1)sql"};

// A deleted server's owner: from its newest migration, else from its recorded actions (create
// and delete name the project).
constexpr Statement kFindMigratedInstance{"instance_actions_migrated_instance", R"sql(
(SELECT project_id FROM migrations WHERE instance_uuid = $1::uuid
 ORDER BY created_at DESC, id DESC LIMIT 1)
UNION ALL
(SELECT project_id FROM server_observations
 WHERE instance_uuid = $1::uuid AND project_id IS NOT NULL
 ORDER BY at DESC, id DESC LIMIT 1)
LIMIT 1)sql"};

InstanceAction ActionFromRow(const pqxx::row& r) {
  InstanceAction a;
  a.migration_id = r[0].as<int64_t>();
  a.instance_uuid = r[1].as<std::string>();
  a.migration_type = r[2].as<std::string>();
  a.status = r[3].as<std::string>();
  a.request_id = r[4].as<std::string>();
  a.user_id = OptString(r[5]);
  a.project_id = OptString(r[6]);
  a.source_compute = OptString(r[7]);
  a.dest_compute = OptString(r[8]);
  a.start_time = ToTime(r[9]);
  a.updated_at = ToTime(r[10]);
  return a;
}

}  // namespace

std::vector<InstanceAction> ListInstanceActions(Tx& tx, const InstanceActionFilter& f) {
  std::vector<InstanceAction> out;
  for (const auto& r : tx.Exec(kListActions, f.instance_uuid, OptEpoch(f.changes_since),
                               OptEpoch(f.changes_before), f.marker, f.limit)) {
    out.push_back(ActionFromRow(r));
  }
  return out;
}

std::optional<InstanceAction> FindInstanceAction(Tx& tx, const std::string& instance_uuid,
                                                 const std::string& request_id) {
  auto rows = tx.Exec(kFindAction, instance_uuid, request_id);
  if (rows.empty()) return std::nullopt;
  return ActionFromRow(rows[0]);
}

std::vector<InstanceActionEvent> ListInstanceActionEvents(Tx& tx, int64_t migration_id) {
  std::vector<InstanceActionEvent> out;
  auto rows = migration_id < 0 ? tx.Exec(kObservationEvent, -migration_id)
                               : tx.Exec(kListEvents, migration_id);
  for (const auto& r : rows) {
    InstanceActionEvent e;
    e.event = r[0].as<std::string>();
    e.from_status = OptString(r[1]);
    e.to_status = r[2].as<std::string>();
    e.reason = OptString(r[3]);
    e.actor = r[4].as<std::string>();
    e.at = ToTime(r[5]);
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<MigratedInstance> FindMigratedInstance(Tx& tx, const std::string& instance_uuid) {
  auto rows = tx.Exec(kFindMigratedInstance, instance_uuid);
  if (rows.empty()) return std::nullopt;
  return MigratedInstance{OptString(rows[0][0])};
}

}  // namespace ferry::controller::store
