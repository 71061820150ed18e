package sinktest

import (
	"fmt"
	"testing"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

func testOrder(t *testing.T, newSink Factory) {
	s := newSink(t)
	// Pipelined: every Append is made before any Result is awaited.
	var (
		want    []string
		results []<-chan sink.Result
	)
	for i := range 30 {
		var recs []*ingestgatev1.Record
		for j := range 1 + i%3 {
			recs = append(recs, taggedf("b%02d.r%d", i, j))
			want = append(want, fmt.Sprintf("b%02d.r%d", i, j))
		}
		results = append(results, s.Append(t.Context(), batch("ws-1", fmt.Sprintf("dev-%d", i%4), recs...)))
	}
	for i, ch := range results {
		if r := result(t, ch); r.Err != nil || r.Duplicate {
			t.Fatalf("batch %d: %+v", i, r)
		}
	}
	es := readAll(t, s, sink.Query{WorkspaceID: "ws-1"})
	wantNames(t, "stored order", es, want...)

	// Cursors are distinct, and After k returns exactly what follows k.
	seen := map[string]bool{}
	for _, e := range es {
		if seen[e.Cursor] {
			t.Fatalf("cursor %q issued twice", e.Cursor)
		}
		seen[e.Cursor] = true
	}
	for _, k := range []int{0, 1, len(es) / 2, len(es) - 2, len(es) - 1} {
		got := readAll(t, s, sink.Query{WorkspaceID: "ws-1", After: es[k].Cursor})
		wantNames(t, fmt.Sprintf("after entry %d", k), got, want[k+1:]...)
	}
}

func testFilters(t *testing.T, newSink Factory) {
	s := newSink(t)
	// Interleaved: two workspaces, two devices, one device id in both.
	store(t, s, batch("ws-a", "dev-1", tagged("a1.1"), tagged("a1.2")))
	store(t, s, batch("ws-b", "dev-1", tagged("b1.1")))
	store(t, s, batch("ws-a", "dev-2", tagged("a2.1")))
	store(t, s, batch("ws-b", "dev-3", tagged("b3.1")))
	store(t, s, batch("ws-a", "dev-1", tagged("a1.3")))
	store(t, s, batch("ws-a", "dev-2", tagged("a2.2"), tagged("a2.3")))

	for _, tc := range []struct {
		ws, device string
		want       []string
	}{
		{"ws-a", "", []string{"a1.1", "a1.2", "a2.1", "a1.3", "a2.2", "a2.3"}},
		{"ws-b", "", []string{"b1.1", "b3.1"}},
		{"ws-a", "dev-1", []string{"a1.1", "a1.2", "a1.3"}},
		{"ws-a", "dev-2", []string{"a2.1", "a2.2", "a2.3"}},
		{"ws-b", "dev-1", []string{"b1.1"}},
		{"ws-a", "dev-3", nil},
		{"ws-none", "", nil},
		{"ws-none", "dev-1", nil},
	} {
		t.Run(tc.ws+"/"+tc.device, func(t *testing.T) {
			q := sink.Query{WorkspaceID: tc.ws, DeviceID: tc.device}
			es := read(t, s, q)
			wantNames(t, "read", es, tc.want...)
			for _, e := range es {
				if e.WorkspaceID != tc.ws || (tc.device != "" && e.DeviceID != tc.device) {
					t.Fatalf("entry %q from %s/%s", e.Record.GetName(), e.WorkspaceID, e.DeviceID)
				}
			}
			// Paging one at a time gives the same, cursor by cursor.
			q.Limit = 1
			wantNames(t, "paged", readAll(t, s, q), tc.want...)
		})
	}
}

func testLimit(t *testing.T, newSink Factory) {
	s := newSink(t)
	total := sink.MaxReadLimit + 100
	var recs []*ingestgatev1.Record
	var all []string
	for i := range total {
		recs = append(recs, taggedf("r%04d", i))
		all = append(all, fmt.Sprintf("r%04d", i))
	}
	store(t, s, batch("ws-1", "dev-1", recs...))
	for _, tc := range []struct {
		limit, want int
	}{
		{0, sink.DefaultReadLimit},
		{-1, sink.DefaultReadLimit},
		{1, 1},
		{7, 7},
		{sink.MaxReadLimit, sink.MaxReadLimit},
		{sink.MaxReadLimit + 1, sink.MaxReadLimit},
		{total * 10, sink.MaxReadLimit},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			es := read(t, s, sink.Query{WorkspaceID: "ws-1", Limit: tc.limit})
			wantNames(t, "read", es, all[:tc.want]...)
			// The same limit applies with a device filter.
			es = read(t, s, sink.Query{WorkspaceID: "ws-1", DeviceID: "dev-1", Limit: tc.limit})
			wantNames(t, "read with device", es, all[:tc.want]...)
		})
	}
}

