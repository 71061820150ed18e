package redis

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
}

// Append implements sink.Sink. It encodes b in the caller's goroutine (an
// invalid record fails the batch at once, wrapping sink.ErrInvalidRecord)
// and queues it for the writer, blocking while the queue is full. Queue
// order is pipeline order, and Redis runs one connection's commands in
// order, so batches appended one after another from one goroutine are
// stored in that order even when the caller does not wait for each
// Result.
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

// Stats counts the sink's work since New, for metrics and tests.
type Stats struct {
	// Pipelines is the number of pipelines sent: with group commit, far
	// fewer than Batches under concurrent load.
	Pipelines int64
	// Batches and Records count what was stored; Duplicates the batches
	// dropped as duplicates.
	Batches, Records, Duplicates int64
	// Queued is the number of batches waiting for the writer now.
	Queued int
}

// counters are updated by the writer and read by Stats.
type counters struct {
	pipelines, batches, records, duplicates atomic.Int64
}

// Stats returns the counters as they are now.
func (s *Sink) Stats() Stats {
	return Stats{
		Pipelines:  s.stats.pipelines.Load(),
		Batches:    s.stats.batches.Load(),
		Records:    s.stats.records.Load(),
		Duplicates: s.stats.duplicates.Load(),
		Queued:     len(s.queue),
	}
}
