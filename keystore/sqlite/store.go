package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

var _ keystore.Store = (*Store)(nil)

// readConns bounds the read pool; SQLite readers in WAL mode do not block
// each other, but each connection holds its own page cache.
const readConns = 4

// Store is a keystore.Store in one SQLite file. It is safe for concurrent
// use.
type Store struct {
	reader // over the read pool, with the hot lookups prepared
	write  *sql.DB
	read   *sql.DB
	// Prepared on the write pool for RecordUsage, which runs them once per
	// entry of every flush.
	addKeyUsage, addDeviceSeen *sql.Stmt
	// stmts holds every statement prepare made, for Close.
	stmts []*sql.Stmt
	// applied is how many migrations Open ran (for tests).
	applied int
}

// Open opens or creates the database at path, creating its directory if
// needed, and brings the schema up to date.
func Open(ctx context.Context, path string, opts ...keystore.OpenOption) (*Store, error) {
	open := sqlOpener(keystore.NewOpenConfig(opts))
	// The file holds key hashes: created private to its owner.
	abs, err := sqlitefile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	// busy_timeout matters only for other processes (or a checkpoint);
	// in-process writers queue on the single write connection.
	common := []string{"busy_timeout(5000)", "foreign_keys(1)"}
	write, err := open(sqlitefile.DSN(abs, slices.Concat(common, []string{"journal_mode(WAL)", "synchronous(NORMAL)"}), "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	// query_only makes a stray write through the read pool fail loudly.
	read, err := open(sqlitefile.DSN(abs, slices.Concat(common, []string{"query_only(1)"})))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)

	s := &Store{reader: queries.Reader(&conn{q: read}), write: write, read: read}
	// Migrate before the first read so readers never see an old schema.
	if s.applied, err = migrate(ctx, write); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ReadWrite runs fn in an IMMEDIATE transaction on the write connection.
// It commits when fn returns nil and rolls back otherwise, returning fn's
// error as is. If fn panics the transaction is rolled back and the panic
// continues up the stack (it is not turned into an error), so the
// server's recovery logs it with its stack. fn is never retried: with one
// writer there are no serialization failures to retry.
func (s *Store) ReadWrite(ctx context.Context, fn func(ctx context.Context, tx keystore.Tx) error) error {
	return s.writeTx(ctx, func(sqlTx *sql.Tx) error {
		return fn(ctx, queries.Tx(&conn{q: sqlTx}))
	})
}

// writeTx is ReadWrite over the bare *sql.Tx: commit when fn returns nil,
// roll back on an error (returned as is) or a panic (which continues).
func (s *Store) writeTx(ctx context.Context, fn func(sqlTx *sql.Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Also runs while a panic unwinds; the error is moot then.
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(sqlTx); err != nil {
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// prepare readies the by-hash lookups on the read pool: they run on every
// credential check the cache misses, and preparing is over half their cost.
// It also readies RecordUsage's updates on the write pool.
func (s *Store) prepare(ctx context.Context) error {
	prep := func(db *sql.DB, query string) (*sql.Stmt, error) {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		s.stmts = append(s.stmts, st)
		return st, nil
	}
	read := &conn{q: s.read}
	for _, query := range queries.HotQueries() {
		st, err := prep(s.read, query)
		if err != nil {
			return err
		}
		read.prepared = append(read.prepared, prepared{query, st})
	}
	s.reader = queries.Reader(read)
	var err error
	if s.addKeyUsage, err = prep(s.write, addKeyUsageSQL); err != nil {
		return err
	}
	s.addDeviceSeen, err = prep(s.write, addDeviceSeenSQL)
	return err
}

// Close closes both pools. The last connection to close checkpoints the
// WAL into the database file.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, s.read.Close(), s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// reader is sqlstore.Reader under a name of the package's own, so that
// embedding it in Store adds no exported field.
type reader = sqlstore.Reader
