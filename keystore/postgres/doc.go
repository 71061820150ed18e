// Package postgres is the keystore.Store backend for PostgreSQL (pgx,
// pgxpool): workspaces, keys, devices and the audit log in one database,
// shared by every node, with its schema migrations embedded.
//
// It owns the schema and the mapping between SQL and keystore types, and
// nothing else: validation and lifecycle rules live in keystore. It must
// never import server (or bus, sink): they depend on keystore, not the
// reverse.
//
// Concurrency: ReadWrite runs its callback in a SERIALIZABLE transaction,
// so a read-modify-write (get a key, rotate it, update it) behaves as it
// does on the single-writer SQLite backend even with several nodes
// writing; PostgreSQL aborts the loser of a conflict with SQLSTATE 40001
// (or 40P01 for a deadlock) and ReadWrite runs the callback again, a
// bounded number of times. RecordUsage runs at READ COMMITTED instead:
// its updates add to counters and take the later of two times, which
// commute, so a concurrent flush waits for the row instead of failing.
// Do not call Store.ReadWrite or RecordUsage from inside a ReadWrite
// callback.
package postgres
