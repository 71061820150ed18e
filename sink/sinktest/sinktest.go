// Package sinktest is the conformance suite for sink.Sink backends. A
// backend's tests call Run with a factory for fresh, empty sinks; every
// rule documented in package sink has a subtest here, so a backend that
// passes can replace another without the server noticing.
//
// The factory is called once per subtest, never concurrently, and must
// return an isolated, empty sink whose Close it registers with t.Cleanup.
// Some subtests close the sink themselves, so that cleanup's Close must
// return nil on a closed sink.
//
// Where sink.go leaves room, the suite pins down what the server relies
// on:
//   - Records read back equal to what was appended under proto.Equal (so
//     a NaN reads back as a NaN, and -0 may read back as 0). A record
//     without a time reads back with Time set to the batch's ReceiveTime.
//   - Entry.ReceiveTime is the batch's ReceiveTime to the nanosecond, in
//     UTC. A zero Batch.ReceiveTime is replaced by the time of Append.
//   - A batch holding a record sink.CheckRecord rejects fails with
//     sink.ErrInvalidRecord and stores nothing, not even its valid
//     records.
//   - An empty batch is acknowledged and stores nothing; its dedupe key
//     still counts.
//   - Dedupe is by key alone: a resent batch with other content is still
//     a duplicate, and the first copy is the one kept. A batch that was
//     not stored (cancelled, invalid) does not claim its key.
//   - "Appended one after another from one goroutine" includes not
//     waiting for each Result: pipelined batches are stored in order.
//   - A Limit below 0 means the default, like 0.
//   - Append, Read and EndCursor after Close fail with sink.ErrClosed; a
//     Read waiting when Close is called returns sink.ErrClosed.
//   - A cancelled ctx ends a waiting Read with an error wrapping ctx's.
package sinktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

// Factory returns a fresh, empty sink for one subtest.
type Factory = func(t *testing.T) sink.Sink

// Run runs the whole suite against sinks made by newSink.
func Run(t *testing.T, newSink func(t *testing.T) sink.Sink) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newSink) })
	t.Run("InvalidRecords", func(t *testing.T) { testInvalidRecords(t, newSink) })
	t.Run("Order", func(t *testing.T) { testOrder(t, newSink) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, newSink) })
	t.Run("Limit", func(t *testing.T) { testLimit(t, newSink) })
	t.Run("Cursors", func(t *testing.T) { testCursors(t, newSink) })
	t.Run("Wait", func(t *testing.T) { testWait(t, newSink) })
	t.Run("Dedupe", func(t *testing.T) { testDedupe(t, newSink) })
	t.Run("Context", func(t *testing.T) { testContext(t, newSink) })
	t.Run("Close", func(t *testing.T) { testClose(t, newSink) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newSink) })
}

// patience bounds every wait for a Result or a Read, so a backend that
// loses one fails instead of hanging the test binary.
const patience = 30 * time.Second

// result waits for the one Result of an Append.
func result(t *testing.T, ch <-chan sink.Result) sink.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(patience):
		t.Fatalf("no Result after %v", patience)
		return sink.Result{}
	}
}

// store appends b and fails the test unless it is stored (not a
// duplicate).
func store(t *testing.T, s sink.Sink, b sink.Batch) {
	t.Helper()
	r := result(t, s.Append(t.Context(), b))
	if r.Err != nil || r.Duplicate {
		t.Fatalf("Append(%s/%s %q): got %+v, want stored", b.WorkspaceID, b.DeviceID, b.DedupeKey, r)
	}
}

// read is Read that fails the test on error.
func read(t *testing.T, s sink.Sink, q sink.Query) []sink.Entry {
	t.Helper()
	es, err := s.Read(t.Context(), q)
	if err != nil {
		t.Fatalf("Read(%+v): %v", q, err)
	}
	return es
}

// readAll pages through everything q selects after q.After, following
// cursors, with the given page size.
func readAll(t *testing.T, s sink.Sink, q sink.Query) []sink.Entry {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = sink.MaxReadLimit
	}
	var all []sink.Entry
	for {
		es := read(t, s, q)
		if len(es) > q.Limit {
			t.Fatalf("Read(%+v) returned %d entries", q, len(es))
		}
		all = append(all, es...)
		if len(es) == 0 {
			return all
		}
		q.After = es[len(es)-1].Cursor
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want errors.Is(err, %v)", what, err, target)
	}
}

// noErr fails on any error.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// cancelled returns a context that has already ended.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
