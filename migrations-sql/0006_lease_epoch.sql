-- ferry 0006: a fencing token for the commands a live migration's lease owner sends. Immutable
-- once landed.

-- Raised by one each time a controller takes a migration's lease (insert: 1; a takeover of a
-- lapsed or released lease: +1); a renewal by the same owner keeps it. The lease owner sends
-- (migration uuid, lease_epoch) with every agent command of that migration, and agents refuse
-- one older than the highest they have seen, so a controller that stalled past its lease (a
-- SIGSTOP, a paused VM) cannot act for a migration another controller has moved on. Rows from
-- before this column start at 0: the next takeover makes them 1.
ALTER TABLE migrations ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
