package sqlstore

import "time"

// Dialect is what differs between the SQL databases behind the store. Each
// backend supplies one; it must be safe for concurrent use (the backends'
// are stateless).
type Dialect interface {
	// Name is the backend's name, the prefix of every error message:
	// "sqlite", "postgres".
	Name() string
	// Placeholder is the placeholder of the nth argument, from 1. A
	// statement may use one several times, and in any order.
	Placeholder(n int) string

	// SQL fragments. Their parameters are column names and placeholders.

	// HasPair is the condition that the JSON object in column col has the
	// string value at key (both placeholders).
	HasPair(col, key, value string) string
	// HasPrefix is the condition that text column col starts with the
	// string prefix (a placeholder), taken literally: no wildcards.
	HasPrefix(col, prefix string) string
	// ContainsFold is the condition that text column col contains the
	// string s (a placeholder), literally and ignoring ASCII case.
	ContainsFold(col, s string) string
	// In is the condition that col is one of the strings of list, a
	// placeholder for the value ListArg returns.
	In(col, list string) string
	// ListArg is the argument for In: one argument for any number of
	// strings, so there is no limit on their number.
	ListArg(l []string) (any, error)

	// Errors, as the driver returns them (wrapped or not).

	// IsNoRows reports that a single-row read found no row.
	IsNoRows(err error) bool
	// IsUniqueViolation reports a primary key or unique constraint
	// failure: on insert, a duplicate id.
	IsUniqueViolation(err error) bool
	// IsForeignKeyViolation reports a foreign key failure: on insert, a
	// missing workspace.
	IsForeignKeyViolation(err error) bool

	// Codecs whose stored form differs between the databases.

	// TimeArg is the argument storing t; the zero time is NULL, so no real
	// time (not even the Unix epoch) is mistaken for "unset". Stored times
	// keep microseconds.
	TimeArg(t time.Time) any
	// TimeDest is the scan destination of a time column: UTC, the zero
	// time for NULL.
	TimeDest(t *time.Time) any
	// CounterDest is the scan destination of a usage counter (a
	// non-negative BIGINT).
	CounterDest(n *uint64) any
}
