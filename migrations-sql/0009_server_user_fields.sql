-- ferry 0009: what a user sets on a server besides its name, on create and with PUT
-- /servers/{id} (Nova's instances.access_ip_v4, access_ip_v6, display_description, hostname).
-- NULL: never set (the API shows "" for the addresses, null for the description, the name for
-- the hostname). Immutable once landed.
ALTER TABLE servers
    -- 15: the longest dotted quad (255.255.255.255); the API checks the format.
    ADD COLUMN access_ip_v4 text CHECK (length(access_ip_v4) <= 15),
    -- 45: the longest IPv6 text form, with an embedded IPv4 (INET6_ADDRSTRLEN - 1).
    ADD COLUMN access_ip_v6 text CHECK (length(access_ip_v6) <= 45),
    -- 255: Nova's parameter_types.description maxLength
    ADD COLUMN description  text CHECK (length(description) <= 255),
    -- 255: Nova's instances.hostname is a String(255)
    ADD COLUMN hostname     text CHECK (length(hostname) <= 255),
    -- the create's imageRef (ferry has no image service to look it up in); 255: Nova's
    -- instances.image_ref is a String(255)
    ADD COLUMN image_ref    text CHECK (length(image_ref) <= 255);

-- A server's create and delete are instance actions too (Nova's "create" and "delete", under the
-- request's id): the user who asked. NULL for what the controller observed on its own.
ALTER TABLE server_observations ADD COLUMN user_id text;
