package servertest

import (
	"testing"

	"github.com/ingestgate/ingestgate/internal/testservices"
)

// RedisURL is the redis-server scripts/test started; see testservices.
func RedisURL(t testing.TB) string { return testservices.RedisURL(t) }

// RedisPrefix is a key and channel prefix no other test uses.
func RedisPrefix(t testing.TB) string { return testservices.RedisPrefix(t) }

// PostgresDB creates a fresh database and returns its URL; see testservices.
func PostgresDB(t testing.TB) string { return testservices.PostgresDB(t) }
