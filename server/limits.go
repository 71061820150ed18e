package server

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/ratelimit"
	"github.com/ingestgate/ingestgate/server/ratelimit/local"
)

// keyLimits applies each ingest key's records per second to its streams
// and Publish calls together: in process on one node, in Redis (one budget
// across the nodes, prefetched in slices) in a cluster.
type keyLimits struct {
	defaultRate uint32 // 0: unlimited
	maxBatch    int
	buckets     *nodeLimiter

	rates *lru.Cache[string, uint32] // key id -> rate as last read; safe for concurrent use
}

func newKeyLimits(defaultRate uint32, maxBatch int, buckets *nodeLimiter) *keyLimits {
	c, _ := lru.New[string, uint32](local.DefaultSize)
	return &keyLimits{defaultRate: defaultRate, maxBatch: maxBatch, buckets: buckets, rates: c}
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
	l.rates.Add(k.ID, l.rateOf(k))
}

func (l *keyLimits) current(k *keystore.IngestKey) uint32 {
	r, ok := l.rates.Get(k.ID)
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
	return l.buckets.allow(ctx, "key:"+k.ID, lim, min(n, lim.Burst)).RetryAfter, r
}
