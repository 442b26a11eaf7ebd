-- ferry 0013: host drains, a first-class object: a host emptied by a planned, resumable set of
-- moves (live, cold, or evacuations when the host is down) that cron can fire and forget.
-- Immutable once landed.

-- A drain's own states (controller/drains/states.hpp): running, paused and cancelling are its
-- live ones (one per host at a time); done (every server moved), partial (some left or
-- failed), failed (none moved) and cancelled end it.
CREATE TABLE drains (
    id               bigserial PRIMARY KEY,
    uuid             uuid NOT NULL UNIQUE,
    host             text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    mode             text NOT NULL CHECK (mode IN ('live', 'cold', 'auto')),
    status           text NOT NULL CHECK (status IN ('running', 'paused', 'cancelling', 'done',
                                                      'partial', 'failed', 'cancelled')),
    max_parallel     integer NOT NULL CHECK (max_parallel BETWEEN 1 AND 64),
    target_hosts     text[] NOT NULL DEFAULT '{}',
    deadline         timestamptz,
    -- The plan as computed when the drain started (the same document a dry run answers).
    plan             jsonb NOT NULL,
    idempotency_key  text UNIQUE CHECK (length(idempotency_key) <= 255),
    user_id          text,
    project_id       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- Driven by one controller at a time, as moves are (a crashed one's drain is taken over).
    lease_owner      text,
    lease_until      timestamptz
);
CREATE UNIQUE INDEX drains_one_live_per_host ON drains (host)
    WHERE status IN ('running', 'paused', 'cancelling');

-- One row per server of the drain: its place in the plan and what became of it.
CREATE TABLE drain_servers (
    drain_id           bigint NOT NULL REFERENCES drains (id) ON DELETE CASCADE,
    server_uuid        uuid NOT NULL,
    name               text NOT NULL,
    position           integer NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('live', 'cold', 'evacuate')),
    planned_dest       text,
    -- starting: the move's request is being made under the key drain:<drain>:<server>:<attempt>
    -- (a controller that dies there makes it again with the same key and gets the same move).
    state              text NOT NULL CHECK (state IN ('pending', 'starting', 'moving', 'moved',
                                                      'failed', 'skipped', 'cancelled')),
    bytes              bigint NOT NULL DEFAULT 0,
    predicted_seconds  double precision NOT NULL DEFAULT 0,
    migration_uuid     uuid,
    attempts           integer NOT NULL DEFAULT 0,
    failed_dests       text[] NOT NULL DEFAULT '{}',
    dest               text,
    reason             text,
    started_at         timestamptz,
    finished_at        timestamptz,
    PRIMARY KEY (drain_id, server_uuid)
);

-- The drain a move belongs to: the engine's fair queue gives each drain its own turn (two drains
-- share the slots; a drain does not starve an admin's single move), and dashboards group by it.
ALTER TABLE migrations ADD COLUMN drain_uuid uuid;
