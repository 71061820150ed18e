package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// usageTracker sums what devices send and writes it to the store in the
// background (last_used_time, counters, last_seen_time), so the hot path
// only touches memory. A crash loses at most one flush interval of counts,
// never telemetry.
type usageTracker struct {
	store keystore.Store
	log   *slog.Logger

	mu      sync.Mutex
	keys    map[string]*keystore.KeyUsage // by key id
	devices map[deviceKey]time.Time
}

type deviceKey struct{ ws, id string }

func newUsageTracker(store keystore.Store, log *slog.Logger) *usageTracker {
	return &usageTracker{store: store, log: log, keys: map[string]*keystore.KeyUsage{}, devices: map[deviceKey]time.Time{}}
}

// add counts one stored batch of n records.
func (u *usageTracker) add(ws, keyID, deviceID string, n int, at time.Time) {
	now := storeTime(at)
	u.mu.Lock()
	k := u.keys[keyID]
	if k == nil {
		k = &keystore.KeyUsage{WorkspaceID: ws, KeyID: keyID}
		u.keys[keyID] = k
	}
	k.Records += uint64(n)
	k.Batches++
	k.LastUsed = now
	u.devices[deviceKey{ws, deviceID}] = now
	u.mu.Unlock()
}

// flush writes what was counted since the last flush. On failure the counts
// are merged back for the next attempt.
func (u *usageTracker) flush(ctx context.Context) {
	u.mu.Lock()
	keys, devices := u.keys, u.devices
	u.keys, u.devices = map[string]*keystore.KeyUsage{}, map[deviceKey]time.Time{}
	u.mu.Unlock()
	if len(keys) == 0 && len(devices) == 0 {
		return
	}
	ku := make([]keystore.KeyUsage, 0, len(keys))
	for _, k := range keys {
		ku = append(ku, *k)
	}
	ds := make([]keystore.DeviceSeen, 0, len(devices))
	for d, t := range devices {
		ds = append(ds, keystore.DeviceSeen{WorkspaceID: d.ws, DeviceID: d.id, LastSeen: t})
	}
	if err := u.store.RecordUsage(ctx, ku, ds); err != nil {
		u.log.Warn("flush usage; will retry", slog.Any("error", err))
		u.mu.Lock()
		for id, k := range keys {
			if cur := u.keys[id]; cur != nil {
				cur.Records += k.Records
				cur.Batches += k.Batches
				cur.LastUsed = maxTime(cur.LastUsed, k.LastUsed)
			} else {
				u.keys[id] = k
			}
		}
		for d, t := range devices {
			u.devices[d] = maxTime(u.devices[d], t)
		}
		u.mu.Unlock()
	}
}

// run flushes every interval until ctx ends, then once more.
func (u *usageTracker) run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() { u.flush(ctx) })
	final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u.flush(final)
}

// every runs fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			fn()
		case <-ctx.Done():
			return
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
