package sqlstore

import "context"

// Querier runs statements on a connection pool or in a transaction. Each
// backend adapts its driver to it; the adapters add no allocation, so the
// hot by-hash lookups cost what the driver's own calls do.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement returning rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a statement returning at most one row; its error, no
	// row included, comes from Scan.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one row of a result: *sql.Row, pgx.Row, or the current row of
// Rows.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result being read, as pgx.Rows is: Close releases it and
// reports nothing, its error is Err's.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}
