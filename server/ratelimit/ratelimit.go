// Package ratelimit admits events against named token buckets: the records
// per second of an ingest key now, and the auth endpoints later. Backends:
// local (one node, in process) and redis (shared by every node of a
// cluster, so a key's rate is one budget however its devices spread over
// the nodes). Both pass ratelimittest.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Limit is Rate events per Period, with Burst events admitted at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerSecond is rate events per second with the given burst.
func PerSecond(rate, burst int) Limit {
	return Limit{Rate: rate, Period: time.Second, Burst: burst}
}

// Valid reports whether l describes a bucket that can admit anything.
func (l Limit) Valid() bool { return l.Rate > 0 && l.Period > 0 && l.Burst > 0 }

// Decision is the answer to one AllowN.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the same call would be allowed, when
	// it was not (0 when it was).
	RetryAfter time.Duration
}

// ErrTooMany is AllowN's answer to more events than the burst: they could
// never be admitted at once, whatever the wait.
var ErrTooMany = errors.New("ratelimit: more events than the burst")

// ErrInvalidLimit is AllowN's answer to a Limit that is not Valid.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Limiter takes events from token buckets named by key. A refused call
// takes nothing, so a caller that waits RetryAfter and asks again is
// admitted unless others took the tokens meanwhile. The Limit is given
// with every call: a changed limit applies from the next call on.
type Limiter interface {
	AllowN(ctx context.Context, key string, l Limit, n int) (Decision, error)
}

// Check validates the arguments of AllowN, for backends.
func Check(l Limit, n int) error {
	if !l.Valid() || n < 0 {
		return ErrInvalidLimit
	}
	if n > l.Burst {
		return ErrTooMany
	}
	return nil
}
