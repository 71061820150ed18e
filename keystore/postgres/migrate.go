package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
)

// Migrations are numbered files, NNNN_name.sql, applied in order. A file is
// never edited once released: changes go in a new file. They mirror the
// SQLite backend's, version for version.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_xact_lock key that serializes
// migrations of one database across nodes; any constant works as long as
// every binary uses the same one. It is "igkeystr" in ASCII.
const migrateLockKey int64 = 0x69676b6579737472

// loadMigrations reads the embedded migrations. The file-name rules and
// parsing are shared with the SQLite backend; nothing there is SQLite
// specific.
func loadMigrations() ([]sqlitefile.Migration, error) {
	ms, err := sqlitefile.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrate brings the schema up to date and returns how many migrations it
// applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	return apply(ctx, pool, ms)
}

// apply applies the migrations not yet recorded in schema_migrations, all
// in one transaction, and returns how many it applied. A database newer
// than ms is refused.
//
// The transaction first takes a transaction-scoped advisory lock, so nodes
// starting together migrate one at a time; the lock is released by commit
// or rollback, even if the node dies. It runs at READ COMMITTED on
// purpose: each statement after the lock takes a fresh snapshot and so
// sees what the node that held the lock before committed (under REPEATABLE
// READ the snapshot would predate the wait, and the second node would
// apply everything again). DDL is transactional in PostgreSQL, so a failed
// migration leaves the schema as it was.
func apply(ctx context.Context, pool *pgxpool.Pool, ms []sqlitefile.Migration) (int, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
		return 0, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version      bigint      NOT NULL PRIMARY KEY,
		name         text        NOT NULL,
		applied_time timestamptz NOT NULL
	)`); err != nil {
		return 0, fmt.Errorf("postgres: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return 0, fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	if n := len(ms); n > 0 && current > ms[n-1].Version {
		return 0, fmt.Errorf("postgres: database schema version %d is newer than this binary's %d; refusing to use it", current, ms[n-1].Version)
	}
	applied := 0
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		// No arguments: pgx uses the simple protocol, which runs a file of
		// several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_time) VALUES ($1, $2, $3)",
			m.Version, m.Name, time.Now()); err != nil {
			return 0, fmt.Errorf("postgres: record migration %s: %w", m.Name, err)
		}
		applied++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return applied, nil
}
