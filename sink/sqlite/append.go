package sqlite

import (
	"context"
	"sync/atomic"

	"github.com/ingestgate/ingestgate/sink"
)

// Append implements sink.Sink. It encodes b in the caller's goroutine
// (an invalid record fails the batch at once, wrapping
// sink.ErrInvalidRecord) and queues it for the writer, blocking while the
// queue is full. Queue order is commit order, so batches appended one
// after another from one goroutine are stored in that order even when the
// caller does not wait for each Result.
func (s *Sink) Append(ctx context.Context, b sink.Batch) <-chan sink.Result {
	if err := ctx.Err(); err != nil {
		return sink.Answered(err)
	}
	enc, err := encodeBatch(b, s.now())
	if err != nil {
		return sink.Answered(err)
	}
	return s.queue.Put(ctx, enc)
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
	// Checkpoints counts the background checkpoints, WALRestarts the
	// times the writer restarted the WAL (checkpoint.go).
	Checkpoints, WALRestarts int64
}

// counters are updated by the writer and read by Stats.
type counters struct {
	commits, batches, records, duplicates, committing atomic.Int64
	checkpoints, walRestarts                          atomic.Int64
}

// Stats returns the counters as they are now.
func (s *Sink) Stats() Stats {
	return Stats{
		Commits:     s.stats.commits.Load(),
		Batches:     s.stats.batches.Load(),
		Records:     s.stats.records.Load(),
		Duplicates:  s.stats.duplicates.Load(),
		Queued:      s.queue.Len(),
		Committing:  int(s.stats.committing.Load()),
		Checkpoints: s.stats.checkpoints.Load(),
		WALRestarts: s.stats.walRestarts.Load(),
	}
}
