-- ferry 0003: the disks agents report for domains ferry does not manage. Immutable once landed.
-- Adopting a domain takes the server's storage_kind and volumes from them, so that
-- block_migration "auto" matches what the disks really are.

ALTER TABLE unmanaged_domains
    -- [{target, path, kind: local|shared|volume, capacity_bytes, format}] (wire::Disk); empty
    -- when the agent reports no disks (older agents, drivers that do not know them).
    ADD COLUMN disks jsonb NOT NULL DEFAULT '[]'::jsonb;
