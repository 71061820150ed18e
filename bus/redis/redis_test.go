package redis_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/bus/bustest"
	busredis "github.com/ingestgate/ingestgate/bus/redis"
	"github.com/ingestgate/ingestgate/internal/testservices"
)

// testPingInterval is short so that idle pings interleave with the traffic
// of every test, proving they never disturb delivery or re-subscribe.
const testPingInterval = 100 * time.Millisecond

func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (bus.Bus, bus.Bus) {
		prefix := uniquePrefix(t)
		a := newBus(t, newClient(t, "a"), prefix)
		b := newBus(t, newClient(t, "b"), prefix)
		return a, b
	})
}

// newClient returns a client of its own, like one node's, named after the
// test so a test can find and kill exactly its own connections.
func newClient(t *testing.T, node string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(testservices.RedisURL(t))
	if err != nil {
		t.Fatalf("INGESTGATE_TEST_REDIS_URL: %v", err)
	}
	opt.ClientName = clientName(t, node)
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// clientName is unique per test and node and has no spaces (CLIENT LIST
// separates fields with them).
func clientName(t *testing.T, node string) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(fmt.Sprintf("ingestgate-test-%s-%s-%s", t.Name(), node, rand.Text()[:8]))
}

// uniquePrefix isolates a test's channel on a shared Redis server.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("ingestgate-test:%s:%s:", t.Name(), rand.Text()[:8])
}

func newBus(t *testing.T, c goredis.UniversalClient, prefix string) *busredis.Bus {
	t.Helper()
	return newBusWithOptions(t, c, busredis.Options{Prefix: prefix, PingInterval: testPingInterval})
}

func newBusWithOptions(t *testing.T, c goredis.UniversalClient, opts busredis.Options) *busredis.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := busredis.New(ctx, c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
