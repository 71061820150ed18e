package server

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/ingestgate/ingestgate/keystore"
)

// keyLimiters holds one records-per-second token bucket per ingest key, on
// this node, shared by the key's streams and its Publish calls. (A
// cluster-wide limit through Redis comes with the cluster mode.)
type keyLimiters struct {
	defaultRate uint32 // 0: unlimited
	maxBatch    int
	mu          sync.Mutex
	byKey       *lru.Cache[string, *rate.Limiter]
}

func newKeyLimiters(defaultRate uint32, maxBatch int) *keyLimiters {
	c, _ := lru.New[string, *rate.Limiter](100_000)
	return &keyLimiters{defaultRate: defaultRate, maxBatch: maxBatch, byKey: c}
}

func (l *keyLimiters) rateOf(k *keystore.IngestKey) uint32 {
	if k.Limits.RecordsPerSecond > 0 {
		return k.Limits.RecordsPerSecond
	}
	return l.defaultRate
}

// burst lets one full batch through even when the rate is below the batch
// size, so a legal batch is delayed, never refused.
func (l *keyLimiters) burst(r uint32) int { return max(int(r), l.maxBatch) }

// get returns the key's limiter, or nil when the key is unlimited.
func (l *keyLimiters) get(k *keystore.IngestKey) *rate.Limiter {
	r := l.rateOf(k)
	if r == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byKey.Get(k.ID)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(r), l.burst(r))
		l.byKey.Add(k.ID, lim)
	}
	return lim
}

// update applies a changed limit to the key's existing limiter.
func (l *keyLimiters) update(k *keystore.IngestKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byKey.Get(k.ID)
	if !ok {
		return
	}
	r := l.rateOf(k)
	if r == 0 {
		l.byKey.Remove(k.ID)
		return
	}
	if lim.Limit() != rate.Limit(r) {
		lim.SetLimit(rate.Limit(r))
		lim.SetBurst(l.burst(r))
	}
}

// reserve takes n records from the key's bucket and returns how long until
// they may be stored (0: at once) and the key's rate. A caller that will
// wait (a stream) keeps its reservation. One that will not (Publish, which
// answers 429) gives it back when it would have to wait, so a client that
// retries after that long is admitted; a kept reservation would spend the
// tokens the retry needs, and the retry would be told to wait again.
func (l *keyLimiters) reserve(k *keystore.IngestKey, n int, willWait bool) (time.Duration, uint32) {
	lim := l.get(k)
	if lim == nil {
		return 0, 0
	}
	now := time.Now()
	res := lim.ReserveN(now, n)
	if !res.OK() {
		return time.Second, l.rateOf(k) // cannot happen: burst >= max batch
	}
	wait := res.DelayFrom(now)
	if wait > 0 && !willWait {
		res.CancelAt(now)
	}
	return wait, l.rateOf(k)
}
