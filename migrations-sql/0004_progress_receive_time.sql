-- ferry 0004: progress times on one clock. Immutable once landed.
-- From here on progress_at and lowest_remaining_at hold when PostgreSQL received the report
-- (now()), the clock the controller's progress timeout and "reports stopped" check run on.
-- The agent's own sample time goes to sampled_at: it orders one agent's reports and is shown,
-- but is never compared with the controller's time (an agent clock 2 minutes behind made every
-- migration hit the progress timeout at once).
ALTER TABLE migrations
    ADD COLUMN sampled_at timestamptz;  -- agent's clock: when the last report was sampled
