// Package local is the in-process bus for a single node: Publish hands the
// event to every subscriber's queue and returns. It is the embedded default.
package local

import (
	"context"
	"sync"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/keystore"
)

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.Resubscriber = (*Bus)(nil)
)

// Bus is an in-process bus.Bus. The zero value is not usable; call New.
type Bus struct {
	mu     sync.Mutex
	subs   map[*bus.Delivery]struct{}
	closed bool
	hooks  sync.WaitGroup // OnResubscribe calls under way
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: make(map[*bus.Delivery]struct{})} }

// Publish queues e for every subscription.
func (b *Bus) Publish(ctx context.Context, e keystore.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	for s := range b.subs {
		s.Push(e)
	}
	return nil
}

// Subscribe starts delivering events to h. The returned stop must not be
// called from inside h (it waits for h to return).
func (b *Bus) Subscribe(h bus.Handler) (func(), error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, bus.ErrClosed
	}
	s := bus.NewDelivery(h)
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.End()
	}, nil
}

// OnResubscribe runs fn once: an in-process bus is subscribed from New on
// and never loses an event, so there is no later re-subscription.
func (b *Bus) OnResubscribe(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.hooks.Add(1)
	go func() {
		defer b.hooks.Done()
		fn()
	}()
}

// Close ends every subscription and waits for OnResubscribe calls.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = map[*bus.Delivery]struct{}{}
	b.mu.Unlock()
	for s := range subs {
		s.End()
	}
	b.hooks.Wait()
	return nil
}
