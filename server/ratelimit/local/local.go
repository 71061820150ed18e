// Package local is the in-process ratelimit.Limiter of a single node:
// golang.org/x/time/rate token buckets, one per key, the least recently
// used dropped past a bound (a dropped bucket starts full again, which
// only ever admits more).
package local

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/ingestgate/ingestgate/server/ratelimit"
)

// DefaultSize bounds the buckets held.
const DefaultSize = 100_000

// Limiter is a ratelimit.Limiter in this process. Safe for concurrent use.
type Limiter struct {
	mu    sync.Mutex
	byKey *lru.Cache[string, *rate.Limiter]
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a limiter holding at most size buckets (DefaultSize if 0).
func New(size int) *Limiter {
	if size <= 0 {
		size = DefaultSize
	}
	c, _ := lru.New[string, *rate.Limiter](size)
	return &Limiter{byKey: c}
}

// AllowN takes n tokens from key's bucket if it has them now.
func (l *Limiter) AllowN(_ context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if err := ratelimit.Check(lim, n); err != nil {
		return ratelimit.Decision{}, err
	}
	b := l.bucket(key, lim)
	now := time.Now()
	res := b.ReserveN(now, n)
	if !res.OK() {
		return ratelimit.Decision{}, ratelimit.ErrTooMany // a concurrent call lowered the burst
	}
	if wait := res.DelayFrom(now); wait > 0 {
		// Give the tokens back: a refused call takes nothing.
		res.CancelAt(now)
		return ratelimit.Decision{RetryAfter: wait}, nil
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// bucket returns key's bucket, set to lim.
func (l *Limiter) bucket(key string, lim ratelimit.Limit) *rate.Limiter {
	every := rate.Limit(float64(lim.Rate) / lim.Period.Seconds())
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.byKey.Get(key)
	if !ok {
		b = rate.NewLimiter(every, lim.Burst)
		l.byKey.Add(key, b)
		return b
	}
	if b.Limit() != every {
		b.SetLimit(every)
	}
	if b.Burst() != lim.Burst {
		b.SetBurst(lim.Burst)
	}
	return b
}
