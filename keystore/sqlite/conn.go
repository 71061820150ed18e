package sqlite

import (
	"context"
	"database/sql"

	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

// querier is what reads and writes need from *sql.DB and *sql.Tx alike.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn adapts a querier to sqlstore.Querier. The read pool's conn also
// holds the hot lookups (sqlstore.Queries.HotQueries) prepared on it, and
// runs them prepared; a transaction's conn has none and runs them
// unprepared.
type conn struct {
	q        querier
	prepared []prepared
}

type prepared struct {
	query string
	st    *sql.Stmt
}

func (c *conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c *conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c *conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	// Comparing is cheap: the lengths differ, or query is the prepared
	// string itself (memequal checks the pointers first); a map would hash
	// every query in full.
	for _, p := range c.prepared {
		if p.query == query {
			return p.st.QueryRowContext(ctx, args...)
		}
	}
	return c.q.QueryRowContext(ctx, query, args...)
}

// sqlRows is *sql.Rows with sqlstore's Close, which reports nothing: an
// error reading the rows is Err's.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
