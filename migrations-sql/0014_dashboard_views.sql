-- ferry 0014: what dashboards read, as a contract: seven views documented column by column in
-- schema/views.md (tests/pg/dashboard_views_contract_pgtest fails when they drift apart), and
-- the read-only role ferry_dashboard that may read them and nothing else. Immutable once landed.
--
-- Stability: a view's columns are only ever added; removing or renaming one, or changing its
-- meaning, is a view of a new name (the old one stays until a release notes its end). No view
-- shows a secret: not migrations.transfer_token, request_params, idempotency keys, lease tokens.

-- The fourth column of the one status seed: how a move that ended, ended. NULL while it has not.
-- The C++ mirror is controller/store/migration_status.hpp (migration_status_pgtest).
ALTER TABLE migration_statuses ADD COLUMN outcome text
    CHECK (outcome IN ('succeeded', 'reverted', 'failed', 'cancelled'));
UPDATE migration_statuses SET outcome = CASE status
    WHEN 'completed' THEN 'succeeded'
    WHEN 'confirmed' THEN 'succeeded'
    WHEN 'reverted'  THEN 'reverted'
    WHEN 'failed'    THEN 'failed'
    WHEN 'error'     THEN 'failed'
    WHEN 'cancelled' THEN 'cancelled' END;
ALTER TABLE migration_statuses ADD CONSTRAINT migration_statuses_outcome_terminal
    CHECK ((outcome IS NOT NULL) = is_terminal);

-- The views' status lists, read from the seed: migration_status_list('terminal') is every
-- status with is_terminal, likewise 'active' (not terminal), 'occupies_slot',
-- 'holds_resources', 'heads_to_destination'. IMMUTABLE (the seed changes only in a migration),
-- so that the planner folds the call into a constant array when it plans a query: a partial
-- index on a literal list (migrations_active_idx) serves it, and estimates come from the
-- column's statistics, where a join to migration_statuses would look like it keeps most of
-- the table. A session that cached a plan across a migration that changed the seed keeps the
-- old list until it plans again (controllers are restarted after an upgrade anyway).
-- SECURITY DEFINER with a fixed search_path: ferry_dashboard reads no table, the views do.
CREATE FUNCTION migration_status_list(flag text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
DECLARE
    out text[];
BEGIN
    IF flag NOT IN ('terminal', 'active', 'occupies_slot', 'holds_resources',
                    'heads_to_destination') THEN
        RAISE EXCEPTION 'migration_status_list: unknown flag %', flag;
    END IF;
    SELECT coalesce(array_agg(status ORDER BY status), '{}') INTO out
    FROM migration_statuses
    WHERE CASE flag WHEN 'terminal' THEN is_terminal
                    WHEN 'active' THEN NOT is_terminal
                    WHEN 'occupies_slot' THEN occupies_slot
                    WHEN 'holds_resources' THEN holds_resources
                    ELSE heads_to_destination END;
    RETURN out;
END;
$$;
-- Its search_path spelt out: this schema, then pg_catalog, then pg_temp, last, so that a
-- session's temporary table of the same name (anyone may create one, ferry_dashboard too)
-- can never stand in for the seed ("FROM CURRENT" alone leaves pg_temp searched first).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION migration_status_list(text) SET search_path = %I, pg_catalog, pg_temp',
                   current_schema());
END;
$$;

-- History pages are ordered by when a move ended: v_migration_history.finished_at is this
-- expression (a move that ended before finished_at was written shows its last update).
CREATE INDEX migrations_finished_idx ON migrations
    ((coalesce(finished_at, updated_at, created_at)) DESC, id DESC);
