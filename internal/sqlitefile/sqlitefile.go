// Package sqlitefile holds what the two embedded SQLite databases (the
// keystore's and the telemetry sink's) share: creating a private database
// file, building a connection URI with pragmas, and applying numbered
// migrations. It knows nothing of what either stores.
package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Create creates the database file, and its directory, private to the
// owner (the keystore holds key hashes; telemetry is the tenants' data), and
// returns its absolute path. SQLite gives the -wal and -shm files the same
// mode. An existing file is kept as it is.
func Create(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty database path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("create database file: %w", err)
	}
	return abs, nil
}

// DSN builds a file: URI so any path (spaces, '?', '#') survives, with each
// pragma applied to every new connection and extra driver parameters
// ("_txlock=immediate") appended as given.
func DSN(p string, pragmas []string, extra ...string) string {
	q := url.Values{}
	for _, pr := range pragmas {
		q.Add("_pragma", pr)
	}
	raw := q.Encode()
	for _, e := range extra {
		raw += "&" + e
	}
	return (&url.URL{Scheme: "file", Path: p, RawQuery: raw}).String()
}

// Migration is one numbered schema change, from a file NNNN_name.sql. A
// file is never edited once released: changes go in a new file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the .sql files of dir in fsys, sorted by version.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Apply applies the migrations not yet recorded in schema_migrations, all in
// one transaction (open db with _txlock=immediate): another process opening
// the same file waits and then finds nothing left to do, and a failure
// leaves the schema as it was. A database newer than ms is refused. It
// returns how many it applied.
func Apply(ctx context.Context, db *sql.DB, ms []Migration) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version      INTEGER NOT NULL PRIMARY KEY,
		name         TEXT    NOT NULL,
		applied_time INTEGER NOT NULL
	) STRICT`); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	if n := len(ms); n > 0 && current > ms[n-1].Version {
		return 0, fmt.Errorf("database schema version %d is newer than this binary's %d; refusing to use it", current, ms[n-1].Version)
	}
	applied := 0
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_time) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return 0, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// Migrate loads the migrations of dir in fsys and applies those not yet
// applied (see Apply).
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) (int, error) {
	ms, err := LoadMigrations(fsys, dir)
	if err != nil {
		return 0, err
	}
	return Apply(ctx, db, ms)
}
