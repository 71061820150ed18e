// Package keystore owns ingestgate's credentials and the records they act on:
// the token format, hashing, the Store interface with its rules, lifecycle
// transitions of keys, input validation, and the verification cache.
//
// It never imports server, bus or sink: they depend on it, not the reverse.
// Backends live in subpackages (keystore/sqlite) and pass keystore/storetest.
package keystore
