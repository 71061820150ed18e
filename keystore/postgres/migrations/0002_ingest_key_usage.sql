-- Usage counters of ingest keys, written only by RecordUsage (with
-- last_used_time). bigint is signed 64-bit: RecordUsage saturates at its
-- maximum instead of overflowing, which PostgreSQL would refuse.
ALTER TABLE ingest_keys ADD COLUMN records_received bigint NOT NULL DEFAULT 0;
ALTER TABLE ingest_keys ADD COLUMN batches_received bigint NOT NULL DEFAULT 0;
