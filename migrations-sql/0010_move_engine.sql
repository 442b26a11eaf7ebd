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
-- the next tick; after --step-retry-budget failures in a row, the first of them at least
-- --step-retry-window ago, the move is given up (ended where that is safe without the agents,
-- else rolled back through them). A step that runs cleanly, and every status change, starts the
-- count over. A database outage is never counted (nothing can be written then).
ALTER TABLE migrations
    ADD COLUMN step_failures      integer NOT NULL DEFAULT 0,
    ADD COLUMN step_failing_since timestamptz,
    ADD COLUMN last_step_error    text;

-- The controller's step and the agent's job phase, each in a column of its own: the engine
-- writes step, progress ingest writes job_phase (before, both wrote phase, and a report could
-- overwrite the step a crash recovery relies on). Each kind names its own steps.
-- Expand, not contract: phase stays (this build never writes it; the API shows it for moves
-- that ended before it), so that a controller of the previous build still running while the
-- schema is upgraded keeps working until it is replaced. Only unfinished moves are rewritten:
-- they are few, while finished ones may be millions.
-- The step of an unfinished move follows from its status (never copied from phase, which an
-- agent's report could have set to anything): only "starting" (start not yet answered) needs
-- the old column to tell it from copying.
ALTER TABLE migrations
    ADD COLUMN step      text,
    ADD COLUMN job_phase text;
UPDATE migrations SET
    job_phase = CASE WHEN status = 'running'
                      AND phase IN ('precopy', 'postcopy', 'paused', 'switchover', 'done')
                     THEN phase END,
    step = CASE status
        WHEN 'accepted' THEN 'scheduling'
        WHEN 'queued' THEN 'waiting for a slot'
        WHEN 'preparing' THEN 'preparing destination'
        WHEN 'running' THEN CASE WHEN phase = 'starting' THEN 'starting' ELSE 'copying' END
        WHEN 'post-migrating' THEN 'finishing' END
WHERE migration_type = 'live-migration'
  AND status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- A live migration's workflow state, typed (before: keys of request_params, which from now on
-- is the request as it was made, written once). The steps read and write only these.
ALTER TABLE migrations
    ADD COLUMN requested_host         text,
    ADD COLUMN block_migration        text,
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
        THEN ARRAY(SELECT f FROM jsonb_array_elements_text(request_params->'precheck_failures') f
                   WHERE f IS NOT NULL)
        ELSE '{}' END,
    abort_reason = request_params->>'abort_reason',
    abort_sent = coalesce(request_params->'abort_sent' = 'true'::jsonb, false),
    abort_refused = request_params->>'abort_refused',
    force_complete_reason = request_params->>'force_complete_reason',
    force_complete_refused = request_params->>'force_complete_refused'
WHERE migration_type = 'live-migration' AND jsonb_typeof(request_params) = 'object'
  AND request_params <> '{}'::jsonb
  AND status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- A live migration's steps (controller/store/live_migrations_store.hpp LiveStep): a value no
-- build knows could never be driven (nor given up: reading it fails), so the table refuses it.
-- Other kinds add theirs. NOT VALID: rows written before are not scanned (a finished move's
-- step is history); every row written from now on is checked.
ALTER TABLE migrations ADD CONSTRAINT migrations_live_step_check CHECK (
    migration_type <> 'live-migration' OR step IS NULL OR step IN
    ('scheduling', 'waiting for a slot', 'preparing destination', 'starting', 'copying',
     'finishing', 'done')) NOT VALID;

-- A server on shared storage is tied to the datastore its disks are on (named by its host's
-- agent when the server was adopted): a move goes only to hosts that see that datastore.
-- NULL: local disks, volumes, or not known.
ALTER TABLE servers ADD COLUMN datastore text;

-- The checks of the new columns, NOT VALID: adding a column with a CHECK scans the whole table
-- under an exclusive lock; rows written from now on are checked, the (NULL) old ones are not
-- scanned.
ALTER TABLE migrations ADD CONSTRAINT migrations_job_phase_check
    CHECK (job_phase IN ('precopy', 'postcopy', 'paused', 'switchover', 'done')) NOT VALID;
ALTER TABLE migrations ADD CONSTRAINT migrations_block_migration_check
    CHECK (block_migration IN ('auto', 'true', 'false')) NOT VALID;
ALTER TABLE servers ADD CONSTRAINT servers_datastore_check
    CHECK (length(datastore) <= 255) NOT VALID;
