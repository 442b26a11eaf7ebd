-- ferry 0010: one move engine for every kind of move (live migration, cold migration, resize,
-- evacuation). Immutable once landed.

-- Two more flags of the one status seed, read by the engine and the scheduler for every kind:
--   occupies_slot: the move is past admission and uses its source's outbound and its
--     destination's inbound slot (max_outbound_per_host, max_inbound_per_host, max_total);
--   heads_to_destination: a destination is chosen and the move is still going there or waits
--     there (inbound load, server-group anti-affinity). A resize waiting for confirm counts:
--     the server will run there.
ALTER TABLE migration_statuses
    ADD COLUMN occupies_slot        boolean NOT NULL DEFAULT false,
    ADD COLUMN heads_to_destination boolean NOT NULL DEFAULT false;
UPDATE migration_statuses SET occupies_slot = true
WHERE status IN ('preparing', 'running', 'post-migrating', 'pre-migrating', 'migrating');
UPDATE migration_statuses SET heads_to_destination = true
WHERE status IN ('queued', 'preparing', 'running', 'post-migrating', 'pre-migrating', 'migrating',
                 'finished', 'confirming', 'reverting', 'done');

-- The engine's retry budget: a step that throws (a bug, a record it cannot read) is retried on
-- the next tick; after --step-retry-budget failures in a row at one status the move ends in
-- error with the last one as its reason instead of spinning forever. Reset by every status
-- change. A database outage is never counted (nothing can be written then).
ALTER TABLE migrations
    ADD COLUMN step_failures   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_step_error text;

-- The controller's step and the agent's job phase, each in a column of its own: the engine
-- writes step, progress ingest writes job_phase (before, both wrote phase, and a report could
-- overwrite the step a crash recovery relies on). Each kind names its own steps.
ALTER TABLE migrations
    ADD COLUMN step      text,
    ADD COLUMN job_phase text CHECK (job_phase IN
                             ('precopy', 'postcopy', 'paused', 'switchover', 'done'));
UPDATE migrations SET job_phase = phase
WHERE status = 'running' AND phase IN ('precopy', 'postcopy', 'paused', 'switchover', 'done');
UPDATE migrations SET step = CASE
    WHEN status = 'running' AND phase IN ('precopy', 'postcopy', 'paused', 'switchover', 'done')
    THEN 'copying' ELSE phase END;
ALTER TABLE migrations DROP COLUMN phase;
