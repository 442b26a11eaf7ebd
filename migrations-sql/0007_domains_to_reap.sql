-- ferry 0007: servers deleted while their host was down, whose guest may still run there
-- (review M4). Immutable once landed.

-- Nova's "local delete": the user sees the server gone at once. But a host that is down may only
-- be cut off, its guest still running, so the server's claims are kept (they are keyed by the
-- server uuid, not by its row) and the scheduler keeps counting that usage. When the host
-- reports again its agent is told to delete the domain, and only then are the claims released
-- and the row removed (Nova's running_deleted_instance_action=reap).
CREATE TABLE domains_to_reap (
    server_uuid  uuid PRIMARY KEY,
    host_id      bigint NOT NULL REFERENCES hosts (id),
    deleted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domains_to_reap_host_idx ON domains_to_reap (host_id);
