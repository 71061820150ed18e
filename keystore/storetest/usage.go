package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// recordUsage calls RecordUsage and fails the test on an error.
func recordUsage(t *testing.T, s keystore.Store, keys []keystore.KeyUsage, devs []keystore.DeviceSeen) {
	t.Helper()
	noErr(t, "RecordUsage", s.RecordUsage(t.Context(), keys, devs))
}

func keyUsage(k keystore.IngestKey, last time.Time, records, batches uint64) keystore.KeyUsage {
	return keystore.KeyUsage{WorkspaceID: k.WorkspaceID, KeyID: k.ID, LastUsed: last, Records: records, Batches: batches}
}

func deviceSeen(d keystore.Device, last time.Time) keystore.DeviceSeen {
	return keystore.DeviceSeen{WorkspaceID: d.WorkspaceID, DeviceID: d.ID, LastSeen: last}
}

// checkIngestKeyUsage reads k back through Get, Find and List, expecting
// usage u; unlike checkIngestKey it allows other keys in k's workspace.
func checkIngestKeyUsage(t *testing.T, s keystore.Store, k keystore.IngestKey, u usage) {
	t.Helper()
	ctx, want := t.Context(), wantIngestKeyUsage(k, u)
	got, err := s.GetIngestKey(ctx, k.WorkspaceID, k.ID)
	noErr(t, "GetIngestKey", err)
	equal(t, "GetIngestKey", got, want)
	got, err = s.FindIngestKeyByHash(ctx, k.Hash)
	noErr(t, "FindIngestKeyByHash", err)
	equal(t, "FindIngestKeyByHash", got, want)
	list, err := s.ListIngestKeys(ctx, keystore.IngestKeyQuery{WorkspaceID: k.WorkspaceID})
	noErr(t, "ListIngestKeys", err)
	equal(t, "ListIngestKeys", pick(list, k.ID, ingestKeyID), []keystore.IngestKey{want})
}

// checkDeviceSeen reads d back through Get and List, expecting it last seen
// at last; it allows other devices in d's workspace.
func checkDeviceSeen(t *testing.T, s keystore.Store, d keystore.Device, last time.Time) {
	t.Helper()
	want := wantDeviceSeen(d, last)
	got, err := s.GetDevice(t.Context(), d.WorkspaceID, d.ID)
	noErr(t, "GetDevice", err)
	equal(t, "GetDevice", got, want)
	list, err := s.ListDevices(t.Context(), keystore.DeviceQuery{WorkspaceID: d.WorkspaceID})
	noErr(t, "ListDevices", err)
	equal(t, "ListDevices", pick(list, d.ID, deviceID), []keystore.Device{want})
}

// pick keeps the records with this id.
func pick[T any](rs []T, id string, idOf func(T) string) []T {
	var out []T
	for _, r := range rs {
		if idOf(r) == id {
			out = append(out, r)
		}
	}
	return out
}

// noEvents checks that the logs of the workspaces and the global log are
// empty: usage is not audited.
func noEvents(t *testing.T, s keystore.Store, workspaceIDs ...string) {
	t.Helper()
	for _, ws := range append(workspaceIDs, "") {
		equal(t, fmt.Sprintf("events in log %q", ws), len(listEvents(t, s, keystore.EventQuery{WorkspaceID: ws})), 0)
	}
}

