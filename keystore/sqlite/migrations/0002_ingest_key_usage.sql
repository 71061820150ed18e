-- Usage counters of ingest keys, written only by RecordUsage (with
-- last_used_time). INTEGER is signed 64-bit: RecordUsage saturates at its
-- maximum instead of overflowing into REAL, which STRICT would refuse.
ALTER TABLE ingest_keys ADD COLUMN records_received INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ingest_keys ADD COLUMN batches_received INTEGER NOT NULL DEFAULT 0;
