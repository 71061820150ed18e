package ratelimit

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Prefetch wraps a shared (remote) Limiter so that busy keys cost one
// remote call per slice of their rate instead of one per call: a miss takes
// a twentieth of the rate (50 ms of a per-second limit) at once and serves
// the following calls on this node from it. Tokens are taken before they
// are used, so the cluster never admits more than the limit; the price is
// that a node may hold up to one slice it does not use, which it drops
// after maxHold. Calls for one key on one node wait for each other while a
// remote call is in flight, so a burst of them shares one round trip.
//
// Near the limit, when the bucket cannot spare a slice, exactly the tokens
// still missing are asked for, so a key at its limit is neither over- nor
// under-served by more than one slice per node.
type Prefetch struct {
	remote  Limiter
	maxHold time.Duration
	mu      sync.Mutex
	byKey   *lru.Cache[string, *slice]
}

type slice struct {
	mu     sync.Mutex
	tokens int
	until  time.Time // tokens are dropped after this
}

var _ Limiter = (*Prefetch)(nil)

// prefetchShare is the part of the rate one remote call takes.
const prefetchShare = 20

// NewPrefetch wraps remote; a slice is held for at most maxHold (0: 100 ms).
func NewPrefetch(remote Limiter, maxHold time.Duration) *Prefetch {
	if maxHold <= 0 {
		maxHold = 100 * time.Millisecond
	}
	c, _ := lru.New[string, *slice](100_000)
	return &Prefetch{remote: remote, maxHold: maxHold, byKey: c}
}

func (p *Prefetch) sliceOf(key string) *slice {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.byKey.Get(key)
	if !ok {
		s = &slice{}
		p.byKey.Add(key, s)
	}
	return s
}

// AllowN serves n from the key's slice on this node, or refills it.
func (p *Prefetch) AllowN(ctx context.Context, key string, l Limit, n int) (Decision, error) {
	if err := Check(l, n); err != nil {
		return Decision{}, err
	}
	s := p.sliceOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.After(s.until) {
		s.tokens = 0
	}
	if s.tokens >= n {
		s.tokens -= n
		return Decision{Allowed: true}, nil
	}
	need := n - s.tokens
	if want := min(max(need, l.Rate/prefetchShare), l.Burst); want > need {
		d, err := p.remote.AllowN(ctx, key, l, want)
		if err != nil {
			return Decision{}, err
		}
		if d.Allowed {
			s.tokens += want - n
			s.until = now.Add(p.maxHold)
			return Decision{Allowed: true}, nil
		}
	}
	d, err := p.remote.AllowN(ctx, key, l, need)
	if err != nil || !d.Allowed {
		return d, err
	}
	s.tokens = 0
	return Decision{Allowed: true}, nil
}
