package sink

import (
	"context"
	"sync"
)

// Queue is the bounded hand-off from Append to a backend's single writer
// goroutine, with the close protocol every such backend needs. B is the
// backend's encoded batch.
//
// Close protocol: Seal closes Closing first (no new work), then waits for
// every Put that passed its closing check to finish its send or give up
// (an empty critical section on mu, which Put holds shared), then closes
// sealed. Past that point nothing more can be queued, so the writer's
// FailQueued answers everything left.
type Queue[B any] struct {
	ch      chan *Request[B]
	mu      sync.RWMutex
	closing chan struct{}
	sealed  chan struct{}
	once    sync.Once

	records                func(B) int
	maxBatches, maxRecords int
}

// Request is one queued batch.
type Request[B any] struct {
	Ctx   context.Context
	Batch B
	res   chan Result // buffered 1; receives exactly one Result
}

// Answer gives the request its Result; call it exactly once.
func (r *Request[B]) Answer(res Result) { r.res <- res }

// NewQueue holds up to size batches. Gather groups at most maxBatches
// batches and maxRecords records (counted by records) into one commit.
func NewQueue[B any](size, maxBatches, maxRecords int, records func(B) int) *Queue[B] {
	return &Queue[B]{
		ch:      make(chan *Request[B], size),
		closing: make(chan struct{}),
		sealed:  make(chan struct{}),
		records: records, maxBatches: maxBatches, maxRecords: maxRecords,
	}
}

// Put queues batch for the writer, blocking while the queue is full, and
// returns the channel its Result arrives on. It answers at once with
// ctx's error or ErrClosed when it cannot queue. Queue order is commit
// order, so batches put one after another from one goroutine are stored
// in that order.
func (q *Queue[B]) Put(ctx context.Context, batch B) <-chan Result {
	res := make(chan Result, 1)
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.IsClosing() {
		res <- Result{Err: ErrClosed}
		return res
	}
	select {
	case q.ch <- &Request[B]{Ctx: ctx, Batch: batch, res: res}:
	case <-ctx.Done():
		res <- Result{Err: ctx.Err()}
	case <-q.closing:
		res <- Result{Err: ErrClosed}
	}
	return res
}

// Requests is what the writer receives from.
func (q *Queue[B]) Requests() <-chan *Request[B] { return q.ch }

// Len is the number of batches waiting for the writer.
func (q *Queue[B]) Len() int { return len(q.ch) }

// Closing is closed when Seal begins.
func (q *Queue[B]) Closing() <-chan struct{} { return q.closing }

// IsClosing reports whether Seal has begun.
func (q *Queue[B]) IsClosing() bool {
	select {
	case <-q.closing:
		return true
	default:
		return false
	}
}

// Gather takes first and whatever else is queued, within the per-commit
// limits. A batch that would break the record limit is returned as next,
// for the following commit.
func (q *Queue[B]) Gather(first *Request[B]) (group []*Request[B], next *Request[B]) {
	group = append(group, first)
	records := q.records(first.Batch)
	for len(group) < q.maxBatches {
		select {
		case r := <-q.ch:
			n := q.records(r.Batch)
			if records+n > q.maxRecords {
				return group, r
			}
			group = append(group, r)
			records += n
		default:
			return group, nil
		}
	}
	return group, nil
}

// Live answers the requests of group whose ctx has ended with that error
// and returns the rest: the last moment a caller can still withdraw its
// batch is just before the commit that would hold it.
func (q *Queue[B]) Live(group []*Request[B]) []*Request[B] {
	live := make([]*Request[B], 0, len(group))
	for _, r := range group {
		if err := r.Ctx.Err(); err != nil {
			r.Answer(Result{Err: err})
			continue
		}
		live = append(live, r)
	}
	return live
}

// Seal stops Put from queueing more and waits for every Put under way to
// finish; the writer then sees IsClosing and calls FailQueued. It is
// idempotent.
func (q *Queue[B]) Seal() {
	q.once.Do(func() {
		close(q.closing)
		q.mu.Lock()
		q.mu.Unlock() // an empty critical section: it waits for Puts under way
		close(q.sealed)
	})
}

// FailQueued answers next (a request taken but not committed, or nil) and
// everything still queued with ErrClosed, once Seal has made sure nothing
// more can be queued.
func (q *Queue[B]) FailQueued(next *Request[B]) {
	<-q.sealed
	if next != nil {
		next.Answer(Result{Err: ErrClosed})
	}
	for {
		select {
		case r := <-q.ch:
			r.Answer(Result{Err: ErrClosed})
		default:
			return
		}
	}
}

// Answered is a Result channel that already holds err: what Append returns
// for a batch refused before it was queued.
func Answered(err error) <-chan Result {
	res := make(chan Result, 1)
	res <- Result{Err: err}
	return res
}
