package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/sinktest"
)

// lockDB takes the database's write lock from another connection, as an
// operator's sqlite3 might. The sink's writer then waits in BEGIN (its
// busy_timeout) with the batches it took, while later Appends queue up.
// release, also run at cleanup, commits and lets the writer go on.
func lockDB(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, []string{"busy_timeout(5000)"}, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	release = sync.OnceFunc(func() {
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	t.Cleanup(release)
	return release
}

// waitFor polls cond (state the sink exposes no event for) until it
// holds, failing after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Concurrent appends are committed together, within the per-commit
// limits. The writer is held in BEGIN while every batch queues, so the
// grouping does not depend on scheduling luck.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		batches, records     int
		minCommit, maxCommit int64
	}{
		// The writer holds the first batch (or first few) while the rest
		// queue; then everything left fits one commit.
		{"Default", Config{}, 100, 1, 1, 2},
		{"MaxBatchesPerCommit", Config{MaxBatchesPerCommit: 10}, 100, 1, 10, 11},
		{"MaxRecordsPerCommit", Config{MaxRecordsPerCommit: 25}, 20, 10, 10, 11},
		// A batch above the record limit is still committed, alone.
		{"LargeBatchAlone", Config{MaxRecordsPerCommit: 5}, 4, 10, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "telemetry.db")
			var hooked sinktest.Commits
			cfg := tc.cfg
			cfg.OnCommit = hooked.Add
			s := openTest(t, path, cfg)
			release := lockDB(t, path)

			results := make([]<-chan sink.Result, tc.batches)
			var wg sync.WaitGroup
			for i := range tc.batches {
				wg.Go(func() {
					b := batchOf(fmt.Sprintf("s:%d", i))
					for j := range tc.records {
						b.Records = append(b.Records, record(fmt.Sprintf("b%d.r%d", i, j)))
					}
					results[i] = s.Append(context.Background(), b)
				})
			}
			wg.Wait() // every batch is queued or held by the writer
			release()
			for i, ch := range results {
				if r := <-ch; r.Err != nil || r.Duplicate {
					t.Fatalf("batch %d: %+v", i, r)
				}
			}
			st := s.Stats()
			if st.Commits < tc.minCommit || st.Commits > tc.maxCommit {
				t.Fatalf("%d batches took %d commits, want %d to %d", tc.batches, st.Commits, tc.minCommit, tc.maxCommit)
			}
			if st.Batches != int64(tc.batches) || st.Records != int64(tc.batches*tc.records) || st.Duplicates != 0 || st.Queued != 0 {
				t.Fatalf("stats %+v, want %d batches, %d records", st, tc.batches, tc.batches*tc.records)
			}
			// OnCommit saw each commit, with its batches and records.
			if got, want := hooked.Sum(), (sinktest.CommitSum{Commits: int(st.Commits), Batches: tc.batches, Records: tc.batches * tc.records}); got != want {
				t.Fatalf("OnCommit saw %+v, want %+v", got, want)
			}
			if n := len(readNames(t, s, "ws-1")); n != tc.batches*tc.records {
				t.Fatalf("%d records stored, want %d", n, tc.batches*tc.records)
			}
		})
	}
}

