package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

// pruneChunk is how many dedupe entries one prune transaction deletes at
// most, so appends never wait behind a long delete.
const pruneChunk = 1000

// always is ready to receive from at any time.
var always = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// run is the writer goroutine: the only user of the write connection.
func (s *Sink) run() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.PruneInterval)
	defer tick.Stop()
	var (
		next       *sink.Request[batch] // taken from the queue but left for the next commit
		pruneAgain bool                 // the last prune hit its chunk limit
	)
	for {
		if s.isClosing() {
			s.queue.FailQueued(next)
			return
		}
		if next == nil {
			// A prune backlog is always ready, so select alternates
			// between its chunks and group commits at random.
			pruneNow := tick.C
			if pruneAgain {
				pruneNow = always
			}
			select {
			case next = <-s.queue.Requests():
			case <-pruneNow:
				pruneAgain = s.prune()
				continue
			case <-s.queue.Closing():
				continue
			}
		}
		if s.cfg.CommitDelay > 0 && s.queue.Len() < s.cfg.MaxBatchesPerCommit-1 {
			s.linger()
		}
		var group []*sink.Request[batch]
		group, next = s.queue.Gather(next)
		s.commit(group)
		s.restartWAL()
	}
}

// linger waits CommitDelay for more batches to join the next commit, or
// less if the sink is closing.
func (s *Sink) linger() {
	t := time.NewTimer(s.cfg.CommitDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.queue.Closing():
	}
}

// commit stores group in one transaction and answers every request. A
// request whose ctx has ended is answered with its error and left out:
// that check is the last moment its caller can still withdraw it. If the
// transaction fails, every request in it fails with that error and
// nothing of it is stored.
func (s *Sink) commit(group []*sink.Request[batch]) {
	live := s.queue.Live(group)
	if len(live) == 0 {
		return
	}
	s.stats.committing.Store(int64(len(live)))
	defer s.stats.committing.Store(0)
	start := time.Now()
	touched, err := s.store(live)
	if s.cfg.OnCommit != nil {
		c := sink.Commit{Batches: len(live), Duration: time.Since(start), Err: err}
		for _, r := range live {
			c.Records += r.Batch.count
		}
		s.cfg.OnCommit(c)
	}
	if err != nil {
		for _, r := range live {
			r.Answer(sink.Result{Err: err})
		}
		return
	}
	s.stats.commits.Add(1)
	// The batches are visible to new reads from here on.
	s.watch.notify(touched)
	for _, r := range live {
		if r.Batch.duplicate {
			s.stats.duplicates.Add(1)
		} else {
			s.stats.batches.Add(1)
			s.stats.records.Add(int64(r.Batch.count))
		}
		r.Answer(sink.Result{Duplicate: r.Batch.duplicate})
	}
}

// store writes live in one transaction and returns the workspaces that
// received records. It runs on a background context: once begun, a
// commit finishes even if its callers have gone, and Close waits for it.
func (s *Sink) store(live []*sink.Request[batch]) (touched map[string]struct{}, err error) {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sink/sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	insert, dedupe := tx.StmtContext(ctx, s.stmts.insert), tx.StmtContext(ctx, s.stmts.dedupe)
	now := s.now()
	storedAt, cutoff := now.UnixNano(), now.Add(-s.cfg.DedupeWindow).UnixNano()
	touched = make(map[string]struct{})
	for _, r := range live {
		b := &r.Batch
		if b.dedupeKey != "" {
			// A batch earlier in this same transaction counts: its
			// entry is already visible here.
			res, err := dedupe.ExecContext(ctx, b.workspaceID, b.deviceID, b.dedupeKey, storedAt, cutoff)
			if err != nil {
				return nil, fmt.Errorf("sink/sqlite: dedupe: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("sink/sqlite: dedupe: %w", err)
			}
			if b.duplicate = n == 0; b.duplicate {
				continue
			}
		}
		if b.count == 0 {
			continue
		}
		if _, err := insert.ExecContext(ctx, b.workspaceID, b.deviceID, b.ingestKeyID, b.receiveTime, b.count, b.records); err != nil {
			return nil, fmt.Errorf("sink/sqlite: insert: %w", err)
		}
		touched[b.workspaceID] = struct{}{}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sink/sqlite: commit: %w", err)
	}
	return touched, nil
}

// prune deletes up to pruneChunk expired dedupe entries and reports
// whether there may be more. A failure is logged and retried at the next
// tick: expired entries are ignored by the dedupe check anyway.
func (s *Sink) prune() (more bool) {
	cutoff := s.now().Add(-s.cfg.DedupeWindow).UnixNano()
	res, err := s.stmts.prune.ExecContext(context.Background(), cutoff, pruneChunk)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		s.cfg.Logger.Warn("sink/sqlite: prune dedupe entries", "error", err)
		return false
	}
	return n == pruneChunk
}
