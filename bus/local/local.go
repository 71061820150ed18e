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
	subs   map[*subscription]struct{}
	closed bool
	hooks  sync.WaitGroup // OnResubscribe calls under way
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: make(map[*subscription]struct{})} }

// subscription delivers from an unbounded queue on its own goroutine, so a
// slow handler never blocks Publish (which runs on the committing request)
// and events are never dropped inside one process.
type subscription struct {
	h      bus.Handler
	mu     sync.Mutex
	queue  []keystore.Event
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// end stops delivery and waits for a handler call under way to return.
func (s *subscription) end() {
	s.once.Do(func() { close(s.done) })
	<-s.exited
}

func (s *subscription) run() {
	defer close(s.exited)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range batch {
			select {
			case <-s.done:
				return
			default:
			}
			s.h(e)
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

func (s *subscription) push(e keystore.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // already woken; it will see the queue
	}
}

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
		s.push(e)
	}
	return nil
}

// Subscribe starts delivering events to h. The returned stop must not be
// called from inside h (it waits for h to return).
func (b *Bus) Subscribe(h bus.Handler) (func(), error) {
	s := &subscription{h: h, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.end()
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
	b.subs = map[*subscription]struct{}{}
	b.mu.Unlock()
	for s := range subs {
		s.end()
	}
	b.hooks.Wait()
	return nil
}
