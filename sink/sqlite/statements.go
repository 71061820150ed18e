package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// statements are prepared once: the writer runs insert for every record,
// and preparing would cost more than executing.
type statements struct {
	insert, dedupe, prune    *sql.Stmt // on the write connection
	readAll, readDevice, end *sql.Stmt // on the read pool
}

const (
	insertSQL = `INSERT INTO telemetry_batches (workspace_id, device_id, ingest_key_id, receive_time, record_count, records)
		VALUES (?, ?, ?, ?, ?, ?)`

	// dedupeSQL claims a dedupe key. It changes a row, and so reports one
	// row affected, when the key is new or its entry was stored at or
	// before ?5 (now minus the window); otherwise the batch is a
	// duplicate. Expired entries count as absent whether or not prune has
	// run, so the window is exact.
	dedupeSQL = `INSERT INTO dedupe (workspace_id, device_id, dedupe_key, stored_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (workspace_id, device_id, dedupe_key) DO UPDATE SET stored_at = excluded.stored_at
		WHERE dedupe.stored_at <= ?5`

	// pruneSQL deletes at most ?2 expired dedupe entries, so a long
	// backlog is deleted in short transactions between group commits.
	pruneSQL = `DELETE FROM dedupe WHERE rowid IN (SELECT rowid FROM dedupe WHERE stored_at <= ?1 LIMIT ?2)`

	// The reads take the batches from ?2, the batch of the cursor read
	// after, on; the caller asks for one more batch than it needs
	// records, as the first may have nothing left after the cursor.
	readColumns   = `id, device_id, ingest_key_id, receive_time, record_count, records`
	readAllSQL    = `SELECT ` + readColumns + ` FROM telemetry_batches WHERE workspace_id = ?1 AND id >= ?2 ORDER BY id LIMIT ?3`
	readDeviceSQL = `SELECT ` + readColumns + ` FROM telemetry_batches WHERE workspace_id = ?1 AND device_id = ?4 AND id >= ?2 ORDER BY id LIMIT ?3`
	endSQL        = `SELECT id, record_count FROM telemetry_batches WHERE workspace_id = ? ORDER BY id DESC LIMIT 1`
)

func (st *statements) prepare(ctx context.Context, write, read *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&st.insert, write, insertSQL},
		{&st.dedupe, write, dedupeSQL},
		{&st.prune, write, pruneSQL},
		{&st.readAll, read, readAllSQL},
		{&st.readDevice, read, readDeviceSQL},
		{&st.end, read, endSQL},
	} {
		var err error
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("sink/sqlite: prepare: %w", err)
		}
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.insert, st.dedupe, st.prune, st.readAll, st.readDevice, st.end} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
