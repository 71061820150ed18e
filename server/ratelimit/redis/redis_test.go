package redis_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/server/ratelimit"
	"github.com/ingestgate/ingestgate/server/ratelimit/ratelimittest"
	rlredis "github.com/ingestgate/ingestgate/server/ratelimit/redis"
)

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) (ratelimit.Limiter, ratelimit.Limiter) {
		prefix := testservices.RedisPrefix(t)
		// Two clients, as two nodes hold them.
		return rlredis.NewLimiter(testservices.RedisClient(t), prefix), rlredis.NewLimiter(testservices.RedisClient(t), prefix)
	})
}

// Prefetch over Redis is what a cluster node uses; it must keep every
// promise of the suite.
func TestPrefetchConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) (ratelimit.Limiter, ratelimit.Limiter) {
		prefix := testservices.RedisPrefix(t)
		return ratelimit.NewPrefetch(rlredis.NewLimiter(testservices.RedisClient(t), prefix), 0),
			ratelimit.NewPrefetch(rlredis.NewLimiter(testservices.RedisClient(t), prefix), 0)
	})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newSeats returns two nodes' Seats on one prefix.
func newSeats(t *testing.T, ttl time.Duration) (*rlredis.Seats, *rlredis.Seats) {
	prefix := testservices.RedisPrefix(t)
	a := rlredis.NewSeats(testservices.RedisClient(t), prefix, ttl, quiet)
	b := rlredis.NewSeats(testservices.RedisClient(t), prefix, ttl, quiet)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a, b
}

func take(t *testing.T, s *rlredis.Seats, claims ...rlredis.Claim) (string, int) {
	t.Helper()
	lease, full, err := s.Take(context.Background(), claims...)
	if err != nil {
		t.Fatal(err)
	}
	if (lease == "") != (full >= 0) {
		t.Fatalf("Take = %q, %d: a lease exactly when nothing is full", lease, full)
	}
	return lease, full
}

func count(t *testing.T, s *rlredis.Seats, name string) int {
	t.Helper()
	n, err := s.Count(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSeatsAcrossNodes(t *testing.T) {
	a, b := newSeats(t, 0)
	key := rlredis.Claim{Name: "key:k1", Max: 2}
	l1, _ := take(t, a, key)
	l2, _ := take(t, b, key)
	if _, full := take(t, a, key); full != 0 {
		t.Fatalf("a third seat of a key limited to 2: full = %d, want 0", full)
	}
	if n := count(t, b, "key:k1"); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	a.Release(l1)
	a.Release("") // no lease: nothing
	// Release does not wait; the seat is gone from Redis soon after.
	for deadline := time.Now().Add(5 * time.Second); count(t, b, "key:k1") != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released seat is still counted after 5s")
		}
	}
	if l3, full := take(t, b, key); full >= 0 || l3 == l2 {
		t.Fatalf("after a release: lease %q full %d", l3, full)
	}
}

// Claims are all or nothing: a full device set leaves the key's seat free.
func TestSeatsAllOrNothing(t *testing.T) {
	a, _ := newSeats(t, 0)
	key := rlredis.Claim{Name: "key:k", Max: 10}
	dev := rlredis.Claim{Name: "dev:w/d", Max: 1}
	take(t, a, key, dev)
	if _, full := take(t, a, key, dev); full != 1 {
		t.Fatalf("second seat of a device limited to 1: full = %d, want 1", full)
	}
	if n := count(t, a, "key:k"); n != 1 {
		t.Fatalf("the refused take left a key seat: Count = %d, want 1", n)
	}
	unlimited := rlredis.Claim{Name: "key:u"}
	for range 5 {
		take(t, a, unlimited)
	}
	if n := count(t, a, "key:u"); n != 5 {
		t.Fatalf("Max 0 counts without limit: Count = %d, want 5", n)
	}
}

// A node that stops renewing (it died) frees its seats after the TTL; a
// live node's renewals keep its seats well past the TTL.
func TestSeatsLeaseExpiry(t *testing.T) {
	const ttl = 300 * time.Millisecond
	alive, dead := newSeats(t, ttl)
	take(t, alive, rlredis.Claim{Name: "key:k"})
	take(t, dead, rlredis.Claim{Name: "key:k"})
	dead.Close()
	time.Sleep(4 * ttl)
	if n := count(t, alive, "key:k"); n != 1 {
		t.Fatalf("after the TTL: Count = %d, want 1 (the live node's seat only)", n)
	}
}
