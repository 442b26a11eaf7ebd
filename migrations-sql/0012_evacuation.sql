-- ferry 0012: evacuation (Nova's migration_type 'evacuation') as the third kind of move on the
-- engine: a server whose host is down (or forced down) is rebuilt on another host. Immutable
-- once landed.
--
-- An evacuation reuses the columns cold moves added: requested_host and forced (2.29-2.67's
-- "force"), power_on (start the guest on the destination: false with 2.95 or a stopped server),
-- shared_storage (resolved when scheduled: the destination reaches the same disks; false: the
-- local disks are gone with the host and the root disk is rebuilt from the server's image).

-- An evacuation's steps (controller/store/evacuations_store.hpp EvacuationStep).
ALTER TABLE migrations ADD CONSTRAINT migrations_evacuation_step_check CHECK (
    migration_type <> 'evacuation' OR step IS NULL OR step IN
    ('scheduling', 'waiting for a slot', 'rebuilding on destination',
     'rolling back destination', 'waiting for the source', 'cleaning up source', 'done'))
    NOT VALID;

-- The evacuation record is its source host's tombstone (Nova's words): while one is accepted,
-- queued, pre-migrating or done, the guest it names must not run on that host, and the host's
-- agent is told so at every registration and heartbeat. This index answers that question per
-- heartbeat; it holds only the few unfinished evacuations.
CREATE INDEX migrations_evacuation_tombstone_idx ON migrations (source_compute)
    WHERE migration_type = 'evacuation'
      AND status IN ('accepted', 'queued', 'pre-migrating', 'done');

-- "done" is evacuation's alone: the server already runs on its destination (placed there, its
-- claim there), and the record only waits for the dead source to come back, maybe never. It no
-- longer heads there: counting it would weigh the destination's inbound load and the server's
-- group forever.
UPDATE migration_statuses SET heads_to_destination = false WHERE status = 'done';

-- The disks a server's own host last reported for it (wire::Disk objects). An evacuation's
-- source cannot be asked anything: on shared storage, the destination is given these (and
-- checks each path lies on storage it sees). NULL: never reported.
ALTER TABLE servers ADD COLUMN reported_disks jsonb;