// A full queue blocks Append until there is room or ctx ends; a batch
// whose ctx ended while it waited is not stored.
func TestQueueBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s := openTest(t, path, Config{QueueSize: 5})
	release := lockDB(t, path)

	first := s.Append(context.Background(), batchOf("", "held"))
	waitFor(t, "the writer to begin committing the first batch", func() bool { return s.Stats().Committing == 1 })
	var queued []<-chan sink.Result
	for i := range 5 {
		queued = append(queued, s.Append(context.Background(), batchOf("", fmt.Sprintf("q%d", i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := <-s.Append(ctx, batchOf("", "timed out"))
	if !errors.Is(r.Err, context.DeadlineExceeded) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("Append on a full queue: %+v after %v, want DeadlineExceeded after 50ms", r, time.Since(start))
	}
	if q := s.Stats().Queued; q != 5 {
		t.Fatalf("queued %d, want the queue's capacity 5", q)
	}
	var appended atomic.Bool
	blocked := make(chan (<-chan sink.Result), 1)
	go func() {
		ch := s.Append(context.Background(), batchOf("", "waited"))
		appended.Store(true)
		blocked <- ch
	}()
	time.Sleep(20 * time.Millisecond)
	if appended.Load() {
		t.Fatal("Append returned while the queue was full")
	}
	release()
	for _, ch := range append(queued, first, <-blocked) {
		if r := <-ch; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if got := fmt.Sprint(readNames(t, s, "ws-1")); got != "[held q0 q1 q2 q3 q4 waited]" {
		t.Fatalf("stored %s", got)
	}
}

// A batch whose ctx ends while it is queued is answered with ctx's error
// and not stored; the batches around it are.
func TestCancelWhileQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s := openTest(t, path, Config{})
	release := lockDB(t, path)

	held := s.Append(context.Background(), batchOf("s:1", "held"))
	waitFor(t, "the writer to begin committing the first batch", func() bool { return s.Stats().Committing == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	withdrawn := s.Append(ctx, batchOf("s:2", "withdrawn"))
	after := s.Append(context.Background(), batchOf("s:3", "after"))
	cancel()
	release()
	if r := <-held; r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := <-withdrawn; !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("withdrawn batch: %+v, want Canceled", r)
	}
	if r := <-after; r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := fmt.Sprint(readNames(t, s, "ws-1")); got != "[held after]" {
		t.Fatalf("stored %s, want [held after]", got)
	}
	// The withdrawn batch did not claim its dedupe key.
	if r := mustStore(t, s, batchOf("s:2", "resent")); r.Duplicate {
		t.Fatal("the withdrawn batch's key was claimed")
	}
}

// Close lets the commit under way finish and fails what is still queued;
// the file then holds exactly the batches acknowledged.
func TestCloseWithQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s, err := Open(context.Background(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	release := lockDB(t, path)
	held := s.Append(context.Background(), batchOf("", "held"))
	waitFor(t, "the writer to begin committing the first batch", func() bool { return s.Stats().Committing == 1 })
	queued := []<-chan sink.Result{
		s.Append(context.Background(), batchOf("", "queued1")),
		s.Append(context.Background(), batchOf("", "queued2")),
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to begin", s.isClosing)
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if r := <-held; r.Err != nil {
		t.Fatalf("batch in the commit under way: %v", r.Err)
	}
	for _, ch := range queued {
		if r := <-ch; !errors.Is(r.Err, sink.ErrClosed) {
			t.Fatalf("queued batch: %+v, want ErrClosed", r)
		}
	}
	s = openTest(t, path, Config{})
	if got := fmt.Sprint(readNames(t, s, "ws-1")); got != "[held]" {
		t.Fatalf("stored %s, want [held]", got)
	}
}

// Reads use their own connections: they go on while the write lock is
// held elsewhere.
func TestReadWhileWriteLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s := openTest(t, path, Config{})
	mustStore(t, s, batchOf("", "before"))
	release := lockDB(t, path)
	pending := s.Append(context.Background(), batchOf("", "pending"))
	if got := fmt.Sprint(readNames(t, s, "ws-1")); got != "[before]" {
		t.Fatalf("read %s while locked, want [before]", got)
	}
	release()
	if r := <-pending; r.Err != nil {
		t.Fatal(r.Err)
	}
}

// clock is a settable wall clock for dedupe window tests.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// A dedupe key counts for exactly the window, pruned or not; expired keys
// are pruned in chunks.
func TestDedupeWindow(t *testing.T) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	// Prune rarely at first, so the window check is seen on its own.
	s, err := open(context.Background(), filepath.Join(t.TempDir(), "telemetry.db"),
		Config{DedupeWindow: time.Hour, PruneInterval: 50 * time.Millisecond}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	dup := func(key string) bool { return mustStore(t, s, batchOf(key, key)).Duplicate }
	if dup("s:1") {
		t.Fatal("first copy is a duplicate")
	}
	c.advance(time.Hour - time.Nanosecond)
	if !dup("s:1") {
		t.Fatal("copy within the window was stored")
	}
	c.advance(time.Nanosecond)
	if dup("s:1") {
		t.Fatal("copy once the window has passed is a duplicate")
	}
	c.advance(30 * time.Minute)
	if !dup("s:1") {
		t.Fatal("the copy stored again did not restart the window")
	}

	// More expired keys than one prune deletes at once.
	var pending []<-chan sink.Result
	for i := range 2*pruneChunk + 10 {
		pending = append(pending, s.Append(context.Background(), batchOf(fmt.Sprintf("old:%d", i))))
	}
	for _, ch := range pending {
		if r := <-ch; r.Err != nil || r.Duplicate {
			t.Fatalf("%+v", r)
		}
	}
	c.advance(2 * time.Hour)
	if dup("fresh") {
		t.Fatal("fresh key is a duplicate")
	}
	count := func() (n int) {
		if err := s.read.QueryRow(`SELECT count(*) FROM dedupe`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "expired dedupe keys to be pruned", func() bool { return count() == 1 })
	if !dup("fresh") {
		t.Fatal("prune removed a key within the window")
	}
}

// With CommitDelay, batches arriving one after another within the delay
// share one commit, and the first waits the delay for its ack; Close cuts
// a delay short and still stores what was waiting.
func TestCommitDelay(t *testing.T) {
	const delay = 400 * time.Millisecond
	s := openTest(t, filepath.Join(t.TempDir(), "telemetry.db"), Config{CommitDelay: delay})
	start := time.Now()
	var results []<-chan sink.Result
	for i := range 5 {
		results = append(results, s.Append(context.Background(), batchOf(fmt.Sprintf("s:%d", i), fmt.Sprintf("r%d", i))))
		time.Sleep(5 * time.Millisecond)
	}
	for i, ch := range results {
		if r := <-ch; r.Err != nil {
			t.Fatalf("batch %d: %v", i, r.Err)
		}
	}
	if took := time.Since(start); took < delay {
		t.Fatalf("the first batch was acked after %v, before the %v delay", took, delay)
	}
	if st := s.Stats(); st.Commits != 1 || st.Batches != 5 {
		t.Fatalf("stats %+v: want the 5 batches in one commit", st)
	}

	// Close while the writer lingers: it stops waiting and commits.
	long := openTest(t, filepath.Join(t.TempDir(), "telemetry.db"), Config{CommitDelay: time.Hour})
	ch := long.Append(context.Background(), batchOf("s:1", "lingering"))
	waitFor(t, "the writer to take the batch", func() bool { return long.Stats().Queued == 0 })
	if err := long.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.Err != nil {
		t.Fatalf("the batch the writer held: %v, want it stored", r.Err)
	}
}

func TestCommitDelayMustNotBeNegative(t *testing.T) {
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "telemetry.db"), Config{CommitDelay: -time.Millisecond}); err == nil {
		t.Fatal("a negative CommitDelay was accepted")
	}
}
