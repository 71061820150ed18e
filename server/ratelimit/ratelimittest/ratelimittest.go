// Package ratelimittest is the conformance suite of ratelimit.Limiter
// backends.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/server/ratelimit"
)

// NewPair returns two handles on one fresh backend, as two nodes would
// hold them: what one takes, the other cannot.
type NewPair func(t *testing.T) (a, b ratelimit.Limiter)

// Run runs the suite.
func Run(t *testing.T, newPair NewPair) {
	t.Run("burst then refused", func(t *testing.T) { testBurst(t, newPair) })
	t.Run("refusal takes nothing", func(t *testing.T) { testRefusalTakesNothing(t, newPair) })
	t.Run("keys independent", func(t *testing.T) { testKeysIndependent(t, newPair) })
	t.Run("shared by handles", func(t *testing.T) { testShared(t, newPair) })
	t.Run("invalid arguments", func(t *testing.T) { testInvalid(t, newPair) })
	t.Run("never above the rate", func(t *testing.T) { testNeverAboveRate(t, newPair) })
}

func key() string { return "k-" + rand.Text()[:10] }

func allow(t *testing.T, l ratelimit.Limiter, k string, lim ratelimit.Limit, n int) ratelimit.Decision {
	t.Helper()
	d, err := l.AllowN(context.Background(), k, lim, n)
	if err != nil {
		t.Fatalf("AllowN(%s, %d): %v", k, n, err)
	}
	if d.Allowed != (d.RetryAfter == 0) {
		t.Fatalf("AllowN(%s, %d) = %+v: RetryAfter must be set exactly when refused", k, n, d)
	}
	return d
}

// A slow rate (1 per 10 s) so the test's own pace refills nothing.
var slow = ratelimit.Limit{Rate: 1, Period: 10 * time.Second, Burst: 5}

func testBurst(t *testing.T, newPair NewPair) {
	a, _ := newPair(t)
	k := key()
	if d := allow(t, a, k, slow, 3); !d.Allowed {
		t.Fatalf("3 of a fresh burst of 5 refused: %+v", d)
	}
	if d := allow(t, a, k, slow, 2); !d.Allowed {
		t.Fatalf("the last 2 of a burst of 5 refused: %+v", d)
	}
	d := allow(t, a, k, slow, 1)
	if d.Allowed {
		t.Fatal("a 6th event within a burst of 5 was admitted")
	}
	// One token comes back every 10 s.
	if d.RetryAfter > 10*time.Second+100*time.Millisecond || d.RetryAfter < 9*time.Second {
		t.Fatalf("RetryAfter = %v, want about 10s", d.RetryAfter)
	}
	if d := allow(t, a, k, slow, 0); !d.Allowed {
		t.Fatalf("0 events refused: %+v", d)
	}
}

func testRefusalTakesNothing(t *testing.T, newPair NewPair) {
	a, _ := newPair(t)
	k := key()
	fast := ratelimit.PerSecond(20, 2) // a token every 50 ms
	allow(t, a, k, fast, 2)
	var d ratelimit.Decision
	for range 5 { // refusals in a row do not pile up debt
		if d = allow(t, a, k, fast, 2); d.Allowed {
			t.Fatal("2 events admitted right after the burst was spent")
		}
	}
	if d.RetryAfter > 110*time.Millisecond {
		t.Fatalf("RetryAfter = %v after refusals, want at most 100ms: refused calls took tokens", d.RetryAfter)
	}
	time.Sleep(d.RetryAfter + 20*time.Millisecond)
	if d := allow(t, a, k, fast, 2); !d.Allowed {
		t.Fatalf("refused after waiting as told: %+v", d)
	}
}

func testKeysIndependent(t *testing.T, newPair NewPair) {
	a, _ := newPair(t)
	k1, k2 := key(), key()
	allow(t, a, k1, slow, slow.Burst)
	if d := allow(t, a, k2, slow, slow.Burst); !d.Allowed {
		t.Fatalf("another key's burst refused: %+v", d)
	}
}

func testShared(t *testing.T, newPair NewPair) {
	a, b := newPair(t)
	k := key()
	allow(t, a, k, slow, 4)
	if d := allow(t, b, k, slow, 2); d.Allowed {
		t.Fatal("b admitted 2 when a had taken 4 of a burst of 5")
	}
	if d := allow(t, b, k, slow, 1); !d.Allowed {
		t.Fatalf("b refused the last token: %+v", d)
	}
	if d := allow(t, a, k, slow, 1); d.Allowed {
		t.Fatal("a admitted an event after b took the last token")
	}
}

func testInvalid(t *testing.T, newPair NewPair) {
	a, _ := newPair(t)
	ctx := context.Background()
	if _, err := a.AllowN(ctx, key(), slow, slow.Burst+1); !errors.Is(err, ratelimit.ErrTooMany) {
		t.Fatalf("more than the burst: %v, want ErrTooMany", err)
	}
	for _, lim := range []ratelimit.Limit{{}, {Rate: 1, Burst: 1}, {Rate: 1, Period: time.Second}, {Period: time.Second, Burst: 1}} {
		if _, err := a.AllowN(ctx, key(), lim, 1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Fatalf("limit %+v: %v, want ErrInvalidLimit", lim, err)
		}
	}
	if _, err := a.AllowN(ctx, key(), slow, -1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("n = -1: %v, want ErrInvalidLimit", err)
	}
}

// Callers on both handles racing for one key never get more than the
// burst plus the rate over the time they ran, however they interleave.
func testNeverAboveRate(t *testing.T, newPair NewPair) {
	a, b := newPair(t)
	k := key()
	lim := ratelimit.PerSecond(100, 10)
	var admitted atomic.Int64
	start := time.Now()
	stop := start.Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 6 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for time.Now().Before(stop) {
				d, err := l.AllowN(context.Background(), k, lim, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					admitted.Add(1)
				} else {
					time.Sleep(min(d.RetryAfter, time.Until(stop)))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	ceiling := int64(lim.Burst) + int64(elapsed.Seconds()*float64(lim.Rate)) + 1
	got := admitted.Load()
	if got > ceiling {
		t.Fatalf("admitted %d events in %v, more than burst + rate allow (%d)", got, elapsed, ceiling)
	}
	if got <= int64(lim.Burst) {
		t.Fatalf("admitted %d events in %v: nothing after the burst", got, elapsed)
	}
	t.Logf("admitted %d of at most %d in %v", got, ceiling, elapsed)
}
