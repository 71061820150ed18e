-- One row per batch instead of one per record: the single writer's cost
-- is then per batch, which took the sink from about 50 thousand to
-- several hundred thousand records a second (BENCHMARKS.md). Records are
-- kept as JSON, so sqlite3 can still read them: the telemetry view below
-- has the columns the old telemetry table had, one row per record.
--
-- records is a JSON array with one object per record:
--   {"time":<unix ns>,"name":"…",<value>,"attributes":{"k":"v",…}}
-- <value> is absent for a record without one, or exactly one of
--   "number":<number>   null for NaN; ±9e999 for the infinities
--   "text":"…"
--   "bool":true|false
--   "bytes":"<hex>"
--   "json":<the JSON value>
-- "attributes" is absent when there are none.
--
-- A record's cursor (the id column of the view) is the batch id times
-- 2^20 plus the record's index in the batch: it grows with commit order,
-- and AUTOINCREMENT keeps batch ids from ever being reused.
CREATE TABLE telemetry_batches (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    ingest_key_id TEXT    NOT NULL,
    -- When the server received the batch (unix ns, UTC).
    receive_time  INTEGER NOT NULL,
    record_count  INTEGER NOT NULL CHECK (record_count BETWEEN 1 AND 1048575),
    records       TEXT    NOT NULL
) STRICT;

-- The rows of the old table become one-record batches with the same id.
-- A cursor handed out before this migration (an old id) is below every
-- new cursor, so a reader resuming from one reads everything again:
-- duplicates, never a gap.
INSERT INTO telemetry_batches (id, workspace_id, device_id, ingest_key_id, receive_time, record_count, records)
SELECT id, workspace_id, device_id, ingest_key_id, receive_time, 1, json_array(CASE
        WHEN attributes IS NULL THEN json(value)
        ELSE json_set(value, '$.attributes', json(attributes))
    END)
FROM (
    SELECT *, CASE value_type
        WHEN 'number' THEN json_object('time', time, 'name', name, 'number', number_value)
        WHEN 'text'   THEN json_object('time', time, 'name', name, 'text', text_value)
        WHEN 'bool'   THEN json_object('time', time, 'name', name, 'bool', json(iif(bool_value, 'true', 'false')))
        WHEN 'bytes'  THEN json_object('time', time, 'name', name, 'bytes', lower(hex(bytes_value)))
        WHEN 'json'   THEN json_object('time', time, 'name', name, 'json', json(json_value))
        ELSE               json_object('time', time, 'name', name)
    END AS value
    FROM telemetry
)
ORDER BY id;

DROP TABLE telemetry;

CREATE INDEX telemetry_batches_by_workspace ON telemetry_batches (workspace_id, id);
CREATE INDEX telemetry_batches_by_device ON telemetry_batches (workspace_id, device_id, id);

-- One row per record, with the columns of the old telemetry table and
-- batch_id. The view expands every batch it is not told to skip: filter
-- on batch_id, workspace_id or device_id (columns of the indexed batch
-- rows) to read a part of a large file quickly, e.g. the newest records:
--   SELECT datetime(time / 1000000000, 'unixepoch'), name, number_value
--   FROM telemetry WHERE batch_id > (SELECT max(id) - 100 FROM telemetry_batches)
--   ORDER BY id DESC LIMIT 10;
CREATE VIEW telemetry AS
SELECT
    b.id * 1048576 + r.key AS id,
    b.id AS batch_id,
    b.workspace_id,
    b.device_id,
    b.ingest_key_id,
    b.receive_time,
    r.value ->> '$.time' AS time,
    r.value ->> '$.name' AS name,
    CASE
        WHEN r.value -> '$.number' IS NOT NULL THEN 'number'
        WHEN r.value -> '$.text'   IS NOT NULL THEN 'text'
        WHEN r.value -> '$.bool'   IS NOT NULL THEN 'bool'
        WHEN r.value -> '$.bytes'  IS NOT NULL THEN 'bytes'
        WHEN r.value -> '$.json'   IS NOT NULL THEN 'json'
    END AS value_type,
    r.value ->> '$.number' AS number_value,
    r.value ->> '$.text' AS text_value,
    r.value ->> '$.bool' AS bool_value,
    unhex(r.value ->> '$.bytes') AS bytes_value,
    r.value -> '$.json' AS json_value,
    r.value -> '$.attributes' AS attributes
FROM telemetry_batches AS b, json_each(b.records) AS r;

