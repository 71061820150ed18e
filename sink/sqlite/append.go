package sqlite

import (
	"context"
	"sync/atomic"

	"github.com/ingestgate/ingestgate/sink"
)

// request is one queued Append.
type request struct {
	ctx   context.Context
	batch batch
	res   chan sink.Result // buffered 1; receives exactly one Result
	// duplicate is set by the writer inside the commit.
	duplicate bool
}

// Append implements sink.Sink. It encodes b in the caller's goroutine
// (an invalid record fails the batch at once, wrapping
// sink.ErrInvalidRecord) and queues it for the writer, blocking while the
// queue is full. Queue order is commit order, so batches appended one
// after another from one goroutine are stored in that order even when the
// caller does not wait for each Result.
func (s *Sink) Append(ctx context.Context, b sink.Batch) <-chan sink.Result {
	res := make(chan sink.Result, 1)
	if err := ctx.Err(); err != nil {
		res <- sink.Result{Err: err}
		return res
	}
	enc, err := encodeBatch(b, s.now())
	if err != nil {
		res <- sink.Result{Err: err}
		return res
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.isClosing() {
		res <- sink.Result{Err: sink.ErrClosed}
		return res
	}
	select {
	case s.queue <- &request{ctx: ctx, batch: enc, res: res}:
	case <-ctx.Done():
		res <- sink.Result{Err: ctx.Err()}
	case <-s.closing:
		res <- sink.Result{Err: sink.ErrClosed}
	}
	return res
}

// Stats counts the sink's work since Open, for metrics and tests.
type Stats struct {
	// Commits is the number of transactions committed: with group
	// commit, far fewer than Batches under concurrent load.
	Commits int64
	// Batches and Records count what was stored; Duplicates the batches
	// dropped as duplicates.
	Batches, Records, Duplicates int64
	// Queued is the number of batches waiting for the writer now, and
	// Committing the number in the commit under way.
	Queued, Committing int
}

// counters are updated by the writer and read by Stats.
type counters struct {
	commits, batches, records, duplicates, committing atomic.Int64
}

// Stats returns the counters as they are now.
func (s *Sink) Stats() Stats {
	return Stats{
		Commits:    s.stats.commits.Load(),
		Batches:    s.stats.batches.Load(),
		Records:    s.stats.records.Load(),
		Duplicates: s.stats.duplicates.Load(),
		Queued:     len(s.queue),
		Committing: int(s.stats.committing.Load()),
	}
}
