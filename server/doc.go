// Package server assembles ingestgate: the gRPC services, the interceptors
// that authenticate and recover, the REST gateway, health, and the bootstrap
// of an empty store. It depends on keystore (and later bus and sink); none of
// them may import it.
package server
