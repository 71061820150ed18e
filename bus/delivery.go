package bus

import (
	"sync"

	"github.com/ingestgate/ingestgate/keystore"
)

// Delivery feeds one Handler from an unbounded queue on its own goroutine,
// in the order events were pushed. Backends use it for each subscription
// so a slow handler never blocks the publisher (bus/local: the committing
// request) or the receive loop (bus/redis: Redis disconnects subscribers
// whose output buffer grows too large), and nothing is dropped in between.
type Delivery struct {
	h      Handler
	mu     sync.Mutex
	queue  []keystore.Event
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// NewDelivery starts delivering to h.
func NewDelivery(h Handler) *Delivery {
	d := &Delivery{h: h, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go d.run()
	return d
}

func (d *Delivery) run() {
	defer close(d.exited)
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		d.mu.Unlock()
		for _, e := range batch {
			select {
			case <-d.done:
				return
			default:
			}
			d.h(e)
		}
		select {
		case <-d.wake:
		case <-d.done:
			return
		}
	}
}

// Push queues e; it never blocks.
func (d *Delivery) Push(e keystore.Event) {
	d.mu.Lock()
	d.queue = append(d.queue, e)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default: // already woken; it will see the queue
	}
}

// End stops delivery and waits for a handler call under way to return, so
// it must not be called from inside the handler. It is idempotent.
func (d *Delivery) End() {
	d.once.Do(func() { close(d.done) })
	<-d.exited
}
