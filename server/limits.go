package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/ratelimit"
	"github.com/ingestgate/ingestgate/server/ratelimit/local"
)

// keyLimits applies each ingest key's records per second to its streams
// and Publish calls together. On one node the buckets are in process; in
// a cluster (shared set) they are in Redis, one budget for the key across
// every node. If Redis fails, the node falls back to its own bucket, so a
// key is never stopped by a Redis outage, only limited per node.
type keyLimits struct {
	defaultRate uint32 // 0: unlimited
	maxBatch    int
	local       *local.Limiter
	shared      ratelimit.Limiter // nil on one node
	log         *slog.Logger
	gate        *redisGate // shared with clusterSeats

	mu    sync.Mutex
	rates *lru.Cache[string, uint32] // key id -> rate as last read
}

func newKeyLimits(defaultRate uint32, maxBatch int, shared ratelimit.Limiter, gate *redisGate, log *slog.Logger) *keyLimits {
	c, _ := lru.New[string, uint32](local.DefaultSize)
	return &keyLimits{defaultRate: defaultRate, maxBatch: maxBatch, local: local.New(0), shared: shared, gate: gate, log: log, rates: c}
}

func (l *keyLimits) rateOf(k *keystore.IngestKey) uint32 {
	if k.Limits.RecordsPerSecond > 0 {
		return k.Limits.RecordsPerSecond
	}
	return l.defaultRate
}

// update records the key's limit as just read, so streams opened under an
// older reading follow the change.
func (l *keyLimits) update(k *keystore.IngestKey) {
	l.mu.Lock()
	l.rates.Add(k.ID, l.rateOf(k))
	l.mu.Unlock()
}

func (l *keyLimits) current(k *keystore.IngestKey) uint32 {
	l.mu.Lock()
	r, ok := l.rates.Get(k.ID)
	l.mu.Unlock()
	if !ok {
		return l.rateOf(k)
	}
	return r
}

// take admits n records of key k now, or says how long to wait before
// asking again, with the key's rate. A refusal takes nothing, so a client
// that waits as told gets in unless its other streams took the tokens
// meanwhile. The burst is at least one full batch, so a legal batch is
// delayed, never refused for good.
func (l *keyLimits) take(ctx context.Context, k *keystore.IngestKey, n int) (time.Duration, uint32) {
	r := l.current(k)
	if r == 0 {
		return 0, 0
	}
	lim := ratelimit.PerSecond(int(r), max(int(r), l.maxBatch))
	n = min(n, lim.Burst)
	if l.shared != nil {
		var d ratelimit.Decision
		if l.gate.call(ctx, l.log, "cluster rate limit", func(ctx context.Context) (err error) {
			d, err = l.shared.AllowN(ctx, "key:"+k.ID, lim, n)
			return err
		}) {
			return d.RetryAfter, r
		}
	}
	d, _ := l.local.AllowN(ctx, k.ID, lim, n) // arguments valid: checked above
	return d.RetryAfter, r
}
