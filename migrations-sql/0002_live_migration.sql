-- ferry 0002: what driving live migrations needs. Immutable once landed.

ALTER TABLE migrations
    -- What the source agent last reported about the copy job (LiveMigrationJob).
    ADD COLUMN job_state                   text CHECK (job_state IN
                                               ('running', 'completed', 'failed', 'cancelled')),
    ADD COLUMN job_error                   text,
    ADD COLUMN progress_at                 timestamptz,  -- when that report was sampled
    ADD COLUMN iteration                   integer,
    ADD COLUMN throttle_percent            integer,
    -- Stall detection: the lowest memory_remaining seen so far and when it was first seen.
    ADD COLUMN lowest_remaining            bigint,
    ADD COLUMN lowest_remaining_at         timestamptz,
    ADD COLUMN started_at                  timestamptz,  -- copy job started (status running)
    ADD COLUMN finished_at                 timestamptz,  -- reached a terminal status
    -- Requests the driver acts on; recorded first so a crash cannot lose them.
    ADD COLUMN abort_requested_at          timestamptz,
    ADD COLUMN force_complete_requested_at timestamptz,
    ADD COLUMN force_completed_at          timestamptz,  -- force-complete was sent to the agent
    -- The effective policy, resolved once at acceptance (deployment default < aggregate).
    ADD COLUMN policy                      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Hosts excluded by failed destination pre-checks, for the next scheduling attempt.
    ADD COLUMN ignore_hosts                text[] NOT NULL DEFAULT '{}';

-- Progress reports rewrite a running migration's row every few seconds without touching an
-- indexed column; free space on each page lets PostgreSQL keep those updates HOT (heap-only,
-- no index writes). Applies to pages written from now on, which is where running rows live.
ALTER TABLE migrations SET (fillfactor = 80);

-- The driver's work list: every live migration that is not finished, by status.
CREATE INDEX migrations_active_idx ON migrations (status, created_at)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- GET /os-migrations pages newest first (created_at DESC, id DESC) under one equality filter;
-- each index serves one filter without sorting, so a page of 1,000 out of 1,000,000 rows reads
-- about 1,000 index entries (tests/bench/os_migrations_bench). Host filters use the source and
-- destination indexes of 0001; instance_uuid filters are small.
CREATE INDEX migrations_status_created_idx ON migrations (status, created_at DESC, id DESC);
CREATE INDEX migrations_type_created_idx ON migrations (migration_type, created_at DESC, id DESC);
CREATE INDEX migrations_user_created_idx ON migrations (user_id, created_at DESC, id DESC);
CREATE INDEX migrations_project_created_idx ON migrations (project_id, created_at DESC, id DESC);

-- Server groups (os-server-groups): the scheduler keeps anti-affinity members apart.
CREATE TABLE server_groups (
    id          bigserial PRIMARY KEY,
    uuid        uuid NOT NULL UNIQUE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    policy      text NOT NULL CHECK (policy IN
                    ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity')),
    rules       jsonb NOT NULL DEFAULT '{}'::jsonb,
    user_id     text NOT NULL,
    project_id  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE server_group_members (
    group_id     bigint NOT NULL REFERENCES server_groups (id) ON DELETE CASCADE,
    server_uuid  uuid NOT NULL UNIQUE,   -- a server is in at most one group, as in Nova
    PRIMARY KEY (group_id, server_uuid)
);
