package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/internal/sqlitefile"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/sinktest"
)

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sink.Sink {
		return openTest(t, filepath.Join(t.TempDir(), "telemetry.db"), Config{})
	})
}

// openTest opens a sink that is closed when t ends.
func openTest(t testing.TB, path string, cfg Config) *Sink {
	t.Helper()
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// record is a small record named name.
func record(name string) *ingestgatev1.Record {
	return &ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_NumberValue{NumberValue: 1}}
}

func batchOf(key string, names ...string) sink.Batch {
	b := sink.Batch{WorkspaceID: "ws-1", DeviceID: "dev-1", IngestKeyID: "ik-1", DedupeKey: key, ReceiveTime: time.Now()}
	for _, n := range names {
		b.Records = append(b.Records, record(n))
	}
	return b
}

func mustStore(t testing.TB, s sink.Sink, b sink.Batch) sink.Result {
	t.Helper()
	r, err := sink.Store(context.Background(), s, b)
	if err != nil {
		t.Fatalf("Store(%q): %v", b.DedupeKey, err)
	}
	return r
}

// readNames pages through a workspace and returns its record names.
func readNames(t testing.TB, s sink.Sink, ws string) []string {
	t.Helper()
	var out []string
	q := sink.Query{WorkspaceID: ws, Limit: sink.MaxReadLimit}
	for {
		es, err := s.Read(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			out = append(out, e.Record.GetName())
		}
		q.After = es[len(es)-1].Cursor
	}
}

// The file is created private, in a directory made on demand, with the
// pragmas durability depends on.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "telemetry.db")
	s := openTest(t, path, Config{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.write, "journal_mode", "wal"},
		{s.write, "synchronous", "2"}, // FULL
		{s.write, "query_only", "0"},
		{s.read, "query_only", "1"},
	} {
		var got string
		if err := tc.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.read.Exec(`DELETE FROM telemetry_batches`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestConfig(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{QueueSize: 1024, MaxBatchesPerCommit: 1000, MaxRecordsPerCommit: 100_000,
		DedupeWindow: 24 * time.Hour, PruneInterval: time.Minute, CheckpointInterval: time.Second, Logger: c.Logger}
	if !reflect.DeepEqual(c, want) || c.Logger == nil {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
	_, err = Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), Config{QueueSize: -1, DedupeWindow: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "QueueSize") || !strings.Contains(err.Error(), "DedupeWindow") {
		t.Fatalf("Open with negative config: %v, want errors naming QueueSize and DedupeWindow", err)
	}
	if _, err := Open(t.Context(), "", Config{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

// Telemetry, cursors and dedupe keys survive a close and reopen; no
// migration runs twice.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s, err := Open(t.Context(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := sqlitefile.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != len(all) || len(all) == 0 {
		t.Fatalf("first Open applied %d migrations, want all %d", s.applied, len(all))
	}
	mustStore(t, s, batchOf("s:1", "a", "b"))
	mustStore(t, s, batchOf("s:2", "c"))
	end, err := s.EndCursor(t.Context(), "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, path, Config{})
	if s.applied != 0 {
		t.Fatalf("reopen applied %d migrations, want 0", s.applied)
	}
	if got := strings.Join(readNames(t, s, "ws-1"), ","); got != "a,b,c" {
		t.Fatalf("after reopen: %s, want a,b,c", got)
	}
	if r := mustStore(t, s, batchOf("s:2", "c again")); !r.Duplicate {
		t.Fatal("a batch stored before the reopen was stored again")
	}
	mustStore(t, s, batchOf("s:3", "d"))
	es, err := s.Read(t.Context(), sink.Query{WorkspaceID: "ws-1", After: end})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Record.GetName() != "d" {
		t.Fatalf("after the old end cursor: %v, want only d", es)
	}
}

// Record times are stored as int64 nanoseconds; a time outside that
// range is refused rather than stored wrong.
func TestTimeRange(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "telemetry.db"), Config{})
	ok := time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		recTime time.Time
		recv    time.Time
		wantErr bool
	}{
		{"LatestRecord", ok, time.Now(), false},
		{"EarliestRecord", time.Date(1677, 9, 22, 0, 0, 0, 0, time.UTC), time.Now(), false},
		{"RecordAfter2262", time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC), time.Now(), true},
		{"RecordBefore1677", time.Date(1677, 9, 20, 0, 0, 0, 0, time.UTC), time.Now(), true},
		{"ReceiveAfter2262", ok, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batchOf("", tc.name)
			b.WorkspaceID = "ws-" + tc.name
			b.Records[0].Time = timestamppb.New(tc.recTime)
			b.ReceiveTime = tc.recv
			_, err := sink.Store(t.Context(), s, b)
			if tc.wantErr {
				if !errors.Is(err, sink.ErrInvalidRecord) {
					t.Fatalf("got %v, want ErrInvalidRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			es, err := s.Read(t.Context(), sink.Query{WorkspaceID: b.WorkspaceID})
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 1 || !es[0].Record.GetTime().AsTime().Equal(tc.recTime) {
				t.Fatalf("read back %v, want time %v", es, tc.recTime)
			}
		})
	}
}

// Reads and cursor lookups use the indexes, never a scan or a sort.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "telemetry.db"), Config{})
	for _, tc := range []struct {
		query string
		args  []any
		index string
	}{
		{readAllSQL, []any{"ws", 0, 10}, "telemetry_batches_by_workspace"},
		{readDeviceSQL, []any{"ws", 0, 10, "dev"}, "telemetry_batches_by_device"},
		{endSQL, []any{"ws"}, "telemetry_batches_by_workspace"},
	} {
		rows, err := s.read.Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "USING COVERING INDEX "+tc.index) && !strings.Contains(got, "USING INDEX "+tc.index) ||
			strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan for %q: %s; want a search using %s and no sort", tc.query, got, tc.index)
		}
	}
}
