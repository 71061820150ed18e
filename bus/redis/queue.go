package redis

import (
	"sync"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/keystore"
)

// subscription delivers from an unbounded queue on its own goroutine, so a
// slow handler never blocks the receive loop: a blocked loop would stop
// Redis from draining the connection, and Redis disconnects subscribers
// whose output buffer grows too large.
type subscription struct {
	h      bus.Handler
	mu     sync.Mutex
	queue  []keystore.Event
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newSubscription(h bus.Handler) *subscription {
	s := &subscription{h: h, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go s.run()
	return s
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

// end stops delivery and waits for a handler call under way to return.
func (s *subscription) end() {
	s.once.Do(func() { close(s.done) })
	<-s.exited
}

// hook runs a resubscribe callback on its own goroutine. The one-slot wake
// channel coalesces triggers that arrive while fn runs into one more call:
// a second revalidation straight after the first would learn nothing new.
type hook struct {
	fn     func()
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
}

func newHook(fn func()) *hook {
	k := &hook{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go k.run()
	return k
}

func (k *hook) run() {
	defer close(k.exited)
	for {
		select {
		case <-k.wake:
		case <-k.done:
			return
		}
		select {
		case <-k.done: // Close won the race with a trigger
			return
		default:
		}
		k.fn()
	}
}

func (k *hook) trigger() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// end stops the hook and waits for a call under way to return.
func (k *hook) end() {
	close(k.done)
	<-k.exited
}
