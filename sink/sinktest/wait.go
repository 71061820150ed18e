package sinktest

import (
	"context"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

// settle is how long a test lets a Read reach its wait before acting. A
// Read that has not started waiting yet must still see what follows, so
// the tests pass either way; settle only makes them test the waiting.
const settle = 50 * time.Millisecond

type readResult struct {
	entries []sink.Entry
	err     error
	took    time.Duration
}

// readAsync runs Read in a goroutine.
func readAsync(ctx context.Context, s sink.Sink, q sink.Query) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		start := time.Now()
		es, err := s.Read(ctx, q)
		ch <- readResult{es, err, time.Since(start)}
	}()
	return ch
}

func awaitRead(t *testing.T, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(2 * patience):
		t.Fatalf("Read did not return after %v", 2*patience)
		return readResult{}
	}
}

// stillWaiting fails if the Read has returned.
func stillWaiting(t *testing.T, ch <-chan readResult, why string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("Read returned %q, %v before %s", names(r.entries), r.err, why)
	case <-time.After(settle):
	}
}

func testWait(t *testing.T, newSink Factory) {
	t.Run("ReturnsAtOnce", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1", tagged("there")))
		r := awaitRead(t, readAsync(t.Context(), s, sink.Query{WorkspaceID: "ws-1", Wait: patience}))
		noErr(t, "Read", r.err)
		wantNames(t, "read", r.entries, "there")
		if r.took >= patience {
			t.Fatalf("Read with entries to return waited %v", r.took)
		}
	})

	t.Run("WakesOnAppend", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1", tagged("old")))
		end, err := s.EndCursor(t.Context(), "ws-1")
		noErr(t, "EndCursor", err)
		// Several waiters; one commit wakes them all.
		var waiting []<-chan readResult
		for range 5 {
			waiting = append(waiting, readAsync(t.Context(), s, sink.Query{WorkspaceID: "ws-1", After: end, Wait: patience}))
		}
		stillWaiting(t, waiting[0], "anything was appended")
		store(t, s, batch("ws-1", "dev-1", tagged("new")))
		for _, ch := range waiting {
			r := awaitRead(t, ch)
			noErr(t, "Read", r.err)
			wantNames(t, "woken read", r.entries, "new")
			if r.took >= patience {
				t.Fatalf("Read took %v: it waited out its Wait instead of waking", r.took)
			}
		}
	})

	t.Run("IgnoresOthers", func(t *testing.T) {
		// Appends to another workspace or device end nobody's wait early.
		s := newSink(t)
		ch := readAsync(t.Context(), s, sink.Query{WorkspaceID: "ws-1", DeviceID: "dev-1", Wait: patience})
		stillWaiting(t, ch, "anything was appended")
		store(t, s, batch("ws-2", "dev-1", tagged("other workspace")))
		store(t, s, batch("ws-1", "dev-2", tagged("other device")))
		stillWaiting(t, ch, "its device appended")
		store(t, s, batch("ws-1", "dev-1", tagged("mine")))
		r := awaitRead(t, ch)
		noErr(t, "Read", r.err)
		wantNames(t, "read", r.entries, "mine")
	})

	t.Run("TimesOut", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1", tagged("old")))
		end, err := s.EndCursor(t.Context(), "ws-1")
		noErr(t, "EndCursor", err)
		for _, q := range []sink.Query{
			{WorkspaceID: "ws-empty", Wait: 2 * settle},
			{WorkspaceID: "ws-1", After: end, Wait: 2 * settle},
		} {
			r := awaitRead(t, readAsync(t.Context(), s, q))
			noErr(t, "Read", r.err)
			wantNames(t, "read", r.entries)
			if r.took < q.Wait {
				t.Fatalf("Read returned nothing after %v, before its Wait %v", r.took, q.Wait)
			}
		}
	})

	t.Run("ContextEnds", func(t *testing.T) {
		s := newSink(t)
		ctx, cancel := context.WithCancel(t.Context())
		ch := readAsync(ctx, s, sink.Query{WorkspaceID: "ws-1", Wait: patience})
		stillWaiting(t, ch, "its context was cancelled")
		cancel()
		r := awaitRead(t, ch)
		wantErr(t, "Read after cancel", r.err, context.Canceled)
		if r.took >= patience {
			t.Fatalf("cancelled Read took %v", r.took)
		}

		ctx, cancel = context.WithTimeout(t.Context(), settle)
		defer cancel()
		r = awaitRead(t, readAsync(ctx, s, sink.Query{WorkspaceID: "ws-1", Wait: patience}))
		wantErr(t, "Read past its deadline", r.err, context.DeadlineExceeded)
	})
}
