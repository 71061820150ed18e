package sinktest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ingestgate/ingestgate/sink"
)

// keyed is batch with a dedupe key.
func keyed(ws, device, key string, names ...string) sink.Batch {
	b := batch(ws, device)
	for _, n := range names {
		b.Records = append(b.Records, tagged(n))
	}
	b.DedupeKey = key
	return b
}

// duplicate appends b and fails unless it is acknowledged as a duplicate.
func duplicate(t *testing.T, s sink.Sink, b sink.Batch) {
	t.Helper()
	r := result(t, s.Append(t.Context(), b))
	if r.Err != nil || !r.Duplicate {
		t.Fatalf("Append(%s/%s %q): got %+v, want a duplicate", b.WorkspaceID, b.DeviceID, b.DedupeKey, r)
	}
}

func testDedupe(t *testing.T, newSink Factory) {
	t.Run("SameKey", func(t *testing.T) {
		s := newSink(t)
		store(t, s, keyed("ws-1", "dev-1", "s:1", "first", "first.2"))
		// Dedupe is by key: other content is still a duplicate.
		duplicate(t, s, keyed("ws-1", "dev-1", "s:1", "second"))
		duplicate(t, s, keyed("ws-1", "dev-1", "s:1", "first", "first.2"))
		store(t, s, keyed("ws-1", "dev-1", "s:2", "third"))
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "first", "first.2", "third")
	})

	t.Run("ScopedToWorkspaceAndDevice", func(t *testing.T) {
		s := newSink(t)
		store(t, s, keyed("ws-1", "dev-1", "i:k", "a"))
		store(t, s, keyed("ws-1", "dev-2", "i:k", "b"))
		store(t, s, keyed("ws-2", "dev-1", "i:k", "c"))
		duplicate(t, s, keyed("ws-1", "dev-2", "i:k", "b again"))
		duplicate(t, s, keyed("ws-2", "dev-1", "i:k", "c again"))
		wantNames(t, "ws-1", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "a", "b")
		wantNames(t, "ws-2", read(t, s, sink.Query{WorkspaceID: "ws-2"}), "c")
	})

	t.Run("EmptyKeyNeverDeduped", func(t *testing.T) {
		s := newSink(t)
		for range 3 {
			store(t, s, keyed("ws-1", "dev-1", "", "same"))
		}
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "same", "same", "same")
	})

	t.Run("EmptyBatchClaimsKey", func(t *testing.T) {
		s := newSink(t)
		store(t, s, keyed("ws-1", "dev-1", "s:1"))
		duplicate(t, s, keyed("ws-1", "dev-1", "s:1", "late"))
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}))
	})

	t.Run("Pipelined", func(t *testing.T) {
		// Copies queued together (likely one group commit): the first is
		// stored, every later one is a duplicate.
		s := newSink(t)
		var results []<-chan sink.Result
		for i := range 10 {
			results = append(results, s.Append(t.Context(), keyed("ws-1", "dev-1", "s:7", fmt.Sprintf("copy%d", i))))
		}
		for i, ch := range results {
			r := result(t, ch)
			if r.Err != nil || r.Duplicate != (i > 0) {
				t.Fatalf("copy %d: got %+v, want duplicate=%v", i, r, i > 0)
			}
		}
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "copy0")
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newSink(t)
		const n = 20
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			stored []string
		)
		for i := range n {
			wg.Go(func() {
				name := fmt.Sprintf("copy%d", i)
				r := <-s.Append(t.Context(), keyed("ws-1", "dev-1", "s:9", name))
				mu.Lock()
				defer mu.Unlock()
				if r.Err != nil {
					t.Errorf("%s: %v", name, r.Err)
				} else if !r.Duplicate {
					stored = append(stored, name)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if len(stored) != 1 {
			t.Fatalf("%d copies acknowledged as stored (%q), want exactly 1", len(stored), stored)
		}
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), stored[0])
	})
}
