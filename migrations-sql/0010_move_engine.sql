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

-- A live migration's workflow state, typed (before: keys of request_params, which from now on
-- is the request as it was made, written once). The steps read and write only these.
ALTER TABLE migrations
    ADD COLUMN requested_host         text,
    ADD COLUMN block_migration        text CHECK (block_migration IN ('auto', 'true', 'false')),
    ADD COLUMN forced                 boolean NOT NULL DEFAULT false,
    ADD COLUMN copies_disk            boolean,  -- block_migration as resolved when scheduled
    ADD COLUMN incoming_uri           text,     -- where the prepared destination listens
    ADD COLUMN precheck_failures      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN abort_reason           text,     -- set with abort_requested_at by a timeout
    ADD COLUMN abort_sent             boolean NOT NULL DEFAULT false,
    ADD COLUMN abort_refused          text,
    ADD COLUMN force_complete_reason  text,
    ADD COLUMN force_complete_refused text;
UPDATE migrations SET
    requested_host = request_params->>'host',
    block_migration = CASE WHEN request_params->>'block_migration' IN ('auto', 'true', 'false')
                           THEN request_params->>'block_migration' END,
    forced = coalesce(request_params->'force' = 'true'::jsonb, false),
    copies_disk = CASE WHEN jsonb_typeof(request_params->'block_migration_resolved') = 'boolean'
                       THEN (request_params->>'block_migration_resolved')::boolean END,
    incoming_uri = nullif(request_params->>'incoming_uri', ''),
    precheck_failures = CASE WHEN jsonb_typeof(request_params->'precheck_failures') = 'array'
        THEN ARRAY(SELECT jsonb_array_elements_text(request_params->'precheck_failures'))
        ELSE '{}' END,
    abort_reason = request_params->>'abort_reason',
    abort_sent = coalesce(request_params->'abort_sent' = 'true'::jsonb, false),
    abort_refused = request_params->>'abort_refused',
    force_complete_reason = request_params->>'force_complete_reason',
    force_complete_refused = request_params->>'force_complete_refused'
WHERE migration_type = 'live-migration' AND jsonb_typeof(request_params) = 'object'
  AND request_params <> '{}'::jsonb;

-- A live migration's steps (controller/store/live_migrations_store.hpp LiveStep): a value no
-- build knows could never be driven, so the table refuses it. Other kinds add theirs.
ALTER TABLE migrations ADD CONSTRAINT migrations_live_step_check CHECK (
    migration_type <> 'live-migration' OR step IS NULL OR step IN
    ('scheduling', 'waiting for a slot', 'preparing destination', 'starting', 'copying',
     'finishing', 'done'));
