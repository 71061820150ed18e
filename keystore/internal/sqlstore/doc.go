// Package sqlstore is the SQL layer the keystore's SQL backends share: the
// table descriptions and the statements derived from them, the
// keystore.Reader and keystore.Tx implementations, the column codecs that
// do not depend on the database, and the mapping of driver errors to
// keystore's sentinels.
//
// A backend supplies what is its own: a Dialect (placeholders, the few SQL
// fragments that differ, error classification, the time and counter
// codecs) and a Querier over its driver, and keeps everything around them:
// opening and migrating the database, transactions, RecordUsage, Ping and
// Close.
//
// Statements in this package are written with $n placeholders; New renders
// them once with the Dialect's. Adding a table is one file here (its table,
// arguments, scan, Reader and Tx methods, and its statements in Queries)
// plus a migration in each backend.
//
// It is internal to keystore: only the backends import it.
package sqlstore
