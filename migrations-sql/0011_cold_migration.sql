-- ferry 0011: cold migration and resize (Nova's migration_type 'migration' and 'resize') as the
-- second kind of move on the engine. Immutable once landed.

-- A cold move's workflow state, typed. The old and new flavor are snapshots (what the server
-- had and gets: vcpus, memory, root disk, Nova's flavorid and name), because a flavor can be
-- deleted while a resize waits for confirm and a revert must still restore exactly the old one.
ALTER TABLE migrations
    ADD COLUMN old_flavor            jsonb,
    ADD COLUMN new_flavor            jsonb,
    ADD COLUMN disk_config           text,     -- OS-DCF:diskConfig as asked (AUTO | MANUAL)
    ADD COLUMN power_on              boolean,  -- the guest ran when the move began
    ADD COLUMN shared_storage        boolean,  -- resolved when scheduled: nothing is copied
    -- The per-move credential the destination agent requires of the disk stream. A secret:
    -- no API response and no dashboard view shows it.
    ADD COLUMN transfer_token        text,
    ADD COLUMN receive_uri           text,     -- where the prepared destination receives disks
    ADD COLUMN confirm_requested_at  timestamptz,
    ADD COLUMN confirm_reason        text,     -- 'requested' or 'resize_confirm_window'
    ADD COLUMN revert_requested_at   timestamptz;

-- A cold move's steps (controller/store/cold_migrations_store.hpp ColdStep), checked like a
-- live migration's.
ALTER TABLE migrations ADD CONSTRAINT migrations_cold_step_check CHECK (
    migration_type NOT IN ('migration', 'resize') OR step IS NULL OR step IN
    ('scheduling', 'waiting for a slot', 'preparing destination', 'powering off',
     'starting copy', 'copying disks', 'finishing on destination', 'waiting for confirm', 'deleting source',
     'reverting destination', 'restarting source', 'rolling back destination',
     'rolling back source', 'done')) NOT VALID;

-- A cold move's copy job reports the phase 'copying' (its guest is off).
ALTER TABLE migrations DROP CONSTRAINT migrations_job_phase_check;
ALTER TABLE migrations ADD CONSTRAINT migrations_job_phase_check
    CHECK (job_phase IN ('precopy', 'postcopy', 'paused', 'switchover', 'done', 'copying'))
    NOT VALID;
ALTER TABLE migrations ADD CONSTRAINT migrations_disk_config_check
    CHECK (disk_config IN ('AUTO', 'MANUAL')) NOT VALID;
ALTER TABLE migrations ADD CONSTRAINT migrations_transfer_token_check
    CHECK (length(transfer_token) <= 128) NOT VALID;
