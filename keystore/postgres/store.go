package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

var _ keystore.Store = (*Store)(nil)

// Retries of a transaction that lost a serialization conflict. Appends to
// one audit log conflict on its counter row, so under a burst of writers a
// transaction can lose several rounds in a row; the backoff is jittered so
// the losers do not collide again in lockstep.
const (
	maxAttempts  = 20
	retryBackoff = 2 * time.Millisecond
	maxBackoff   = 100 * time.Millisecond
)

// Store is a keystore.Store in a PostgreSQL database. It is safe for
// concurrent use, and several nodes may share the database.
type Store struct {
	reader // over the pool
	pool   *pgxpool.Pool
	// applied is how many migrations Open ran (for tests).
	applied int
}

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as pgx accepts), brings the schema up to date and checks the
// connection. Nodes may Open the same database at once: migrations are
// serialized by an advisory lock (see apply).
func Open(ctx context.Context, url string, opts ...keystore.OpenOption) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: invalid connection URL")
	}
	if tp := keystore.NewOpenConfig(opts).TracerProvider; tp != nil {
		// A span per statement (not its arguments: WithIncludeQueryParameters
		// is left off), named by the statement's first word.
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithTrimSQLInSpanName(), otelpgx.WithDisableAcquireTracer())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{reader: queries.Reader(conn{pool}), pool: pool}
	if s.applied, err = migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// ReadWrite runs fn in a SERIALIZABLE transaction and commits when it
// returns nil; another error rolls back and is returned as is. When fn or
// the commit fails with a serialization failure or deadlock (SQLSTATE
// 40001, 40P01) the transaction is rolled back and fn runs again, up to
// maxAttempts times in all. A panic in fn rolls back and continues up the
// stack, so the server's recovery logs it with its stack.
//
// Every write that appends to an audit log updates that log's counter row,
// so a burst of writers to one workspace (a fleet registering its devices)
// conflict with each other there. An attempt that lost such a conflict
// retries holding the log's advisory lock, taken before its transaction
// begins: writers to a busy log then wait their turn instead of failing
// again and again.
func (s *Store) ReadWrite(ctx context.Context, fn func(ctx context.Context, tx keystore.Tx) error) error {
	var logs []string // of the last attempt
	return s.runTx(ctx, pgx.Serializable, func() []string { return logs }, func(pgTx pgx.Tx) error {
		tx := queries.Tx(conn{pgTx})
		defer func() { logs = tx.Logs() }()
		return fn(ctx, tx)
	})
}

// logLockClass is the first key of the audit logs' advisory locks (the
// second is the log's hash), apart from the migration lock's one key.
const logLockClass = 0x49474c47 // "IGLG"

// runTx runs fn in a transaction at iso, retrying it on serialization
// failures (see ReadWrite). After a failed attempt, the next one first
// locks the audit logs hot returns (nil: none).
func (s *Store) runTx(ctx context.Context, iso pgx.TxIsoLevel, hot func() []string, fn func(pgx.Tx) error) error {
	var err error
	var lock []string
	for attempt := range maxAttempts {
		if attempt > 0 {
			if hot != nil {
				lock = hot()
			}
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return fmt.Errorf("postgres: retry after %w: %w", err, werr)
			}
		}
		if err = s.tryTx(ctx, iso, lock, fn); !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("postgres: transaction gave up after %d attempts: %w", maxAttempts, err)
}

// tryTx is one attempt of runTx, holding the advisory locks of logs (if
// any) from before it begins until it has ended.
func (s *Store) tryTx(ctx context.Context, iso pgx.TxIsoLevel, logs []string, fn func(pgx.Tx) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer c.Release()
	// Sorted, so two writers to the same logs never wait for each other.
	logs = slices.Sorted(slices.Values(logs))
	for i, log := range logs {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext($2))", logLockClass, log); err != nil {
			unlockLogs(c, logs[:i])
			return fmt.Errorf("postgres: lock log %q: %w", log, err)
		}
	}
	defer unlockLogs(c, logs)
	pgTx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Also runs while a panic unwinds. WithoutCancel: a canceled
			// ctx must still end the transaction; pgx closes the
			// connection if it cannot.
			_ = pgTx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(pgTx); err != nil {
		return err
	}
	done = true
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// unlockLogs releases the advisory locks tryTx took. If it cannot, the
// connection is closed, which releases them.
func unlockLogs(c *pgxpool.Conn, logs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, log := range logs {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", logLockClass, log); err != nil {
			c.Conn().Close(ctx)
			return
		}
	}
}

// retryable reports a conflict another attempt may not have.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// backoff is a random wait in [0, min(maxBackoff, retryBackoff<<attempt)).
func backoff(attempt int) time.Duration {
	d := min(maxBackoff, retryBackoff<<min(attempt, 16))
	return rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// reader is sqlstore.Reader under a name of the package's own, so that
// embedding it in Store adds no exported field.
type reader = sqlstore.Reader
