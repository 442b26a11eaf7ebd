-- ferry 0015: sessions of the built-in dashboard (controller/web). A token posted to
-- /dashboard/login becomes a session cookie; the session lives here, not in a controller's
-- memory, so every replica knows it and a restart keeps it. Immutable once landed.

-- One row per logged-in browser. Only a SHA-256 of the cookie's random id is stored: whoever
-- reads this table (a backup, a replica, the read-only dashboard role) cannot log in with it.
CREATE TABLE dashboard_sessions (
    id_sha256     bytea PRIMARY KEY CHECK (length(id_sha256) = 32),
    -- Who logged in, as the authenticator told at login (the token file or Keystone). Only
    -- the roles that may read the dashboard: agents and metrics scrapers never log in.
    role          text NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    project_id    text NOT NULL CHECK (length(project_id) <= 255),
    user_id       text NOT NULL CHECK (length(user_id) <= 255),
    name          text NOT NULL CHECK (length(name) <= 255),
    -- SHA-256 of the token that logged in (never the token): with the token file a session is
    -- valid only while the controller's token file still holds a token of this hash and role.
    token_sha256  bytea NOT NULL CHECK (length(token_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- The absolute end, fixed at login; the idle end is last_seen_at + the idle timeout the
    -- controller is configured with (--dashboard-session-idle), so changing it applies at once.
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > created_at)
);
-- The clean-up of ended sessions (at each login) finds them by their ends.
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_last_seen_at ON dashboard_sessions (last_seen_at);
-- At most 20 live sessions per user and project: a login deletes the user's oldest beyond.
CREATE INDEX dashboard_sessions_user_idx ON dashboard_sessions (user_id, project_id, created_at);

-- A member's dashboard shows the moves of their project's servers (the views' project_id is the
-- requester's, an admin's for most moves): the servers of one project, found by index.
CREATE INDEX servers_project_idx ON servers (project_id);
