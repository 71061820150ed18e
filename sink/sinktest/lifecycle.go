package sinktest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

func testContext(t *testing.T, newSink Factory) {
	s := newSink(t)
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"Cancelled", cancelled(t), context.Canceled},
		{"DeadlinePassed", expired, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result(t, s.Append(tc.ctx, keyed("ws-1", "dev-1", "s:1", "never")))
			wantErr(t, "Append", r.Err, tc.want)
			if r.Duplicate {
				t.Fatal("a batch that was not stored is marked duplicate")
			}
			_, err := sink.Store(tc.ctx, s, keyed("ws-1", "dev-1", "s:1", "never"))
			wantErr(t, "Store", err, tc.want)
		})
	}
	// Nothing was stored, and the key was not claimed.
	wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}))
	store(t, s, keyed("ws-1", "dev-1", "s:1", "later"))
	wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "later")
}

func testClose(t *testing.T, newSink Factory) {
	t.Run("AfterClose", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1", tagged("one")))
		noErr(t, "Close", s.Close())
		r := result(t, s.Append(t.Context(), batch("ws-1", "dev-1", tagged("late"))))
		wantErr(t, "Append after Close", r.Err, sink.ErrClosed)
		_, err := sink.Store(t.Context(), s, batch("ws-1", "dev-1", tagged("late")))
		wantErr(t, "Store after Close", err, sink.ErrClosed)
		_, err = s.Read(t.Context(), sink.Query{WorkspaceID: "ws-1"})
		wantErr(t, "Read after Close", err, sink.ErrClosed)
		_, err = s.Read(t.Context(), sink.Query{WorkspaceID: "ws-1", Wait: patience})
		wantErr(t, "Read with Wait after Close", err, sink.ErrClosed)
		_, err = s.EndCursor(t.Context(), "ws-1")
		wantErr(t, "EndCursor after Close", err, sink.ErrClosed)
		noErr(t, "second Close", s.Close())
	})

	t.Run("WakesWaitingRead", func(t *testing.T) {
		s := newSink(t)
		ch := readAsync(t.Context(), s, sink.Query{WorkspaceID: "ws-1", Wait: patience})
		stillWaiting(t, ch, "Close")
		noErr(t, "Close", s.Close())
		r := awaitRead(t, ch)
		wantErr(t, "waiting Read at Close", r.err, sink.ErrClosed)
	})

	t.Run("WhileAppending", func(t *testing.T) {
		// Every Append racing Close gets exactly one Result: stored or
		// ErrClosed, never lost.
		s := newSink(t)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					r := <-s.Append(t.Context(), batch("ws-1", "dev-1", taggedf("g%d.%d", g, i)))
					if errors.Is(r.Err, sink.ErrClosed) {
						return
					}
					if r.Err != nil {
						t.Errorf("Append: %v", r.Err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			})
		}
		time.Sleep(settle)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			noErr(t, "Close", err)
		case <-time.After(patience):
			t.Fatal("Close did not return")
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(patience):
			close(stop)
			t.Fatal("appenders still running after Close: a Result was lost")
		}
	})
}

// testConcurrent runs many appenders at once, half pipelining, half
// waiting for each Result, while a subscriber tails one workspace. Every
// batch must be stored exactly once, in each appender's order, and the
// subscriber, following cursors with Wait, must see every entry once.
func testConcurrent(t *testing.T, newSink Factory) {
	const (
		appenders = 50
		batches   = 20
	)
	s := newSink(t)
	ws := func(g int) string { return fmt.Sprintf("ws-%d", g%2) }
	recordsOf := func(g, i int) int { return 1 + (g+i)%3 }
	wantTotal := map[string]int{}
	for g := range appenders {
		for i := range batches {
			wantTotal[ws(g)] += recordsOf(g, i)
		}
	}

	tail := make(chan []sink.Entry, 1)
	go func() {
		var seen []sink.Entry
		q := sink.Query{WorkspaceID: "ws-0", Wait: patience}
		for len(seen) < wantTotal["ws-0"] {
			es, err := s.Read(t.Context(), q)
			if err != nil || len(es) == 0 {
				break
			}
			seen = append(seen, es...)
			q.After = es[len(es)-1].Cursor
		}
		tail <- seen
	}()

	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			device := fmt.Sprintf("dev-%02d", g)
			var pending []<-chan sink.Result
			for i := range batches {
				b := batch(ws(g), device)
				b.DedupeKey = fmt.Sprintf("s:%d", i)
				for j := range recordsOf(g, i) {
					b.Records = append(b.Records, taggedf("g%02d.b%02d.r%d", g, i, j))
				}
				ch := s.Append(t.Context(), b)
				if g%2 == 0 {
					pending = append(pending, ch)
					continue
				}
				if r := <-ch; r.Err != nil || r.Duplicate {
					t.Errorf("%s batch %d: %+v", device, i, r)
				}
			}
			for i, ch := range pending {
				if r := <-ch; r.Err != nil || r.Duplicate {
					t.Errorf("%s batch %d: %+v", device, i, r)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for w, total := range wantTotal {
		es := readAll(t, s, sink.Query{WorkspaceID: w})
		if len(es) != total {
			t.Fatalf("%s: %d entries, want %d", w, len(es), total)
		}
		checkEachOnceInOrder(t, w, es)
	}
	for g := range appenders {
		device := fmt.Sprintf("dev-%02d", g)
		var want []string
		for i := range batches {
			for j := range recordsOf(g, i) {
				want = append(want, fmt.Sprintf("g%02d.b%02d.r%d", g, i, j))
			}
		}
		wantNames(t, device, readAll(t, s, sink.Query{WorkspaceID: ws(g), DeviceID: device, Limit: 7}), want...)
	}
	select {
	case seen := <-tail:
		if len(seen) != wantTotal["ws-0"] {
			t.Fatalf("tailing subscriber saw %d entries, want %d", len(seen), wantTotal["ws-0"])
		}
		checkEachOnceInOrder(t, "tail", seen)
	case <-time.After(patience):
		t.Fatal("tailing subscriber did not finish")
	}
}

// checkEachOnceInOrder fails if a record name repeats or an appender's
// records are out of order. Names are g<appender>.b<batch>.r<record>,
// zero-padded, so one appender's names sort in append order.
func checkEachOnceInOrder(t *testing.T, what string, es []sink.Entry) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]string{}
	for _, e := range es {
		name := e.Record.GetName()
		if seen[name] {
			t.Fatalf("%s: %q stored twice", what, name)
		}
		seen[name] = true
		g := name[:3]
		if prev, ok := last[g]; ok && prev > name {
			t.Fatalf("%s: %q stored after %q", what, name, prev)
		}
		last[g] = name
	}
}
