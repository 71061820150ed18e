-- Times are timestamptz (microseconds), NULL for the zero time. Hashes are
-- 32-byte bytea, NULL when unset, so a zero hash never matches. Maps and
-- lists are jsonb, NULL when empty. Status and event type are the integer
-- values of the wire enums.
--
-- Ids and other text compared or ordered by the store are COLLATE "C":
-- byte order, whatever the database's default collation, so lists page
-- the same way on every backend.

CREATE TABLE workspaces (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    display_name text             NOT NULL,
    create_time  timestamptz,
    update_time  timestamptz
);

CREATE TABLE ingest_keys (
    id                      text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id            text COLLATE "C" NOT NULL REFERENCES workspaces (id),
    name                    text COLLATE "C" NOT NULL,
    description             text             NOT NULL,
    labels                  jsonb,
    scope                   jsonb,
    records_per_second      bigint           NOT NULL,
    max_streams             bigint           NOT NULL,
    hash                    bytea,
    display_prefix          text             NOT NULL,
    status                  bigint           NOT NULL,
    expire_time             timestamptz,
    revoke_time             timestamptz,
    revoke_reason           text             NOT NULL,
    previous_hash           bytea,
    previous_display_prefix text             NOT NULL,
    previous_expire_time    timestamptz,
    last_used_time          timestamptz,
    create_time             timestamptz,
    update_time             timestamptz
);

CREATE INDEX ingest_keys_by_workspace ON ingest_keys (workspace_id, id);
-- Partial: most keys have no previous secret.
CREATE INDEX ingest_keys_by_hash ON ingest_keys (hash) WHERE hash IS NOT NULL;
CREATE INDEX ingest_keys_by_previous_hash ON ingest_keys (previous_hash) WHERE previous_hash IS NOT NULL;

-- Device ids are chosen by operators, so they are unique per workspace only.
CREATE TABLE devices (
    workspace_id   text COLLATE "C" NOT NULL REFERENCES workspaces (id),
    id             text COLLATE "C" NOT NULL,
    display_name   text             NOT NULL,
    tags           jsonb,
    create_time    timestamptz,
    update_time    timestamptz,
    last_seen_time timestamptz,
    PRIMARY KEY (workspace_id, id)
);

CREATE INDEX devices_by_id ON devices (id);

CREATE TABLE api_keys (
    id                      text COLLATE "C" NOT NULL PRIMARY KEY,
    name                    text             NOT NULL,
    description             text             NOT NULL,
    permissions             jsonb,
    workspace_ids           jsonb,
    hash                    bytea,
    display_prefix          text             NOT NULL,
    status                  bigint           NOT NULL,
    expire_time             timestamptz,
    revoke_time             timestamptz,
    revoke_reason           text             NOT NULL,
    previous_hash           bytea,
    previous_display_prefix text             NOT NULL,
    previous_expire_time    timestamptz,
    last_used_time          timestamptz,
    create_time             timestamptz,
    update_time             timestamptz
);

CREATE INDEX api_keys_by_hash ON api_keys (hash) WHERE hash IS NOT NULL;
CREATE INDEX api_keys_by_previous_hash ON api_keys (previous_hash) WHERE previous_hash IS NOT NULL;

-- log is the workspace id, '' for the global log. No foreign key: the
-- global log has no workspace, and a workspace's deletion may be recorded
-- after the row is gone.
CREATE TABLE events (
    log            text COLLATE "C" NOT NULL,
    sequence       bigint           NOT NULL,
    type           bigint           NOT NULL,
    time           timestamptz,
    actor          text             NOT NULL,
    ingest_key_id  text COLLATE "C" NOT NULL,
    device_id      text COLLATE "C" NOT NULL,
    api_key_id     text COLLATE "C" NOT NULL,
    display_prefix text             NOT NULL,
    reason         text             NOT NULL,
    changed_fields jsonb,
    PRIMARY KEY (log, sequence)
);

CREATE INDEX events_by_ingest_key ON events (log, ingest_key_id, sequence);
CREATE INDEX events_by_device ON events (log, device_id, sequence);

-- The last sequence handed out per log. AppendEvent updates the log's row
-- in the appending transaction, so appenders to one log are serialized by
-- its row lock and a rollback gives the number back (no gaps). Rows are
-- never deleted, so a log's sequences are never reused.
CREATE TABLE event_counters (
    log text COLLATE "C" NOT NULL PRIMARY KEY,
    seq bigint           NOT NULL
);
