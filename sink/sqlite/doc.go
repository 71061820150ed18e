// Package sqlite is the embedded sink.Sink: telemetry in its own SQLite
// file (pure Go, modernc.org/sqlite), separate from the keystore's, so
// operators can query it with the sqlite3 CLI. It must never import
// server or keystore.
//
// Layout: one row of telemetry_batches per batch, its records a JSON array
// (migration 0002 documents the format); the telemetry view shows one row
// per record. Storing a batch costs the writer a few B-tree inserts
// whatever its size, and the records are encoded by the appenders, in
// parallel.
//
// Durability: the file is in WAL mode with synchronous=FULL, so a batch
// whose Result has arrived is on disk and survives a process kill or a
// power loss.
//
// Concurrency: one writer goroutine owns the single write connection.
// Append encodes the batch in the caller's goroutine and queues it on a
// bounded channel; the writer takes whatever is queued (up to
// Config.MaxBatchesPerCommit batches and Config.MaxRecordsPerCommit
// records), writes it in one transaction, syncs once and then answers
// every Result (group commit). Reads use a separate query_only pool and,
// in WAL mode, never wait for the writer. A Read with Wait sleeps on a
// per-workspace channel the writer closes after each commit that stored
// into that workspace; nothing polls.
//
// Deduplication is exact: the dedupe table is checked and written in the
// same transaction as the records, and an entry counts only while it is
// younger than Config.DedupeWindow, whether or not the background prune
// has removed it yet.
package sqlite
