package server

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ingestgate/ingestgate/server/ratelimit"
)

// authGuard slows and then refuses a client address that keeps presenting
// credentials that fail (guessing keys): each failure takes a token from
// the address's bucket (per minute, shared by the cluster through Redis);
// once failures pass half of it, each further failed answer is delayed
// (100 ms, doubling to 2 s); once the bucket is empty the address is
// refused with RESOURCE_EXHAUSTED until it refills, before its credentials
// are even checked. Other addresses are not affected.
type authGuard struct {
	buckets *nodeLimiter
	lim     ratelimit.Limit // Rate 0: the guard is off
	sleep   func(ctx context.Context, d time.Duration)

	mu    sync.Mutex
	peers *lru.Cache[string, *peerFailures]
}

// peerFailures is this node's view of one address: recent failures (for
// the slowing) and when a refusal ends.
type peerFailures struct {
	windowStart  time.Time
	fails        int
	blockedUntil time.Time
}

func newAuthGuard(buckets *nodeLimiter, perMinute int) *authGuard {
	c, _ := lru.New[string, *peerFailures](100_000)
	return &authGuard{
		buckets: buckets,
		lim:     ratelimit.Limit{Rate: perMinute, Period: time.Minute, Burst: perMinute},
		sleep:   sleepCtx,
		peers:   c,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// check refuses an address that is blocked, before any credential check.
func (g *authGuard) check(ip string) error {
	if g.lim.Rate == 0 || ip == "" {
		return nil
	}
	g.mu.Lock()
	p, ok := g.peers.Get(addrKey(ip))
	var until time.Time
	if ok {
		until = p.blockedUntil
	}
	g.mu.Unlock()
	if wait := time.Until(until); wait > 0 {
		return tooManyFailures(wait)
	}
	return nil
}

// failed records a failed credential check from ip. It returns the error
// to answer instead of the caller's own when the address just ran out of
// attempts; otherwise it may first delay (the slowing) and returns nil.
func (g *authGuard) failed(ctx context.Context, ip string) error {
	if g.lim.Rate == 0 || ip == "" {
		return nil
	}
	key := addrKey(ip)
	d := g.buckets.allow(ctx, "authfail:"+key, g.lim, 1)
	now := time.Now()
	g.mu.Lock()
	p, ok := g.peers.Get(key)
	if !ok {
		p = &peerFailures{}
		g.peers.Add(key, p)
	}
	if now.Sub(p.windowStart) > g.lim.Period {
		p.windowStart, p.fails = now, 0
	}
	p.fails++
	if !d.Allowed {
		p.blockedUntil = now.Add(d.RetryAfter)
	}
	over := p.fails - g.lim.Burst/2
	g.mu.Unlock()
	if !d.Allowed {
		return tooManyFailures(d.RetryAfter)
	}
	if over > 0 {
		g.sleep(ctx, min(100*time.Millisecond<<min(over-1, 5), 2*time.Second))
	}
	return nil
}

func tooManyFailures(wait time.Duration) error {
	return retryAfter(wait, "too many failed credential checks from this address; retry after %s", wait.Round(time.Second))
}
