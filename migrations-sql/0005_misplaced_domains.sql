-- ferry 0006: managed servers the hypervisors contradict, and what the controller observed on
-- its own. Immutable once landed.

-- A managed server reported by a host that is not its own (running twice: split brain, a
-- migration's leftover, a guest started by hand with a server's uuid), or not reported by its
-- own host (destroyed out of band, or the hypervisor lost it). Flagged for an operator, never
-- acted on. host_id is the host whose inventory shows the discrepancy: the reporting host for
-- 'elsewhere', the server's own host for 'missing'. A row lives while the discrepancy does.
CREATE TABLE misplaced_domains (
    host_id        bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    server_uuid    uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('elsewhere', 'missing')),
    power_state    integer NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, server_uuid)
);
CREATE INDEX misplaced_domains_server_idx ON misplaced_domains (server_uuid);

-- Instance actions that are not migrations: what the controller noticed about a server (a copy
-- running elsewhere, a guest missing, a power state synchronised from the hypervisor). Each row
-- is one action with one event, shown by os-instance-actions next to the migrations.
CREATE TABLE server_observations (
    id             bigserial PRIMARY KEY,
    instance_uuid  uuid NOT NULL,
    request_id     text NOT NULL,
    action         text NOT NULL,
    event          text NOT NULL,
    result         text NOT NULL CHECK (result IN ('Success', 'Error')),
    host           text,
    details        text,
    project_id     text,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX server_observations_instance_idx ON server_observations (instance_uuid, id);