func testCursors(t *testing.T, newSink Factory) {
	t.Run("EndCursor", func(t *testing.T) {
		s := newSink(t)
		end := func(ws string) string {
			t.Helper()
			c, err := s.EndCursor(t.Context(), ws)
			noErr(t, "EndCursor", err)
			return c
		}
		if c := end("ws-1"); c != "" {
			t.Fatalf("EndCursor of an empty workspace = %q, want \"\"", c)
		}
		store(t, s, batch("ws-1", "dev-1", tagged("one"), tagged("two")))
		es := read(t, s, sink.Query{WorkspaceID: "ws-1"})
		first := end("ws-1")
		if first != es[len(es)-1].Cursor {
			t.Fatalf("EndCursor = %q, want the last entry's cursor %q", first, es[len(es)-1].Cursor)
		}
		// Another workspace neither moves it nor shares it.
		if c := end("ws-2"); c != "" {
			t.Fatalf("EndCursor of ws-2 = %q, want \"\"", c)
		}
		store(t, s, batch("ws-2", "dev-1", tagged("other")))
		if c := end("ws-1"); c != first {
			t.Fatalf("EndCursor of ws-1 moved to %q after a ws-2 append, want %q", c, first)
		}
		wantNames(t, "read after the end", read(t, s, sink.Query{WorkspaceID: "ws-1", After: first}))
		// A subscriber starting at the end sees only new telemetry.
		store(t, s, batch("ws-1", "dev-1", tagged("three")))
		wantNames(t, "new after the end", read(t, s, sink.Query{WorkspaceID: "ws-1", After: first}), "three")
		es = read(t, s, sink.Query{WorkspaceID: "ws-1"})
		if c := end("ws-1"); c != es[len(es)-1].Cursor {
			t.Fatalf("EndCursor = %q, want the last entry's cursor %q", c, es[len(es)-1].Cursor)
		}
	})

	t.Run("BadCursor", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1", tagged("one")))
		for _, c := range []string{"not-a-cursor", "%%%", "1 2", " ", "\x00", "abc-def-ghi"} {
			for _, q := range []sink.Query{
				{WorkspaceID: "ws-1", After: c},
				{WorkspaceID: "ws-1", After: c, DeviceID: "dev-1"},
				// Refused before any waiting.
				{WorkspaceID: "ws-1", After: c, Wait: patience},
			} {
				start := time.Now()
				_, err := s.Read(t.Context(), q)
				wantErr(t, fmt.Sprintf("Read after %q", c), err, sink.ErrBadCursor)
				if q.Wait > 0 && time.Since(start) >= q.Wait {
					t.Fatalf("Read with a bad cursor waited %v", time.Since(start))
				}
			}
		}
	})

	t.Run("AcrossWorkspaces", func(t *testing.T) {
		// Cursors increase with storage order within a workspace; paging
		// one workspace is unaffected by appends to another in between.
		s := newSink(t)
		var want []string
		for i := range 10 {
			store(t, s, batch("ws-1", "dev-1", taggedf("w1.%d", i)))
			store(t, s, batch("ws-2", "dev-1", taggedf("w2.%d", i)))
			want = append(want, fmt.Sprintf("w1.%d", i))
		}
		es := readAll(t, s, sink.Query{WorkspaceID: "ws-1", Limit: 3})
		wantNames(t, "paged", es, want...)
	})
}
