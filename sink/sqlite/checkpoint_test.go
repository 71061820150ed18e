package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The writer's connection never checkpoints; the background one does,
// and once the WAL is long enough the writer restarts it, so it stops
// growing. Nothing is lost on the way, and reopening the file finds it
// all.
func TestCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	s := openTest(t, path, Config{CheckpointInterval: 5 * time.Millisecond})
	var auto int
	if err := s.write.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("the write connection's wal_autocheckpoint is %d (%v), want 0", auto, err)
	}
	// Set before the first append: the writer reads it after commits,
	// which the queue orders after this write.
	s.restartFrames = 20

	var names []string
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var largest int64
	for i := 0; s.Stats().WALRestarts < 3; i++ {
		if i == 5000 {
			t.Fatalf("no third WAL restart after %d batches: %+v", i, s.Stats())
		}
		name := fmt.Sprintf("r%d", i)
		names = append(names, name)
		b := batchOf(fmt.Sprintf("s:%d", i), name)
		// Big enough that 20 frames take a few batches.
		b.Records[0].Attributes = map[string]string{"pad": string(make([]byte, 2000))}
		mustStore(t, s, b)
		largest = max(largest, walSize())
	}
	if st := s.Stats(); st.Checkpoints == 0 {
		t.Fatalf("the WAL was restarted without a background checkpoint: %+v", st)
	}
	// Restarted, the WAL is written from its start again: it never held
	// much more than restartFrames pages (and the commits since the last
	// checkpoint).
	if largest > 1<<20 {
		t.Fatalf("the WAL grew to %d bytes", largest)
	}
	if got := readNames(t, s, "ws-1"); len(got) != len(names) || got[len(got)-1] != names[len(names)-1] {
		t.Fatalf("read %d records, want %d", len(got), len(names))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, Config{})
	if got := readNames(t, s, "ws-1"); len(got) != len(names) {
		t.Fatalf("after reopening: %d records, want %d", len(got), len(names))
	}
}
