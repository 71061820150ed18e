-- The embedded telemetry sink. This file is its own database, separate
-- from the keystore's; operators may read it with the sqlite3 CLI (while
-- the server runs, open it read-only: sqlite3 -readonly telemetry.db).
--
-- Times are INTEGER unix nanoseconds in UTC: exact for protobuf
-- timestamps, and easy to read back, for example
--   SELECT datetime(time / 1000000000, 'unixepoch'), name, number_value
--   FROM telemetry WHERE workspace_id = 'ws-1' ORDER BY id DESC LIMIT 10;
-- They cover 1677-09-21 to 2262-04-11; a record outside that is refused.

-- One row per record. id is the cursor (as a decimal string) and grows
-- with commit order; AUTOINCREMENT keeps it from ever being reused, even
-- if the newest rows are deleted, so a subscriber's cursor never points
-- into the past.
CREATE TABLE telemetry (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    ingest_key_id TEXT    NOT NULL,
    -- When the server received the batch.
    receive_time  INTEGER NOT NULL,
    -- When the device observed the record; receive_time when it sent none.
    time          INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    -- Which *_value column holds the value; NULL when the record has none.
    value_type    TEXT CHECK (value_type IN ('number', 'text', 'bool', 'bytes', 'json')),
    -- NULL in a 'number' row means NaN: SQLite cannot store NaN.
    number_value  REAL,
    text_value    TEXT,
    bool_value    INTEGER,
    bytes_value   BLOB,
    -- protojson of google.protobuf.Value: plain JSON, usable with ->>.
    json_value    TEXT,
    -- JSON object of string values; NULL when there are none.
    attributes    TEXT
) STRICT;

CREATE INDEX telemetry_by_workspace ON telemetry (workspace_id, id);
CREATE INDEX telemetry_by_device ON telemetry (workspace_id, device_id, id);

-- Recent dedupe keys: a batch whose key is here with a stored_at within
-- the dedupe window is a duplicate. Written in the same transaction as the
-- batch's records; older rows are pruned in the background.
CREATE TABLE dedupe (
    workspace_id TEXT    NOT NULL,
    device_id    TEXT    NOT NULL,
    dedupe_key   TEXT    NOT NULL,
    stored_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, device_id, dedupe_key)
) STRICT;

CREATE INDEX dedupe_by_stored_at ON dedupe (stored_at);
