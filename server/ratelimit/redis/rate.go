// Package redis holds the Redis-backed limits of a cluster: a
// ratelimit.Limiter every node shares (GCRA through go-redis/redis_rate,
// timed by the Redis server's clock, so node clocks do not matter), and
// Seats, which counts a key's or a device's open streams across nodes.
package redis

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/server/ratelimit"
)

// Limiter is a ratelimit.Limiter in Redis. Its buckets are the keys
// "rate:<prefix><key>" (redis_rate adds "rate:"), expiring once full again.
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter over c whose keys start with prefix.
func NewLimiter(c goredis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(c), prefix: prefix}
}

// AllowN takes n tokens from key's bucket if it has them now: one round
// trip, atomic in Redis.
func (l *Limiter) AllowN(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if err := ratelimit.Check(lim, n); err != nil {
		return ratelimit.Decision{}, err
	}
	res, err := l.rl.AllowN(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}, n)
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if res.Allowed < n {
		return ratelimit.Decision{RetryAfter: max(res.RetryAfter, 1)}, nil
	}
	return ratelimit.Decision{Allowed: true}, nil
}
