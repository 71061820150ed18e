package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
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
	all, err := sqlitefile.LoadMigrations(migrationFS, "migrations")
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

// A database an older binary wrote, before the usage counters, gets them
// at zero on Open and keeps the last_used_time it had.
func TestMigrateAddsUsage(t *testing.T) {
	ctx := t.Context()
	path, db, all, old := migratedUpTo(t, "0002_ingest_key_usage.sql")
	now := time.Now()
	k := keystore.IngestKey{
		ID: keystore.NewID("ik_"), WorkspaceID: "ws-a", Name: "old",
		Credential: keystore.Credential{Hash: sha256.Sum256([]byte("old")), Status: keystore.StatusActive},
	}
	// The store's own inserts, outside a transaction, on the old schema.
	tx := queries.Tx(&conn{q: db})
	if err := tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws-a"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.CreateIngestKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE ingest_keys SET last_used_time = ?", timeArg(now)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := len(all) - old; s.applied != want {
		t.Fatalf("Open applied %d migrations, want %d", s.applied, want)
	}
	got, err := s.GetIngestKey(ctx, "ws-a", k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsedTime.Equal(now.Truncate(time.Microsecond)) || got.RecordsReceived != 0 || got.BatchesReceived != 0 {
		t.Fatalf("after migration: last used %v, counters %d, %d; want %v, 0, 0", got.LastUsedTime, got.RecordsReceived, got.BatchesReceived, now)
	}
	err = s.RecordUsage(ctx, []keystore.KeyUsage{{WorkspaceID: "ws-a", KeyID: k.ID, LastUsed: now.Add(time.Second), Records: 3, Batches: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetIngestKey(ctx, "ws-a", k.ID); err != nil || got.RecordsReceived != 3 || got.BatchesReceived != 1 {
		t.Fatalf("after RecordUsage: %+v, %v", got, err)
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

// A database an older binary wrote, before users, gets the new tables
// empty on Open; its audit events read back with no user and its log
// continues.
func TestMigrateAddsUsers(t *testing.T) {
	ctx := t.Context()
	path, db, all, old := migratedUpTo(t, "0003_users.sql")
	if err := queries.Tx(&conn{q: db}).CreateWorkspace(ctx, keystore.Workspace{ID: "ws-a"}); err != nil {
		t.Fatal(err)
	}
	// An event as the old binary stored it: without user_id.
	before := keystore.Event{WorkspaceID: "ws-a", Sequence: 1, Type: keystore.EventType(3), Time: time.UnixMicro(1_700_000_000_000_001).UTC(), Actor: "ak_old", APIKeyID: "ak_old"}
	for _, stmt := range []string{
		"INSERT INTO event_counters (log, seq) VALUES ('ws-a', 1)",
		"INSERT INTO events (log, sequence, type, time, actor, ingest_key_id, device_id, api_key_id, display_prefix, reason) VALUES ('ws-a', 1, 3, 1700000000000001, 'ak_old', '', '', 'ak_old', '', '')",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := len(all) - old; s.applied != want {
		t.Fatalf("Open applied %d migrations, want %d", s.applied, want)
	}
	storetest.CheckMigratedUsers(t, s, before)
}

// migratedUpTo makes a database as an older binary left it: every
// migration before name applied. It returns its path, an open handle, all
// migrations and the index of name.
func migratedUpTo(t *testing.T, name string) (string, *sql.DB, []sqlitefile.Migration, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.db")
	all, err := sqlitefile.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	old := slices.IndexFunc(all, func(m sqlitefile.Migration) bool { return m.Name == name })
	if old < 0 {
		t.Fatalf("migration %s not found", name)
	}
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, []string{"foreign_keys(1)"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitefile.Apply(t.Context(), db, all[:old]); err != nil {
		t.Fatal(err)
	}
	return path, db, all, old
}
