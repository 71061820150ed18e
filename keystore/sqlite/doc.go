// Package sqlite is the embedded keystore.Store backend: one SQLite file
// (pure Go, modernc.org/sqlite) holding workspaces, keys, devices and the
// audit log, with its schema migrations embedded.
//
// It owns the schema and the mapping between SQL and keystore types, and
// nothing else: validation and lifecycle rules live in keystore. It must
// never import server (or bus, sink): they depend on keystore, not the
// reverse.
//
// Concurrency: writes go through a single connection with transactions
// begun IMMEDIATE, so writers queue in-process instead of failing with
// SQLITE_BUSY; reads use a separate pool and, in WAL mode, never wait for
// the writer. RecordUsage queues on the same connection. Do not call
// Store.ReadWrite or RecordUsage from inside a ReadWrite callback: it would
// wait for the connection the outer call holds.
package sqlite
