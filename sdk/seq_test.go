package sdk

import (
	"testing"
	"time"
)

func TestFirstSeq(t *testing.T) {
	now := time.Now()
	if got := firstSeq(now); got != uint64(now.UnixNano()) {
		t.Fatalf("firstSeq(now) = %d, want the time in nanoseconds", got)
	}
	// An unset clock must not repeat the seqs of the last boot.
	boot := time.Unix(42, 0)
	a, b := firstSeq(boot), firstSeq(boot)
	if a == b || a < 1<<62 || b < 1<<62 || a >= 1<<63 {
		t.Fatalf("firstSeq at 1970: %d and %d; want distinct values in [2^62, 2^63)", a, b)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	c := &Client{cfg: config{backoffInitial: 100 * time.Millisecond, backoffMax: 30 * time.Second}}
	huge := &Client{cfg: config{backoffInitial: time.Hour, backoffMax: 1 << 62}}
	for attempt := range 100 {
		if d := huge.backoff(attempt); d < 0 {
			t.Fatalf("backoff(%d) overflowed: %v", attempt, d)
		}
	}
	for attempt, ceil := range map[int]time.Duration{
		0: 100 * time.Millisecond, 1: 200 * time.Millisecond, 5: 3200 * time.Millisecond,
		9: 30 * time.Second, 40: 30 * time.Second, 1000: 30 * time.Second,
	} {
		for range 1000 {
			if d := c.backoff(attempt); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempt, d, ceil)
			}
		}
	}
}
