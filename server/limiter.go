package server

import (
	"context"
	"log/slog"

	"github.com/ingestgate/ingestgate/server/ratelimit"
	"github.com/ingestgate/ingestgate/server/ratelimit/local"
)

// nodeLimiter takes from a bucket shared by the cluster (Redis) when there
// is one and it answers, else from this node's own: a Redis outage makes
// limits per node for a while, never stops traffic. Arguments are the
// caller's to keep valid; an invalid one admits (and is a bug).
type nodeLimiter struct {
	local  *local.Limiter
	shared ratelimit.Limiter // nil on one node
	gate   *redisGate
	log    *slog.Logger
	what   string // for the fallback warning
}

func newNodeLimiter(shared ratelimit.Limiter, gate *redisGate, log *slog.Logger, what string) *nodeLimiter {
	return &nodeLimiter{local: local.New(0), shared: shared, gate: gate, log: log, what: what}
}

func (l *nodeLimiter) allow(ctx context.Context, key string, lim ratelimit.Limit, n int) ratelimit.Decision {
	if l.shared != nil {
		var d ratelimit.Decision
		if l.gate.call(ctx, l.log, l.what, func(ctx context.Context) (err error) {
			d, err = l.shared.AllowN(ctx, key, lim, n)
			return err
		}) {
			return d
		}
	}
	d, err := l.local.AllowN(ctx, key, lim, n)
	if err != nil {
		l.log.Error("rate limit called with invalid arguments", slog.String("limit", l.what), slog.Any("error", err))
		return ratelimit.Decision{Allowed: true}
	}
	return d
}
