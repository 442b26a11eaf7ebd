-- ferry 0001: the foundation schema. Immutable once landed: add 0002_... instead of editing.
-- Names follow Nova where a Nova concept exists (vm_state, task_state, power_state, migration
-- columns) so operators who know Nova can read the tables directly.

CREATE TABLE hosts (
    id                    bigserial PRIMARY KEY,            -- Nova's integer id (< 2.53)
    service_uuid          uuid NOT NULL UNIQUE,             -- os-services id (>= 2.53)
    node_uuid             uuid NOT NULL UNIQUE,             -- os-hypervisors id (>= 2.53)
    name                  text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    cell                  text NOT NULL DEFAULT 'cell1',
    hypervisor_type       text NOT NULL,
    hypervisor_version    bigint NOT NULL DEFAULT 0,
    simulated             boolean NOT NULL DEFAULT false,   -- sim driver: labelled everywhere
    host_ip               text,
    migration_address     text,                             -- inbound live-migration address
    agent_url             text,                             -- where commands go
    state                 text NOT NULL DEFAULT 'down' CHECK (state IN ('up', 'down')),
    last_heartbeat_at     timestamptz,
    disabled              boolean NOT NULL DEFAULT false,
    disabled_reason       text CHECK (length(disabled_reason) <= 255),
    forced_down           boolean NOT NULL DEFAULT false,
    vcpus                 integer NOT NULL DEFAULT 0 CHECK (vcpus >= 0),
    memory_mb             bigint NOT NULL DEFAULT 0 CHECK (memory_mb >= 0),
    local_gb              bigint NOT NULL DEFAULT 0 CHECK (local_gb >= 0),
    -- Nova's initial_*_allocation_ratio defaults: cpu 4.0, ram 1.0, disk 1.0.
    cpu_allocation_ratio  double precision NOT NULL DEFAULT 4.0 CHECK (cpu_allocation_ratio > 0),
    ram_allocation_ratio  double precision NOT NULL DEFAULT 1.0 CHECK (ram_allocation_ratio > 0),
    disk_allocation_ratio double precision NOT NULL DEFAULT 1.0 CHECK (disk_allocation_ratio > 0),
    reserved_host_memory_mb bigint NOT NULL DEFAULT 0 CHECK (reserved_host_memory_mb >= 0),
    cpu_info              jsonb NOT NULL DEFAULT '{}'::jsonb,
    vcenter_id            text,                             -- VMware: vCenter instance uuid
    vcenter_cluster       text,                             -- VMware: cluster name
    datastore_regex       text,                             -- VMware: eligible datastores
    xen_pool_id           text,                             -- XenServer: pool uuid
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hosts_up_heartbeat_idx ON hosts (last_heartbeat_at) WHERE state = 'up';

CREATE TABLE aggregates (
    id                bigserial PRIMARY KEY,
    uuid              uuid NOT NULL UNIQUE,
    name              text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz
);

CREATE TABLE aggregate_hosts (
    aggregate_id  bigint NOT NULL REFERENCES aggregates (id) ON DELETE CASCADE,
    host_id       bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    PRIMARY KEY (aggregate_id, host_id)
);
CREATE INDEX aggregate_hosts_host_idx ON aggregate_hosts (host_id);

-- The availability zone is the metadata key 'availability_zone', as in Nova.
CREATE TABLE aggregate_metadata (
    aggregate_id  bigint NOT NULL REFERENCES aggregates (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    value         text NOT NULL CHECK (length(value) <= 255),
    PRIMARY KEY (aggregate_id, key)
);

CREATE TABLE datastores (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    kind          text NOT NULL CHECK (kind IN ('shared', 'local')),
    capacity_gb   bigint NOT NULL DEFAULT 0,
    free_gb       bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE host_datastores (
    host_id       bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    datastore_id  bigint NOT NULL REFERENCES datastores (id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, datastore_id)
);
CREATE INDEX host_datastores_datastore_idx ON host_datastores (datastore_id);

CREATE TABLE flavors (
    id            bigserial PRIMARY KEY,
    flavorid      text NOT NULL UNIQUE CHECK (length(flavorid) BETWEEN 1 AND 255),  -- API id
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    vcpus         integer NOT NULL CHECK (vcpus > 0),
    memory_mb     bigint NOT NULL CHECK (memory_mb > 0),
    root_gb       bigint NOT NULL DEFAULT 0 CHECK (root_gb >= 0),
    ephemeral_gb  bigint NOT NULL DEFAULT 0 CHECK (ephemeral_gb >= 0),
    swap_mb       bigint NOT NULL DEFAULT 0 CHECK (swap_mb >= 0),
    rxtx_factor   double precision NOT NULL DEFAULT 1.0,
    is_public     boolean NOT NULL DEFAULT true,
    description   text CHECK (length(description) <= 65535),
    extra_specs   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE servers (
    id                bigserial PRIMARY KEY,
    uuid              uuid NOT NULL UNIQUE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    host_id           bigint REFERENCES hosts (id),
    node              text,
    -- The flavor as booted is copied: deleting a flavor (allowed, as in Nova) must not change
    -- what a server holds or how it shows.
    flavor_id         bigint REFERENCES flavors (id) ON DELETE SET NULL,
    flavorid          text NOT NULL,
    flavor_name       text NOT NULL,
    vcpus             integer NOT NULL,
    memory_mb         bigint NOT NULL,
    root_gb           bigint NOT NULL,
    vm_state          text NOT NULL CHECK (vm_state IN ('building', 'active', 'paused', 'suspended',
                          'stopped', 'rescued', 'resized', 'shelved', 'shelved_offloaded',
                          'soft-delete', 'deleted', 'error')),
    task_state        text,
    power_state       integer NOT NULL DEFAULT 0,
    storage_kind      text NOT NULL DEFAULT 'local' CHECK (storage_kind IN ('shared', 'local', 'volume')),
    volumes           jsonb NOT NULL DEFAULT '[]'::jsonb,
    config_drive      text,
    availability_zone text,
    user_id           text NOT NULL,
    project_id        text NOT NULL,
    locked            boolean NOT NULL DEFAULT false,
    locked_reason     text,
    progress          integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    fault             jsonb,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    launched_at       timestamptz
);
CREATE INDEX servers_host_idx ON servers (host_id);
CREATE INDEX servers_name_idx ON servers (name);
CREATE INDEX servers_busy_idx ON servers (task_state) WHERE task_state IS NOT NULL;

-- Resources held on a host by a consumer (a server, or a migration holding the source side).
-- Claims move, revert or vanish in the same transaction as the status change that causes it.
CREATE TABLE claims (
    consumer_uuid uuid NOT NULL,
    host_id       bigint NOT NULL REFERENCES hosts (id),
    resource      text NOT NULL CHECK (resource IN ('VCPU', 'MEMORY_MB', 'DISK_GB')),
    amount        bigint NOT NULL CHECK (amount >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_uuid, host_id, resource)
);
CREATE INDEX claims_host_idx ON claims (host_id, resource);

-- Domains an agent reports that ferry does not manage: reported, never silently adopted.
CREATE TABLE unmanaged_domains (
    host_id        bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    domain_uuid    uuid NOT NULL,
    name           text NOT NULL,
    vcpus          integer NOT NULL,
    memory_mb      bigint NOT NULL,
    disk_gb        bigint NOT NULL,
    power_state    integer NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, domain_uuid)
);

-- Every migration status of every migration type, with the flags code and views read.
-- (Nova scatters these lists over its code; here there is one.)
CREATE TABLE migration_statuses (
    status           text PRIMARY KEY,
    is_terminal      boolean NOT NULL,
    holds_resources  boolean NOT NULL,   -- the migration still holds claims
    api_in_progress  boolean NOT NULL,   -- shown by GET /servers/{id}/migrations
    description      text NOT NULL
);
INSERT INTO migration_statuses VALUES
    ('accepted',        false, true,  false, 'request accepted, not yet scheduled'),
    ('queued',          false, true,  true,  'waiting for a free migration slot'),
    ('preparing',       false, true,  true,  'destination being prepared'),
    ('running',         false, true,  true,  'memory and disk copy in progress'),
    ('post-migrating',  false, true,  true,  'guest switched over, cleaning up'),
    ('pre-migrating',   false, true,  false, 'cold move: destination claimed'),
    ('migrating',       false, true,  false, 'cold move: disk transfer'),
    ('finished',        false, true,  false, 'resize done, waiting for confirm or revert'),
    ('confirming',      false, true,  false, 'resize confirm in progress'),
    ('reverting',       false, true,  false, 'resize revert in progress'),
    ('done',            false, true,  false, 'evacuation: destination rebuilt the server'),
    ('completed',       true,  false, false, 'moved'),
    ('confirmed',       true,  false, false, 'resize confirmed'),
    ('reverted',        true,  false, false, 'resize reverted'),
    ('failed',          true,  false, false, 'failed and rolled back'),
    ('error',           true,  false, false, 'failed; see error_reason'),
    ('cancelled',       true,  false, false, 'aborted by request');

CREATE TABLE migrations (
    id                      bigserial PRIMARY KEY,
    uuid                    uuid NOT NULL UNIQUE,
    -- No foreign key: migration history outlives the server (Nova keeps it too).
    instance_uuid           uuid NOT NULL,
    migration_type          text NOT NULL CHECK (migration_type IN
                                ('live-migration', 'migration', 'resize', 'evacuation')),
    status                  text NOT NULL REFERENCES migration_statuses (status),
    source_compute          text,
    source_node             text,
    dest_compute            text,
    dest_node               text,
    dest_host               text,                       -- destination IP, as Nova
    old_instance_type_id    bigint,
    new_instance_type_id    bigint,
    memory_total            bigint,
    memory_processed        bigint,
    memory_remaining        bigint,
    disk_total              bigint,
    disk_processed          bigint,
    disk_remaining          bigint,
    cross_cell_move         boolean NOT NULL DEFAULT false,
    user_id                 text,
    project_id              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz,
    -- ferry's own columns
    phase                   text,
    attempt                 integer NOT NULL DEFAULT 0,
    state_version           bigint NOT NULL DEFAULT 0,  -- bumped by every compare-and-set
    lease_owner             text,
    lease_until             timestamptz,
    transfer_rate_bps       bigint,
    dirty_rate_bps          bigint,
    eta_seconds             integer,
    downtime_ms             integer,
    error_reason            text,
    drain_job_id            bigint,
    idempotency_key         text UNIQUE,
    request_params          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX migrations_instance_idx ON migrations (instance_uuid, status);
CREATE INDEX migrations_source_idx ON migrations (source_compute, status);
CREATE INDEX migrations_dest_idx ON migrations (dest_compute, status);
CREATE INDEX migrations_created_idx ON migrations (created_at DESC, id DESC);
CREATE INDEX migrations_updated_idx ON migrations (updated_at);
CREATE INDEX migrations_lease_idx ON migrations (lease_until)
    WHERE status NOT IN ('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled');

-- Append-only audit trail, written in the same transaction as each transition.
CREATE TABLE migration_events (
    id             bigserial PRIMARY KEY,
    migration_id   bigint NOT NULL REFERENCES migrations (id),
    from_status    text,
    to_status      text NOT NULL,
    event          text NOT NULL,
    reason         text,
    actor          text NOT NULL,
    request_id     text,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX migration_events_migration_idx ON migration_events (migration_id, id);

CREATE FUNCTION migration_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'migration_events is append-only';
END;
$$;
CREATE TRIGGER migration_events_append_only BEFORE UPDATE OR DELETE ON migration_events
    FOR EACH ROW EXECUTE FUNCTION migration_events_append_only();
