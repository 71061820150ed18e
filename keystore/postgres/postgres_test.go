package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingestgate/ingestgate/internal/sqlitefile"

	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/storetest"
)

func TestConformance(t *testing.T) {
	testservices.PostgresURL(t) // fail once, not in every subtest
	storetest.Run(t, func(t *testing.T) keystore.Store {
		return openStore(t, testservices.PostgresDB(t))
	})
}

// openStore opens the database at u and closes it when the test ends
// (before the database is dropped: cleanups run last-in first-out).
func openStore(t testing.TB, u string) *Store {
	t.Helper()
	s, err := Open(context.Background(), u)
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

// Nodes starting together on a fresh database both succeed: the advisory
// lock makes one migrate while the other waits, then finds nothing to do.
func TestConcurrentOpen(t *testing.T) {
	u := testservices.PostgresDB(t)
	const nodes = 4
	var wg sync.WaitGroup
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), u) })
	}
	wg.Wait()
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		applied += s.applied
		s.Close()
	}
	if applied != len(all) {
		t.Errorf("Opens applied %d migrations in all, want %d (each once)", applied, len(all))
	}
}

// Reopening applies no migration again and keeps the data and the
// recorded migrations; the audit log continues its sequence.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	u := testservices.PostgresDB(t)
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if s.applied != len(all) || len(all) == 0 {
		t.Fatalf("first Open applied %d migrations, want all %d", s.applied, len(all))
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
	s.Close()

	s = openStore(t, u)
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

// A database a newer binary migrated is refused, not written to.
func TestRefuseNewerSchema(t *testing.T) {
	u := testservices.PostgresDB(t)
	s := openStore(t, u)
	if _, err := s.pool.Exec(t.Context(), "INSERT INTO schema_migrations (version, name, applied_time) VALUES (9999, '9999_future.sql', now())"); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(t.Context(), u); err == nil {
		s2.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// Many writers appending to one log, one event per transaction, get
// exactly the sequences 1..n: conflicts are retried, never surfaced, and
// no sequence is skipped or handed out twice. The burst (a fleet
// registering its devices through two nodes at once) once failed writers
// after 20 lost conflicts on the log's counter; losers now wait for the
// log's lock instead.
func TestConcurrentAppendEvent(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		stores, writers, perWriter int
	}{
		{"steady", 1, 20, 10},
		{"burst over three nodes", 3, 128, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testservices.PostgresDB(t)
			var stores []*Store
			for range tc.stores {
				stores = append(stores, openStore(t, db))
			}
			var (
				mu   sync.Mutex
				seqs []uint64
				wg   sync.WaitGroup
			)
			now := time.Now().UTC().Truncate(time.Microsecond)
			err := stores[0].ReadWrite(t.Context(), func(ctx context.Context, tx keystore.Tx) error {
				return tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws-a", CreateTime: now, UpdateTime: now})
			})
			if err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			for w := range tc.writers {
				s := stores[w%len(stores)]
				wg.Go(func() {
					<-start
					for i := range tc.perWriter {
						var e keystore.Event
						// As a device's registration: read, create, audit.
						id := fmt.Sprintf("device-%d-%d", w, i)
						err := s.ReadWrite(t.Context(), func(ctx context.Context, tx keystore.Tx) error {
							if _, err := tx.GetDevice(ctx, "ws-a", id); !errors.Is(err, keystore.ErrNotFound) {
								return fmt.Errorf("device %s before it was created: %v", id, err)
							}
							if err := tx.CreateDevice(ctx, keystore.Device{WorkspaceID: "ws-a", ID: id, CreateTime: now, UpdateTime: now}); err != nil {
								return err
							}
							var err error
							e, err = tx.AppendEvent(ctx, keystore.Event{WorkspaceID: "ws-a", Actor: fmt.Sprintf("writer %d", w), DeviceID: id})
							return err
						})
						if err != nil {
							t.Errorf("writer %d event %d: %v", w, i, err)
							return
						}
						mu.Lock()
						seqs = append(seqs, e.Sequence)
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			if t.Failed() {
				return
			}
			want := make([]uint64, tc.writers*tc.perWriter)
			for i := range want {
				want[i] = uint64(i + 1)
			}
			slices.Sort(seqs)
			if !slices.Equal(seqs, want) {
				t.Fatalf("sequences returned = %v, want 1..%d", seqs, len(want))
			}
			evs, err := stores[0].ListEvents(t.Context(), keystore.EventQuery{WorkspaceID: "ws-a", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			stored := make([]uint64, len(evs))
			for i, e := range evs {
				stored[i] = e.Sequence
			}
			if !slices.Equal(stored, want) {
				t.Fatalf("sequences stored = %v, want 1..%d", stored, len(want))
			}
		})
	}
}

type migrationRow struct {
	version int
	name    string
}

func migrationRows(t *testing.T, s *Store) []migrationRow {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (migrationRow, error) {
		var m migrationRow
		err := r.Scan(&m.version, &m.name)
		return m, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A database an older binary migrated, before the usage counters, gets
// them at zero on Open and keeps the last_used_time it had.
func TestMigrateAddsUsage(t *testing.T) {
	ctx := t.Context()
	u, pool, all, old := migratedUpTo(t, "0002_ingest_key_usage.sql")
	now := time.Now()
	k := keystore.IngestKey{
		ID: keystore.NewID("ik_"), WorkspaceID: "ws-a", Name: "old",
		Credential: keystore.Credential{Hash: sha256.Sum256([]byte("old")), Status: keystore.StatusActive},
	}
	// The store's own inserts, outside a transaction, on the old schema.
	tx := queries.Tx(conn{pool})
	if err := tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws-a"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.CreateIngestKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE ingest_keys SET last_used_time = $1", now); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, u)
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
}

// A database an older binary migrated, before users, gets the new tables
// empty on Open; its audit events read back with no user and its log
// continues.
func TestMigrateAddsUsers(t *testing.T) {
	ctx := t.Context()
	u, pool, all, old := migratedUpTo(t, "0003_users.sql")
	if err := queries.Tx(conn{pool}).CreateWorkspace(ctx, keystore.Workspace{ID: "ws-a"}); err != nil {
		t.Fatal(err)
	}
	// An event as the old binary stored it: without user_id.
	before := keystore.Event{WorkspaceID: "ws-a", Sequence: 1, Type: keystore.EventType(3), Time: time.UnixMicro(1_700_000_000_000_001).UTC(), Actor: "ak_old", APIKeyID: "ak_old"}
	if _, err := pool.Exec(ctx, "INSERT INTO event_counters (log, seq) VALUES ('ws-a', 1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO events (log, sequence, type, time, actor, ingest_key_id, device_id, api_key_id, display_prefix, reason) VALUES ('ws-a', 1, 3, $1, 'ak_old', '', '', 'ak_old', '', '')", before.Time); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, u)
	if want := len(all) - old; s.applied != want {
		t.Fatalf("Open applied %d migrations, want %d", s.applied, want)
	}
	storetest.CheckMigratedUsers(t, s, before)
}

// migratedUpTo makes a database as an older binary left it: every
// migration before name applied. It returns its URL, a pool on it (closed
// when the test ends), all migrations and the index of name.
func migratedUpTo(t *testing.T, name string) (string, *pgxpool.Pool, []sqlitefile.Migration, int) {
	t.Helper()
	u := testservices.PostgresDB(t)
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	old := slices.IndexFunc(all, func(m sqlitefile.Migration) bool { return m.Name == name })
	if old < 0 {
		t.Fatalf("migration %s not found", name)
	}
	pool, err := pgxpool.New(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := apply(t.Context(), pool, all[:old]); err != nil {
		t.Fatal(err)
	}
	return u, pool, all, old
}
