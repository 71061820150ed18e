package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ingestgate/ingestgate/keystore"
	rlredis "github.com/ingestgate/ingestgate/server/ratelimit/redis"
	"github.com/ingestgate/ingestgate/server/registry"
)

// clusterSeats applies the stream limits of a key and of a device across
// every node (Redis); the registry applies them on this node first, which
// is all there is on one node. nil without Redis.
type clusterSeats struct {
	seats *rlredis.Seats
	log   *slog.Logger
	gate  *redisGate // shared with keyLimits
}

// take claims the stream's seats. Over a limit it refuses the stream; when
// Redis cannot say, it admits it (the per-node limits still hold) and
// warns: a Redis outage must not stop a fleet.
func (c *clusterSeats) take(ctx context.Context, st *registry.Stream, k *keystore.IngestKey, maxPerKey, maxPerDevice int) error {
	if c == nil {
		return nil
	}
	var lease string
	var full int
	if !c.gate.call(ctx, c.log, "cluster stream limits", func(ctx context.Context) (err error) {
		lease, full, err = c.seats.Take(ctx,
			rlredis.Claim{Name: "key:" + k.ID, Max: maxPerKey},
			rlredis.Claim{Name: "dev:" + st.WorkspaceID + "/" + st.DeviceID, Max: maxPerDevice})
		return err
	}) {
		return nil
	}
	switch full {
	case 0:
		return status.Errorf(codes.ResourceExhausted, "ingest key %s has too many open streams across the cluster; close one first", k.DisplayPrefix)
	case 1:
		return status.Errorf(codes.ResourceExhausted, "device %s has too many open streams across the cluster; close one first", st.DeviceID)
	}
	st.Seat = lease
	return nil
}

// release gives the stream's seats back, without waiting on Redis.
func (c *clusterSeats) release(st *registry.Stream) {
	if c != nil && st.Seat != "" {
		c.seats.Release(st.Seat)
	}
}

func (c *clusterSeats) close() {
	if c != nil {
		c.seats.Close()
	}
}

// redisGate keeps a node's limits off Redis for a while after a Redis call
// failed, so an outage costs connects and batches one failed call per
// second instead of one each (a blackholed Redis would otherwise cost
// every call its timeout). It warns at most every 10 s.
type redisGate struct {
	downUntil atomic.Int64 // unix nanoseconds
	lastWarn  atomic.Int64 // unix seconds
}

const (
	redisRetryAfter  = time.Second
	redisCallTimeout = 500 * time.Millisecond
)

// call runs fn with a bounded context unless Redis failed within the last
// second, and reports whether it answered. A failure of the caller's own
// ctx says nothing about Redis.
func (g *redisGate) call(ctx context.Context, log *slog.Logger, what string, fn func(ctx context.Context) error) bool {
	if time.Now().UnixNano() < g.downUntil.Load() {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	err := fn(cctx)
	cancel()
	if err == nil || ctx.Err() != nil {
		return err == nil
	}
	now := time.Now()
	g.downUntil.Store(now.Add(redisRetryAfter).UnixNano())
	if last := g.lastWarn.Load(); now.Unix()-last >= 10 && g.lastWarn.CompareAndSwap(last, now.Unix()) {
		log.Warn(what+" unavailable; applying limits per node until Redis answers", slog.Any("error", err))
	}
	return false
}
