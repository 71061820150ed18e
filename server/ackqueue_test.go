package server

import (
	"io"
	"testing"
)

// The queue gives entries back in order, holds no buffer while empty (an
// idle stream's share of memory), and refuses more than the window plus
// the final word.
func TestAckQueue(t *testing.T) {
	const window = 4
	var q ackQueue
	q.init(newAckBufs(window))
	for round := range 3 { // the ring wraps, and a pooled buffer comes back clean
		for i := range window {
			q.push(inflight{seq: uint64(round*10 + i)})
		}
		q.push(inflight{err: io.EOF})
		if q.bufp == nil {
			t.Fatal("no buffer while entries are queued")
		}
		for i := range window {
			b, ok := q.pop()
			if !ok || b.seq != uint64(round*10+i) || b.err != nil {
				t.Fatalf("round %d: pop %d = %+v, %v; want seq %d", round, i, b, ok, round*10+i)
			}
		}
		if b, ok := q.pop(); !ok || b.err != io.EOF {
			t.Fatalf("round %d: final word = %+v, %v", round, b, ok)
		}
		if _, ok := q.pop(); ok {
			t.Fatal("pop from an empty queue succeeded")
		}
		if q.bufp != nil {
			t.Fatal("an empty queue kept its buffer")
		}
		select {
		case <-q.ready:
		default:
			t.Fatal("push left no token in ready")
		}
	}
	// Interleaved: the ring's head moves past its end.
	for i := range 3 * window {
		q.push(inflight{seq: uint64(i)})
		q.push(inflight{seq: uint64(i + 100)})
		if b, _ := q.pop(); b.seq != uint64(i) {
			t.Fatalf("interleaved pop = %d, want %d", b.seq, i)
		}
		if b, _ := q.pop(); b.seq != uint64(i+100) {
			t.Fatalf("interleaved pop = %d, want %d", b.seq, i+100)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a push past the window and the final word did not panic")
		}
	}()
	for range window + 2 {
		q.push(inflight{})
	}
}
