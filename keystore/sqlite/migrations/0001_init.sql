-- Times are INTEGER unix microseconds in UTC, NULL for the zero time.
-- Hashes are 32-byte BLOBs, NULL when unset, so a zero hash never matches.
-- Maps and lists are JSON TEXT, NULL when empty. Status and event type are
-- the integer values of the wire enums.

CREATE TABLE workspaces (
    id           TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    create_time  INTEGER,
    update_time  INTEGER
) STRICT;

CREATE TABLE ingest_keys (
    id                      TEXT    NOT NULL PRIMARY KEY,
    workspace_id            TEXT    NOT NULL REFERENCES workspaces (id),
    name                    TEXT    NOT NULL,
    description             TEXT    NOT NULL,
    labels                  TEXT,
    scope                   TEXT,
    records_per_second      INTEGER NOT NULL,
    max_streams             INTEGER NOT NULL,
    hash                    BLOB,
    display_prefix          TEXT    NOT NULL,
    status                  INTEGER NOT NULL,
    expire_time             INTEGER,
    revoke_time             INTEGER,
    revoke_reason           TEXT    NOT NULL,
    previous_hash           BLOB,
    previous_display_prefix TEXT    NOT NULL,
    previous_expire_time    INTEGER,
    last_used_time          INTEGER,
    create_time             INTEGER,
    update_time             INTEGER
) STRICT;

CREATE INDEX ingest_keys_by_workspace ON ingest_keys (workspace_id, id);
-- Partial: most keys have no previous secret.
CREATE INDEX ingest_keys_by_hash ON ingest_keys (hash) WHERE hash IS NOT NULL;
CREATE INDEX ingest_keys_by_previous_hash ON ingest_keys (previous_hash) WHERE previous_hash IS NOT NULL;

-- Device ids are chosen by operators, so they are unique per workspace only.
CREATE TABLE devices (
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id),
    id             TEXT    NOT NULL,
    display_name   TEXT    NOT NULL,
    tags           TEXT,
    create_time    INTEGER,
    update_time    INTEGER,
    last_seen_time INTEGER,
    PRIMARY KEY (workspace_id, id)
) STRICT;

CREATE INDEX devices_by_id ON devices (id);

CREATE TABLE api_keys (
    id                      TEXT    NOT NULL PRIMARY KEY,
    name                    TEXT    NOT NULL,
    description             TEXT    NOT NULL,
    permissions             TEXT,
    workspace_ids           TEXT,
    hash                    BLOB,
    display_prefix          TEXT    NOT NULL,
    status                  INTEGER NOT NULL,
    expire_time             INTEGER,
    revoke_time             INTEGER,
    revoke_reason           TEXT    NOT NULL,
    previous_hash           BLOB,
    previous_display_prefix TEXT    NOT NULL,
    previous_expire_time    INTEGER,
    last_used_time          INTEGER,
    create_time             INTEGER,
    update_time             INTEGER
) STRICT;

CREATE INDEX api_keys_by_hash ON api_keys (hash) WHERE hash IS NOT NULL;
CREATE INDEX api_keys_by_previous_hash ON api_keys (previous_hash) WHERE previous_hash IS NOT NULL;

-- log is the workspace id, '' for the global log. No foreign key: the
-- global log has no workspace, and a workspace's deletion may be recorded
-- after the row is gone.
CREATE TABLE events (
    log            TEXT    NOT NULL,
    sequence       INTEGER NOT NULL,
    type           INTEGER NOT NULL,
    time           INTEGER,
    actor          TEXT    NOT NULL,
    ingest_key_id  TEXT    NOT NULL,
    device_id      TEXT    NOT NULL,
    api_key_id     TEXT    NOT NULL,
    display_prefix TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    changed_fields TEXT,
    PRIMARY KEY (log, sequence)
) STRICT, WITHOUT ROWID;

CREATE INDEX events_by_ingest_key ON events (log, ingest_key_id, sequence);
CREATE INDEX events_by_device ON events (log, device_id, sequence);

-- The last sequence handed out per log. Rows are never deleted, so a log's
-- sequences are not reused after its events are (see DeleteWorkspace).
CREATE TABLE event_counters (
    log TEXT    NOT NULL PRIMARY KEY,
    seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
