package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "keys.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

// Reopening an existing file applies no migration again and keeps the
// data; the recorded migrations are left as they were.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "keys.db")
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != len(all) || len(all) == 0 {
		t.Fatalf("first Open applied %d migrations, want all %d", s.applied, len(all))
	}
	// The file holds key hashes: private to the owner.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	recorded := migrationRows(t, s)
	w := keystore.Workspace{ID: "ws-a", DisplayName: "A"}
	err = s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		if err := tx.CreateWorkspace(ctx, w); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, keystore.Event{WorkspaceID: "ws-a"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.applied != 0 {
		t.Fatalf("reopen applied %d migrations, want 0", s.applied)
	}
	if got := migrationRows(t, s); !slices.Equal(got, recorded) {
		t.Fatalf("schema_migrations after reopen = %v, want %v", got, recorded)
	}
	got, err := s.GetWorkspace(ctx, "ws-a")
	if err != nil || got != w {
		t.Fatalf("GetWorkspace after reopen = %+v, %v; want %+v", got, err, w)
	}
	var seq uint64
	err = s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		e, err := tx.AppendEvent(ctx, keystore.Event{WorkspaceID: "ws-a"})
		seq = e.Sequence
		return err
	})
	if err != nil || seq != 2 {
		t.Fatalf("AppendEvent after reopen = sequence %d, %v; want 2", seq, err)
	}
}

// The connections are set up as Open promises.
func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		pragma string
		write  string
		read   string
	}{
		{"journal_mode", "wal", "wal"},
		{"foreign_keys", "1", "1"},
		{"synchronous", "1", "2"}, // NORMAL on the writer; readers never sync
		{"busy_timeout", "5000", "5000"},
		{"query_only", "0", "1"},
	} {
		for _, c := range []struct {
			name string
			q    querier
			want string
		}{{"write", s.write, tc.write}, {"read", s.read, tc.read}} {
			var got string
			if err := c.q.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s PRAGMA %s: %v", c.name, tc.pragma, err)
			}
			if got != c.want {
				t.Errorf("%s connection: PRAGMA %s = %s, want %s", c.name, tc.pragma, got, c.want)
			}
		}
	}
	// A write through the read pool fails instead of bypassing the writer.
	if _, err := s.read.ExecContext(t.Context(), "DELETE FROM workspaces"); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

type migrationRow struct {
	version int
	name    string
	applied int64
}

func migrationRows(t *testing.T, s *Store) []migrationRow {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "SELECT version, name, applied_time FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.version, &r.name, &r.applied); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
