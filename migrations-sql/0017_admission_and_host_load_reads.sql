-- ferry 0017: reads that grew with the cloud instead of with what they show. Measured at 1,250
-- hosts, 20,000 servers, 90,000 claims and 10,000 moves in flight (tests/bench/api_latency_bench).
-- Immutable once landed.
--
-- 1. A host's sums from indexes alone. v_host_load (a page of hosts, one host), the scheduler's
-- host load and a claim's capacity check sum each host's claims and count its servers and its
-- unfinished moves; each read every row's heap version (72 claims, 16 servers and 16 moves a
-- host: 6.7 ms a page of 100 hosts). With the summed columns in the index a page reads index
-- pages only (5.2 ms), as far as VACUUM has marked the table's pages all-visible. Each index is
-- rebuilt wider and keeps its name, none is added. vm_state joins an index, so changing it is
-- no longer a HOT update (it changes a few times in a server's life); status already is in the
-- two partial indexes' predicate.
--
-- Each wider index is built under a new name first (a build blocks writes, not reads), and the
-- old ones dropped and the new renamed at the end: a DROP INDEX locks its table against reads
-- too, until the commit. lock_timeout: behind a long dashboard query the upgrade fails (and is
-- run again) rather than queue every read of those tables behind its wait.
SET LOCAL lock_timeout = '10s';
CREATE INDEX claims_host_idx_0017 ON claims (host_id, resource) INCLUDE (amount);
CREATE INDEX servers_host_idx_0017 ON servers (host_id) INCLUDE (vm_state);
CREATE INDEX migrations_active_source_idx_0017 ON migrations (source_compute)
    INCLUDE (status, migration_type)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');
CREATE INDEX migrations_active_dest_idx_0017 ON migrations (dest_compute) INCLUDE (status)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- 2. The scheduler's "what changed since" (controller/store/scheduler_hosts_store.cpp
-- kChanged) looks for claims made since its last look: without an index that read all 90,000
-- claims, 25 ms, several times a second while moves are asked for.
CREATE INDEX claims_created_idx ON claims (created_at);

-- 3. v_migrations_in_progress.queue_position, read as the engine's fair order now reads it
-- (controller/store/moves_store.cpp kFairQueue): with one requester queued, turns and "served"
-- order nothing and are not read (a gate evaluated once, before the scan), otherwise only the
-- queued requesters' are counted. Every page of live moves counted every move in a slot whenever a move
-- was queued: 10 ms at 10,000 moves in flight. The same columns, the same positions.
CREATE OR REPLACE VIEW v_migrations_in_progress AS
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
    requesters AS (SELECT count(DISTINCT requester) AS n FROM queued),
    taken AS (
      SELECT coalesce(drain_uuid::text, user_id, '') AS requester, count(*) AS taken
      FROM migrations WHERE status = ANY (migration_status_list('occupies_slot'))
        AND (SELECT n FROM requesters) > 1
        AND coalesce(drain_uuid::text, user_id, '') IN (SELECT requester FROM queued)
      GROUP BY 1),
    served AS (
      SELECT coalesce(m.drain_uuid::text, m.user_id, '') AS requester, max(e.id) AS last
      FROM migrations m JOIN migration_events e ON e.migration_id = m.id
      WHERE m.updated_at >= now() - interval '15 minutes'
        AND m.updated_at >= coalesce(
              (SELECT min(created_at) FROM migrations WHERE status = 'queued'), '-infinity')
        AND e.from_status = 'queued'
        AND e.to_status = ANY (migration_status_list('occupies_slot'))
        AND (SELECT n FROM requesters) > 1
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

DROP INDEX claims_host_idx;
ALTER INDEX claims_host_idx_0017 RENAME TO claims_host_idx;
DROP INDEX servers_host_idx;
ALTER INDEX servers_host_idx_0017 RENAME TO servers_host_idx;
DROP INDEX migrations_active_source_idx;
ALTER INDEX migrations_active_source_idx_0017 RENAME TO migrations_active_source_idx;
DROP INDEX migrations_active_dest_idx;
ALTER INDEX migrations_active_dest_idx_0017 RENAME TO migrations_active_dest_idx;