func testUsage(t *testing.T, newStore Factory) {
	// Create ignores the usage in its argument: records start unused.
	t.Run("CreateStartsEmpty", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k, d := fullIngestKey("ws-a"), fullDevice("ws-a", "dev-1")
		if k.LastUsedTime.IsZero() || k.RecordsReceived == 0 || k.BatchesReceived == 0 || d.LastSeenTime.IsZero() {
			t.Fatal("fixtures must set usage for this test to mean anything")
		}
		createIngestKeys(t, s, k)
		createDevices(t, s, d)
		checkIngestKeyUsage(t, s, k, usage{})
		checkDeviceSeen(t, s, d, time.Time{})
	})

	t.Run("CountersAddUp", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		a, b, idle := fullIngestKey("ws-a"), simpleIngestKey("ws-a", "b", nil), simpleIngestKey("ws-a", "idle", nil)
		createIngestKeys(t, s, a, b, idle)
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(a, at(50), 100, 3), keyUsage(b, at(51), 1, 1)}, nil)
		checkIngestKeyUsage(t, s, a, usage{at(50), 100, 3})
		checkIngestKeyUsage(t, s, b, usage{at(51), 1, 1})
		// Across calls, and within one call for the same key.
		recordUsage(t, s, []keystore.KeyUsage{
			keyUsage(a, at(52), 20, 2),
			keyUsage(b, at(52), 7, 1),
			keyUsage(a, at(53), 5, 1),
		}, nil)
		checkIngestKeyUsage(t, s, a, usage{at(53), 125, 6})
		checkIngestKeyUsage(t, s, b, usage{at(52), 8, 2})
		// Zero deltas add nothing; the time still counts.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(b, at(54), 0, 0)}, nil)
		checkIngestKeyUsage(t, s, b, usage{at(54), 8, 2})
		checkIngestKeyUsage(t, s, idle, usage{})
		noEvents(t, s, "ws-a")
	})

	t.Run("LastUsedIsTheLater", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := simpleIngestKey("ws-a", "k", nil)
		createIngestKeys(t, s, k)
		// A zero time with counts leaves an unset time unset.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, time.Time{}, 1, 1)}, nil)
		checkIngestKeyUsage(t, s, k, usage{time.Time{}, 1, 1})
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(60), 1, 1)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(60), 2, 2})
		// An older time (a slow node's flush) does not move it back, by an
		// hour or by a microsecond; the counts still add.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(59), 1, 1), keyUsage(k, at(60).Add(-time.Microsecond), 1, 1)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(60), 4, 4})
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, time.Time{}, 1, 1)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(60), 5, 5})
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(60).Add(time.Microsecond), 0, 0)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(60).Add(time.Microsecond), 5, 5})
		// Times in another location compare as instants.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(61).UTC(), 0, 0), keyUsage(k, at(61).Add(-time.Minute).In(time.FixedZone("UTC+1", 3600)), 0, 0)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(61), 5, 5})
	})

	t.Run("LastSeenIsTheLater", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		d, other := fullDevice("ws-a", "dev-1"), fullDevice("ws-a", "dev-2")
		createDevices(t, s, d, other)
		recordUsage(t, s, nil, []keystore.DeviceSeen{deviceSeen(d, time.Time{})})
		checkDeviceSeen(t, s, d, time.Time{})
		recordUsage(t, s, nil, []keystore.DeviceSeen{deviceSeen(d, at(70))})
		checkDeviceSeen(t, s, d, at(70))
		recordUsage(t, s, nil, []keystore.DeviceSeen{deviceSeen(d, at(69)), deviceSeen(d, at(70).Add(-time.Microsecond)), deviceSeen(d, time.Time{})})
		checkDeviceSeen(t, s, d, at(70))
		recordUsage(t, s, nil, []keystore.DeviceSeen{deviceSeen(d, at(71)), deviceSeen(d, at(70))})
		checkDeviceSeen(t, s, d, at(71))
		checkDevice(t, s, other)
		noEvents(t, s, "ws-a")
	})

	// One call records keys and devices of several workspaces.
	t.Run("KeysAndDevicesTogether", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		ka, kb := simpleIngestKey("ws-a", "a", nil), simpleIngestKey("ws-b", "b", nil)
		da, db := fullDevice("ws-a", "dev-1"), fullDevice("ws-b", "dev-2")
		createIngestKeys(t, s, ka, kb)
		createDevices(t, s, da, db)
		recordUsage(t, s,
			[]keystore.KeyUsage{keyUsage(ka, at(80), 10, 1), keyUsage(kb, at(81), 20, 2)},
			[]keystore.DeviceSeen{deviceSeen(da, at(82)), deviceSeen(db, at(83))})
		checkIngestKeyUsage(t, s, ka, usage{at(80), 10, 1})
		checkIngestKeyUsage(t, s, kb, usage{at(81), 20, 2})
		checkDeviceSeen(t, s, da, at(82))
		checkDeviceSeen(t, s, db, at(83))
		noEvents(t, s, "ws-a", "ws-b")
	})

	// Keys and devices deleted since the node saw them (or never there)
	// are skipped; the rest of the call still counts.
	t.Run("MissingIgnored", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-gone")
		k, deleted, inGone := simpleIngestKey("ws-a", "k", nil), simpleIngestKey("ws-a", "deleted", nil), simpleIngestKey("ws-gone", "g", nil)
		d, deletedDev, devInGone := fullDevice("ws-a", "dev-1"), fullDevice("ws-a", "dev-deleted"), fullDevice("ws-gone", "dev-1")
		createIngestKeys(t, s, k, deleted, inGone)
		createDevices(t, s, d, deletedDev, devInGone)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			if err := tx.DeleteIngestKey(ctx, "ws-a", deleted.ID); err != nil {
				return err
			}
			if err := tx.DeleteDevice(ctx, "ws-a", deletedDev.ID); err != nil {
				return err
			}
			return tx.DeleteWorkspace(ctx, "ws-gone", true)
		})
		recordUsage(t, s,
			[]keystore.KeyUsage{
				keyUsage(deleted, at(90), 1, 1),
				keyUsage(inGone, at(90), 1, 1),
				{WorkspaceID: "ws-a", KeyID: keystore.NewID("ik_"), LastUsed: at(90), Records: 1, Batches: 1},
				{WorkspaceID: "ws-missing", KeyID: k.ID, LastUsed: at(90), Records: 1, Batches: 1},
				{LastUsed: at(90), Records: 1, Batches: 1},
				keyUsage(k, at(91), 3, 1),
			},
			[]keystore.DeviceSeen{
				deviceSeen(deletedDev, at(90)),
				deviceSeen(devInGone, at(90)),
				{WorkspaceID: "ws-a", DeviceID: "never-registered", LastSeen: at(90)},
				{LastSeen: at(90)},
				deviceSeen(d, at(92)),
			})
		checkIngestKeyUsage(t, s, k, usage{at(91), 3, 1})
		checkDeviceSeen(t, s, d, at(92))
		// Nothing was created on the way.
		keys, err := s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{})
		noErr(t, "ListIngestKeys", err)
		equalIDs(t, "ingest keys", idsOf(keys, ingestKeyID), []string{k.ID})
		devs, err := s.ListDevices(t.Context(), keystore.DeviceQuery{})
		noErr(t, "ListDevices", err)
		equalIDs(t, "devices", idsOf(devs, deviceID), []string{d.ID})
		_, err = s.GetWorkspace(t.Context(), "ws-gone")
		wantErr(t, "GetWorkspace of the deleted workspace", err, keystore.ErrNotFound)
		// Only missing records: still no error.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(deleted, at(93), 1, 1)}, []keystore.DeviceSeen{deviceSeen(deletedDev, at(93))})
	})

	// Usage names the workspace: an entry under another workspace does not
	// reach a key or device with that id.
	t.Run("WorkspaceScoping", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		k := fullIngestKey("ws-a")
		da, db := fullDevice("ws-a", "dev-1"), fullDevice("ws-b", "dev-1")
		createIngestKeys(t, s, k)
		createDevices(t, s, da, db)
		recordUsage(t, s,
			[]keystore.KeyUsage{{WorkspaceID: "ws-b", KeyID: k.ID, LastUsed: at(100), Records: 9, Batches: 9}},
			[]keystore.DeviceSeen{deviceSeen(db, at(101))})
		checkIngestKey(t, s, k)
		checkDevice(t, s, da)
		checkDeviceSeen(t, s, db, at(101))
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(102), 1, 1)}, []keystore.DeviceSeen{deviceSeen(da, at(103))})
		checkIngestKeyUsage(t, s, k, usage{at(102), 1, 1})
		checkDeviceSeen(t, s, da, at(103))
		checkDeviceSeen(t, s, db, at(101))
	})

	// A management update made from a copy read before a flush (a request
	// racing the flush) must not roll the usage back: Update ignores it.
	t.Run("UpdateKeepsUsage", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k, d := fullIngestKey("ws-a"), fullDevice("ws-a", "dev-1")
		createIngestKeys(t, s, k)
		createDevices(t, s, d)
		staleKey, err := s.GetIngestKey(t.Context(), k.WorkspaceID, k.ID)
		noErr(t, "GetIngestKey", err)
		staleDev, err := s.GetDevice(t.Context(), d.WorkspaceID, d.ID)
		noErr(t, "GetDevice", err)
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(110), 500, 5)}, []keystore.DeviceSeen{deviceSeen(d, at(111))})

		staleKey.Name, staleKey.UpdateTime = "renamed", at(112)
		noErr(t, "Revoke", staleKey.Revoke("done", at(112)))
		updateIngestKey(t, s, staleKey)
		checkIngestKeyUsage(t, s, staleKey, usage{at(110), 500, 5})
		staleDev.DisplayName, staleDev.UpdateTime = "renamed", at(112)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, staleDev) })
		checkDeviceSeen(t, s, staleDev, at(111))

		// Usage set by the caller is ignored too, later or not.
		staleKey.LastUsedTime, staleKey.RecordsReceived, staleKey.BatchesReceived = at(200), 1, math.MaxUint64
		updateIngestKey(t, s, staleKey)
		checkIngestKeyUsage(t, s, staleKey, usage{at(110), 500, 5})
		staleDev.LastSeenTime = at(200)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, staleDev) })
		checkDeviceSeen(t, s, staleDev, at(111))

		// And counting goes on from the stored values.
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(113), 1, 1)}, []keystore.DeviceSeen{deviceSeen(d, at(114))})
		checkIngestKeyUsage(t, s, staleKey, usage{at(113), 501, 6})
		checkDeviceSeen(t, s, staleDev, at(114))
	})

	// Within a ReadWrite callback, Update after a read inside the
	// transaction keeps usage as well (the server's read-modify-write).
	t.Run("UpdateInTransactionKeepsUsage", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := simpleIngestKey("ws-a", "k", nil)
		createIngestKeys(t, s, k)
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(120), 4, 2)}, nil)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			got, err := tx.GetIngestKey(ctx, k.WorkspaceID, k.ID)
			if err != nil {
				return err
			}
			if got.RecordsReceived != 4 || got.BatchesReceived != 2 {
				return fmt.Errorf("counters inside the transaction = %d, %d; want 4, 2", got.RecordsReceived, got.BatchesReceived)
			}
			got.Name = "renamed"
			return tx.UpdateIngestKey(ctx, got)
		})
		k.Name = "renamed"
		checkIngestKeyUsage(t, s, k, usage{at(120), 4, 2})
	})

	// Counters stop at math.MaxInt64 instead of wrapping or failing the
	// flush, and a delta beyond it counts as math.MaxInt64.
	t.Run("CountersSaturate", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := simpleIngestKey("ws-a", "k", nil)
		createIngestKeys(t, s, k)
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(130), math.MaxInt64-1, math.MaxUint64)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(130), math.MaxInt64 - 1, math.MaxInt64})
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(131), 1, 1)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(131), math.MaxInt64, math.MaxInt64})
		recordUsage(t, s, []keystore.KeyUsage{keyUsage(k, at(132), math.MaxUint64, 5)}, nil)
		checkIngestKeyUsage(t, s, k, usage{at(132), math.MaxInt64, math.MaxInt64})
	})

	t.Run("NothingToRecord", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		recordUsage(t, s, nil, nil)
		recordUsage(t, s, []keystore.KeyUsage{}, []keystore.DeviceSeen{})
		noEvents(t, s, "ws-a")
	})

	// Flushes from several nodes and management updates interleave; no
	// count is lost and LastUsedTime ends at the latest. Run it under -race.
	t.Run("Concurrent", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := simpleIngestKey("ws-a", "k", nil)
		d := fullDevice("ws-a", "dev-1")
		createIngestKeys(t, s, k)
		createDevices(t, s, d)
		const flushers, perFlusher, updates = 4, 15, 15
		var wg sync.WaitGroup
		errs := make(chan error, flushers+1)
		for f := range flushers {
			wg.Go(func() {
				for i := range perFlusher {
					last := at(140 + f*perFlusher + i)
					err := s.RecordUsage(t.Context(), []keystore.KeyUsage{keyUsage(k, last, 3, 1)}, []keystore.DeviceSeen{deviceSeen(d, last)})
					if err != nil {
						errs <- fmt.Errorf("flusher %d: %w", f, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for i := range updates {
				err := s.ReadWrite(t.Context(), func(ctx context.Context, tx keystore.Tx) error {
					got, err := tx.GetIngestKey(ctx, k.WorkspaceID, k.ID)
					if err != nil {
						return err
					}
					got.Description = fmt.Sprintf("update %d", i)
					if err := tx.UpdateIngestKey(ctx, got); err != nil {
						return err
					}
					dev, err := tx.GetDevice(ctx, d.WorkspaceID, d.ID)
					if err != nil {
						return err
					}
					dev.DisplayName = fmt.Sprintf("update %d", i)
					return tx.UpdateDevice(ctx, dev)
				})
				if err != nil {
					errs <- fmt.Errorf("updater: %w", err)
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		k.Description, d.DisplayName = fmt.Sprintf("update %d", updates-1), fmt.Sprintf("update %d", updates-1)
		last := at(140 + flushers*perFlusher - 1)
		checkIngestKeyUsage(t, s, k, usage{last, 3 * flushers * perFlusher, flushers * perFlusher})
		checkDeviceSeen(t, s, d, last)
	})

	// A backend failure is an error, never a sentinel, and writes nothing.
	t.Run("CanceledContext", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := simpleIngestKey("ws-a", "k", nil)
		createIngestKeys(t, s, k)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.RecordUsage(ctx, []keystore.KeyUsage{keyUsage(k, at(150), 1, 1)}, nil)
		if err == nil {
			t.Fatal("RecordUsage with a canceled context returned no error")
		}
		for _, sentinel := range []error{keystore.ErrNotFound, keystore.ErrAlreadyExists, keystore.ErrNotEmpty} {
			if errors.Is(err, sentinel) {
				t.Fatalf("RecordUsage with a canceled context: %v", err)
			}
		}
		checkIngestKey(t, s, k)
	})
}
