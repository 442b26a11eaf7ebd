-- ferry 0016: GET /servers and /servers/detail page newest first (created_at DESC, id DESC,
-- Nova's order) with a marker. Without an index in that order every page sorted all servers:
-- ~10 ms at 20,000 servers, on every list call. Immutable once landed.
CREATE INDEX servers_created_idx ON servers (created_at DESC, id DESC);