-- The event trail of a time range (a Grafana panel's $__timeFilter(at)).
CREATE INDEX migration_events_at_idx ON migration_events (at);
-- A host's moves that have not ended, from it and to it: one descent each for v_host_load
-- (migrations_source_idx would take one per status of the list, and the dest one walks the
-- host's whole history). Small: a row leaves them when its move ends.
CREATE INDEX migrations_active_source_idx ON migrations (source_compute)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');
CREATE INDEX migrations_active_dest_idx ON migrations (dest_compute)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');
-- The oldest unfinished moves first, a page at a time (the dashboard's live moves), without a
-- walk past every finished move.
CREATE INDEX migrations_active_created_idx ON migrations (created_at, id)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- 7. The event trail.
CREATE VIEW v_migration_events AS
SELECT e.id AS event_id, e.migration_id, m.uuid AS migration_uuid, m.migration_type AS kind,
       m.instance_uuid AS server_uuid, m.project_id, e.from_status, e.to_status, e.event,
       e.reason, e.actor, e.request_id, e.at
FROM migration_events e
JOIN migrations m ON m.id = e.migration_id;

-- 1. Moves that have not ended, every kind.
-- queue_position: the fair order of store::QueuePositions (controller/store/moves_store.cpp
-- kFairQueue and kServedSince), the same query: requesters (a drain, else a user) take turns;
-- "served" looks back to the oldest queued move, at most 15 minutes. The bound is spelt as two
-- conditions on updated_at so that the planner sees the 15 minutes (now() is folded for
-- estimates; a subquery's value is not) and reads recent history through
-- migrations_updated_idx. tests/pg/dashboard_views_pgtest compares its positions with
-- QueuePositions.
CREATE VIEW v_migrations_in_progress AS
SELECT m.id AS migration_id, m.uuid AS migration_uuid, m.migration_type AS kind,
       m.instance_uuid AS server_uuid, s.name AS server_name, m.project_id, m.user_id, m.status,
       coalesce(m.job_phase, m.step, m.phase) AS phase,
       m.source_compute AS source_host, m.dest_compute AS dest_host,
       CASE WHEN coalesce(m.memory_total, 0) + coalesce(m.disk_total, 0) > 0
            THEN greatest(0, least(100,
                 100.0 * (1 - (coalesce(m.memory_remaining, m.memory_total, 0)
                               + coalesce(m.disk_remaining, m.disk_total, 0))::float8
                              / (coalesce(m.memory_total, 0) + coalesce(m.disk_total, 0)))))
       END::float8 AS progress_percent,
       m.memory_total AS memory_total_bytes, m.memory_processed AS memory_processed_bytes,
       m.memory_remaining AS memory_remaining_bytes, m.disk_total AS disk_total_bytes,
       m.disk_processed AS disk_processed_bytes, m.disk_remaining AS disk_remaining_bytes,
       m.transfer_rate_bps, m.eta_seconds, q.queue_position, m.attempt, m.drain_uuid,
       m.created_at, m.started_at, m.updated_at, m.progress_at,
       extract(epoch FROM now() - m.created_at)::float8 AS age_seconds,
       m.lease_owner,
       (m.lease_owner IS NOT NULL AND (m.lease_until IS NULL OR m.lease_until < now()))
           AS lease_expired,
       m.step_failures, m.last_step_error,
       -- added beyond the contract's list
       m.step, m.job_phase, m.dirty_rate_bps, m.iteration, m.throttle_percent
FROM migrations m
LEFT JOIN servers s ON s.uuid = m.instance_uuid
LEFT JOIN (
    WITH queued AS (
      SELECT uuid, id, created_at, coalesce(drain_uuid::text, user_id, '') AS requester
      FROM migrations WHERE status = 'queued'),
    taken AS (
      SELECT coalesce(drain_uuid::text, user_id, '') AS requester, count(*) AS taken
      FROM migrations WHERE status = ANY (migration_status_list('occupies_slot')) GROUP BY 1),
    served AS (
      SELECT coalesce(m.drain_uuid::text, m.user_id, '') AS requester, max(e.id) AS last
      FROM migrations m JOIN migration_events e ON e.migration_id = m.id
      WHERE m.updated_at >= now() - interval '15 minutes'
        AND m.updated_at >= coalesce(
              (SELECT min(created_at) FROM migrations WHERE status = 'queued'), '-infinity')
        AND e.from_status = 'queued'
        AND e.to_status = ANY (migration_status_list('occupies_slot'))
      GROUP BY 1)
    SELECT q.uuid AS migration_uuid,
           (row_number() OVER (ORDER BY q.turn + coalesce(t.taken, 0), s.last NULLS FIRST,
                                        q.created_at, q.id))::integer AS queue_position
    FROM (SELECT queued.*,
                 row_number() OVER (PARTITION BY requester ORDER BY created_at, id) AS turn
          FROM queued) q
    LEFT JOIN taken t USING (requester)
    LEFT JOIN served s USING (requester)
) q ON q.migration_uuid = m.uuid
WHERE m.status = ANY (migration_status_list('active'));

-- 2. Moves that ended.
CREATE VIEW v_migration_history AS
SELECT m.id AS migration_id, m.uuid AS migration_uuid, m.migration_type AS kind,
       m.instance_uuid AS server_uuid, s.name AS server_name, m.project_id, m.user_id, m.status,
       st.outcome, coalesce(m.error_reason, m.abort_reason, m.confirm_reason) AS reason,
       m.source_compute AS source_host, m.dest_compute AS dest_host,
       m.created_at, m.started_at,
       coalesce(m.finished_at, m.updated_at, m.created_at) AS finished_at,
       extract(epoch FROM m.started_at - m.created_at)::float8 AS queued_seconds,
       extract(epoch FROM coalesce(m.finished_at, m.updated_at, m.created_at)
                          - coalesce(m.started_at, m.created_at))::float8 AS duration_seconds,
       m.memory_total AS memory_total_bytes, m.disk_total AS disk_total_bytes,
       coalesce(m.memory_processed, 0) + coalesce(m.disk_processed, 0) AS bytes_moved,
       m.downtime_ms, m.attempt, m.drain_uuid
FROM migrations m
JOIN migration_statuses st ON st.status = m.status
LEFT JOIN servers s ON s.uuid = m.instance_uuid
WHERE m.status = ANY (migration_status_list('terminal'));

-- 3. Per host: state, capacity, what is claimed, moves from and to it.
CREATE VIEW v_host_load AS
SELECT h.id AS host_id, h.name AS host, h.hypervisor_type, h.cell, h.state,
       (h.state = 'up' AND NOT h.forced_down) AS is_up, h.forced_down, h.disabled,
       h.disabled_reason, h.last_heartbeat_at,
       extract(epoch FROM now() - h.last_heartbeat_at)::float8 AS heartbeat_age_seconds,
       (SELECT count(*) FROM servers s WHERE s.host_id = h.id AND s.vm_state <> 'deleted')::integer
           AS servers,
       h.vcpus::bigint AS vcpus, c.vcpus_used, h.memory_mb, c.memory_mb_used,
       h.local_gb, c.disk_gb_used,
       mv.outbound_moves, mv.inbound_moves, mv.queued_outbound,
       (SELECT d.uuid FROM drains d
        WHERE d.host = h.name AND d.status IN ('running', 'paused', 'cancelling')) AS drain_uuid,
       -- added beyond the contract's list
       h.cpu_allocation_ratio, h.ram_allocation_ratio, h.disk_allocation_ratio,
       h.reserved_host_memory_mb
FROM hosts h
-- Per host (LATERAL), never an aggregate over every claim or move: a page of hosts or one
-- host costs what those hosts hold, whatever the size of the cloud. LEFT JOIN ... ON true (an
-- aggregate always gives its one row): a query that reads none of their columns skips them.
LEFT JOIN LATERAL (
    SELECT coalesce(sum(amount) FILTER (WHERE resource = 'VCPU'), 0)::bigint AS vcpus_used,
           coalesce(sum(amount) FILTER (WHERE resource = 'MEMORY_MB'), 0)::bigint
               AS memory_mb_used,
           coalesce(sum(amount) FILTER (WHERE resource = 'DISK_GB'), 0)::bigint AS disk_gb_used
    FROM claims WHERE claims.host_id = h.id) c ON true
-- One pass over the host's unfinished moves, from it and to it. An evacuation takes no
-- outbound slot: its source is down and sends nothing.
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.outbound)::integer AS outbound_moves,
           count(*) FILTER (WHERE x.inbound)::integer AS inbound_moves,
           count(*) FILTER (WHERE x.queued)::integer AS queued_outbound
    FROM (SELECT m.migration_type <> 'evacuation'
                     AND m.status = ANY (migration_status_list('occupies_slot')) AS outbound,
                 false AS inbound, m.status = 'queued' AS queued
          FROM migrations m
          WHERE m.source_compute = h.name AND m.status = ANY (migration_status_list('active'))
          UNION ALL
          SELECT false, m.status = ANY (migration_status_list('occupies_slot')), false
          FROM migrations m
          WHERE m.dest_compute = h.name
            AND m.status = ANY (migration_status_list('active'))) x) mv ON true;

-- 4. Per drain: its counts, progress and ETA (as GET /os-drains/{id} computes them).
CREATE VIEW v_host_drain_status AS
SELECT d.id AS drain_id, d.uuid AS drain_uuid, d.host, d.mode, d.status, d.max_parallel,
       d.target_hosts, d.deadline, d.created_at, d.updated_at, d.finished_at, d.user_id,
       d.project_id,
       coalesce(n.total, 0) AS servers_total, coalesce(n.pending, 0) AS servers_pending,
       coalesce(n.moving, 0) AS servers_moving, coalesce(n.moved, 0) AS servers_moved,
       coalesce(n.failed, 0) AS servers_failed, coalesce(n.skipped, 0) AS servers_skipped,
       coalesce(n.cancelled, 0) AS servers_cancelled,
       CASE WHEN coalesce(n.total, 0) = 0 THEN 100.0
            ELSE 100.0 * (n.total - n.pending - n.moving) / n.total END::float8
           AS progress_percent,
       CASE WHEN d.status = 'running' AND n.pending + n.moving > 0
            THEN ceil(n.seconds_left / greatest(1, least(
                     coalesce((d.plan->>'lanes')::integer, d.max_parallel),
                     n.pending + n.moving)))
       END::float8 AS eta_seconds,
       coalesce(n.remaining, '{}') AS remaining_servers,
       -- added beyond the contract's list
       coalesce(n.bytes_total, 0) AS bytes_total, coalesce(n.bytes_moved, 0) AS bytes_moved
FROM drains d
LEFT JOIN LATERAL (
  SELECT count(*)::integer AS total,
         count(*) FILTER (WHERE ds.state = 'pending')::integer AS pending,
         count(*) FILTER (WHERE ds.state IN ('starting', 'moving'))::integer AS moving,
         count(*) FILTER (WHERE ds.state = 'moved')::integer AS moved,
         count(*) FILTER (WHERE ds.state = 'failed')::integer AS failed,
         count(*) FILTER (WHERE ds.state = 'skipped')::integer AS skipped,
         count(*) FILTER (WHERE ds.state = 'cancelled')::integer AS cancelled,
         coalesce(sum(ds.predicted_seconds)
                  FILTER (WHERE ds.state IN ('pending', 'starting', 'moving')), 0) AS seconds_left,
         array_agg(ds.name ORDER BY ds.position)
             FILTER (WHERE ds.state IN ('pending', 'starting', 'moving')) AS remaining,
         sum(ds.bytes)::bigint AS bytes_total,
         coalesce(sum(ds.bytes) FILTER (WHERE ds.state = 'moved'), 0)::bigint AS bytes_moved
  FROM drain_servers ds WHERE ds.drain_id = d.id) n ON true;

-- 5. Every server of every drain's plan.
CREATE VIEW v_drain_servers AS
SELECT d.uuid AS drain_uuid, ds.position, ds.server_uuid, ds.name AS server_name, ds.kind,
       ds.planned_dest, ds.dest, ds.state, ds.bytes, ds.predicted_seconds, ds.migration_uuid,
       ds.attempts, ds.reason, ds.started_at, ds.finished_at, s.project_id,
       -- added beyond the contract's list
       d.host AS drain_host
FROM drain_servers ds
JOIN drains d ON d.id = ds.drain_id
LEFT JOIN servers s ON s.uuid = ds.server_uuid;

-- 6. Claims nothing should hold any more: a move's claims (its consumer is the move) once the
-- move holds no resources by its status, a server's claims on a host it is not on and no
-- unfinished move of it goes from or to (during a move the server's own uuid holds the
-- destination), a deleted server's, and claims of a consumer that is neither. A server's claims
-- on its own host (nearly all of them) are set aside first by an anti-join; only the rest is
-- looked up among the moves, one index probe each.
CREATE VIEW v_orphaned_claims AS
SELECT consumer_uuid, host_id, host, resource, amount, created_at, consumer_kind,
       consumer_status, reason
FROM (
  SELECT c.consumer_uuid, c.host_id, h.name AS host, c.resource, c.amount, c.created_at,
         CASE WHEN mv.status IS NOT NULL THEN 'migration'
              WHEN s.uuid IS NOT NULL THEN 'server' ELSE 'unknown' END AS consumer_kind,
         coalesce(mv.status, s.vm_state) AS consumer_status,
         CASE
           WHEN mv.status IS NOT NULL THEN
             CASE WHEN NOT (mv.status = ANY (migration_status_list('holds_resources')))
                  THEN 'the move ended (' || mv.status || ')' END
           WHEN s.uuid IS NULL THEN 'no server or move has this uuid'
           WHEN s.vm_state = 'deleted' THEN 'the server is deleted'
           WHEN NOT EXISTS (
                  SELECT 1 FROM migrations m2
                  WHERE m2.instance_uuid = s.uuid
                    AND m2.status = ANY (migration_status_list('holds_resources'))
                    AND h.name IN (m2.source_compute, m2.dest_compute))
             THEN 'the server is on another host'
         END AS reason
  FROM claims c
  JOIN hosts h ON h.id = c.host_id
  LEFT JOIN servers s ON s.uuid = c.consumer_uuid
  LEFT JOIN LATERAL (SELECT m.status FROM migrations m WHERE m.uuid = c.consumer_uuid) mv
      ON s.uuid IS NULL
  WHERE NOT EXISTS (SELECT 1 FROM servers own
                    WHERE own.uuid = c.consumer_uuid AND own.host_id = c.host_id
                      AND own.vm_state <> 'deleted')
) o
WHERE reason IS NOT NULL;

-- The read-only role. Roles are cluster-wide: another database (or another schema's upgrade
-- running at the same moment) may have created it; either is fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ferry_dashboard') THEN
        BEGIN
            CREATE ROLE ferry_dashboard NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created concurrently
        WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the role ferry_dashboard does not exist and % may not create it',
                current_user
                USING HINT = 'As a superuser: CREATE ROLE ferry_dashboard NOLOGIN; then run '
                             '`ferry-controller db upgrade` again.';
        END;
    END IF;
    -- The schema the migrations run in (public in production; tests use one per test).
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ferry_dashboard', current_schema());
END
$$;
GRANT SELECT ON v_migrations_in_progress, v_migration_history, v_host_load, v_host_drain_status,
    v_drain_servers, v_orphaned_claims, v_migration_events TO ferry_dashboard;
