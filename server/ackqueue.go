package server

import (
	"iter"
	"sync"
)

// ackQueue holds a stream's batches that were handed to the sink and await
// their ack, in order, and after them the receiver's final word. An empty
// queue holds no buffer: it goes back to a pool shared by every stream, so
// an idle stream costs a few words here, not a window's worth of entries
// (a channel of StreamWindow+1 entries was 4.6 KiB of every idle stream's
// heap, and a fleet is mostly idle streams).
type ackQueue struct {
	mu      sync.Mutex
	bufp    *[]inflight // a ring from pool; nil while the queue is empty
	head, n int
	pool    *sync.Pool
	// ready holds a token once an entry is pushed: the sender waits on it
	// with the stream's other events, then pops until the queue is empty.
	ready chan struct{}
}

// newAckBufs is the pool of rings for streams of window batches: each has
// room for every batch holding a slot plus the final word.
func newAckBufs(window int) *sync.Pool {
	return &sync.Pool{New: func() any {
		buf := make([]inflight, window+1)
		return &buf
	}}
}

func (q *ackQueue) init(pool *sync.Pool) {
	q.pool, q.ready = pool, make(chan struct{}, 1)
}

// push appends b. The caller holds a window slot for a batch, and sends one
// final word: the ring cannot overflow.
func (q *ackQueue) push(b inflight) {
	q.mu.Lock()
	if q.bufp == nil {
		q.bufp = q.pool.Get().(*[]inflight)
	}
	buf := *q.bufp
	if q.n == len(buf) {
		q.mu.Unlock()
		panic("ackQueue: more entries than the stream window allows")
	}
	buf[(q.head+q.n)%len(buf)] = b
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already; the sender pops until empty
	}
}

// pop removes the oldest entry; false when the queue is empty.
func (q *ackQueue) pop() (inflight, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return inflight{}, false
	}
	buf := *q.bufp
	b := buf[q.head]
	buf[q.head] = inflight{} // a pooled ring keeps no result channel or error alive
	q.head = (q.head + 1) % len(buf)
	q.n--
	if q.n == 0 {
		q.pool.Put(q.bufp)
		q.bufp, q.head = nil, 0
	}
	return b, true
}

// drain yields entries, oldest first, until the queue is empty.
func (q *ackQueue) drain() iter.Seq[inflight] {
	return func(yield func(inflight) bool) {
		for b, ok := q.pop(); ok; b, ok = q.pop() {
			if !yield(b) {
				return
			}
		}
	}
}
