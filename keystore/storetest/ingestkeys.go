package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// withWorkspaces returns a store holding the given (empty) workspaces.
func withWorkspaces(t *testing.T, newStore Factory, ids ...string) keystore.Store {
	t.Helper()
	s := newStore(t)
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, id := range ids {
			if err := tx.CreateWorkspace(ctx, newWorkspace(id)); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

func createIngestKeys(t *testing.T, s keystore.Store, keys ...keystore.IngestKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, k := range keys {
			if err := tx.CreateIngestKey(ctx, k); err != nil {
				return fmt.Errorf("CreateIngestKey %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func updateIngestKey(t *testing.T, s keystore.Store, k keystore.IngestKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateIngestKey(ctx, k) })
}

// checkIngestKey reads k back through Get, Find (both hashes) and List,
// expecting no usage.
func checkIngestKey(t *testing.T, s keystore.Store, k keystore.IngestKey) {
	t.Helper()
	checkIngestKeyIs(t, s, k, wantIngestKey(k))
}

// checkIngestKeyIs reads k back through Get, Find (both hashes) and List
// and compares each with want.
func checkIngestKeyIs(t *testing.T, s keystore.Store, k, want keystore.IngestKey) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetIngestKey(ctx, k.WorkspaceID, k.ID)
	noErr(t, "GetIngestKey", err)
	equal(t, "GetIngestKey", got, want)
	for _, h := range []keystore.Hash{k.Hash, k.PreviousHash} {
		if h.IsZero() {
			continue
		}
		got, err = s.FindIngestKeyByHash(ctx, h)
		noErr(t, "FindIngestKeyByHash", err)
		equal(t, "FindIngestKeyByHash", got, want)
	}
	list, err := s.ListIngestKeys(ctx, keystore.IngestKeyQuery{WorkspaceID: k.WorkspaceID})
	noErr(t, "ListIngestKeys", err)
	equal(t, "ListIngestKeys", list, []keystore.IngestKey{want})
}

func testIngestKeys(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			key  func() keystore.IngestKey
		}{
			{"AllFields", func() keystore.IngestKey { return fullIngestKey("ws-a") }},
			{"AllDevices", func() keystore.IngestKey {
				k := fullIngestKey("ws-a")
				k.Scope = keystore.Scope{AllDevices: true}
				return k
			}},
			{"ZeroValues", func() keystore.IngestKey {
				return keystore.IngestKey{ID: keystore.NewID("ik_"), WorkspaceID: "ws-a"}
			}},
			{"EmptyNotNil", func() keystore.IngestKey {
				k := fullIngestKey("ws-a")
				k.Labels = map[string]string{}
				k.Scope = keystore.Scope{DeviceIDs: []string{}, Tags: []keystore.Tag{}}
				return k
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := withWorkspaces(t, newStore, "ws-a")
				k := tc.key()
				createIngestKeys(t, s, k)
				checkIngestKey(t, s, k)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := fullIngestKey("ws-a")
		createIngestKeys(t, s, k)

		// Change every mutable field, and the usage, which Update ignores.
		k.Name, k.Description = "renamed", "new description"
		k.Labels = map[string]string{"env": "staging"}
		k.Scope = keystore.Scope{Tags: []keystore.Tag{{Key: "site", Value: "paris"}}}
		k.Limits = keystore.Limits{RecordsPerSecond: 10, MaxStreams: 0}
		k.Credential = keystore.Credential{
			Hash: hashOf("new"), DisplayPrefix: "ig_ikv1_new000", Status: keystore.StatusRevoked,
			ExpireTime: at(200), RevokeTime: at(201), RevokeReason: "done",
			PreviousHash: hashOf("newprev"), PreviousDisplayPrefix: "ig_ikv1_prev00",
			PreviousExpireTime: at(202), LastUsedTime: at(203),
		}
		k.RecordsReceived, k.BatchesReceived = 5, 6
		k.UpdateTime = at(204)
		updateIngestKey(t, s, k)
		checkIngestKey(t, s, k)

		// Clearing fields reads back as zero and nil.
		k.Description, k.Labels, k.Scope, k.Limits = "", nil, keystore.Scope{}, keystore.Limits{}
		k.Credential = keystore.Credential{Hash: hashOf("newest")}
		updateIngestKey(t, s, k)
		checkIngestKey(t, s, k)
	})

	t.Run("CreateIntoMissingWorkspace", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := fullIngestKey("ws-missing")
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateIngestKey(ctx, k) })
		wantErr(t, "CreateIngestKey into a missing workspace", err, keystore.ErrNotFound)
		_, err = s.FindIngestKeyByHash(t.Context(), k.Hash)
		wantErr(t, "FindIngestKeyByHash after failed create", err, keystore.ErrNotFound)
		list, err := s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{})
		noErr(t, "ListIngestKeys", err)
		equal(t, "keys after failed create", len(list), 0)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := fullIngestKey("ws-a")
		createIngestKeys(t, s, k)
		dup := simpleIngestKey("ws-a", "dup", nil)
		dup.ID = k.ID
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateIngestKey(ctx, dup) })
		wantErr(t, "CreateIngestKey duplicate", err, keystore.ErrAlreadyExists)
		checkIngestKey(t, s, k)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k := fullIngestKey("ws-a")
		_, err := s.GetIngestKey(t.Context(), "ws-a", k.ID)
		wantErr(t, "GetIngestKey", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateIngestKey(ctx, k) })
		wantErr(t, "UpdateIngestKey", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteIngestKey(ctx, "ws-a", k.ID) })
		wantErr(t, "DeleteIngestKey", err, keystore.ErrNotFound)
		_, err = s.GetIngestKey(t.Context(), "ws-a", k.ID)
		wantErr(t, "GetIngestKey after update of a missing key", err, keystore.ErrNotFound)
	})

	t.Run("WorkspaceScoping", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		k := fullIngestKey("ws-a")
		createIngestKeys(t, s, k)
		for _, ws := range []string{"ws-b", "ws-missing", ""} {
			_, err := s.GetIngestKey(t.Context(), ws, k.ID)
			wantErr(t, fmt.Sprintf("GetIngestKey under %q", ws), err, keystore.ErrNotFound)

			moved := k
			moved.WorkspaceID, moved.Name = ws, "hijacked"
			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateIngestKey(ctx, moved) })
			wantErr(t, fmt.Sprintf("UpdateIngestKey under %q", ws), err, keystore.ErrNotFound)

			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteIngestKey(ctx, ws, k.ID) })
			wantErr(t, fmt.Sprintf("DeleteIngestKey under %q", ws), err, keystore.ErrNotFound)
		}
		checkIngestKey(t, s, k)
		list, err := s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{WorkspaceID: "ws-b"})
		noErr(t, "ListIngestKeys ws-b", err)
		equal(t, "keys listed under ws-b", len(list), 0)
	})

	t.Run("Delete", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		k, other := fullIngestKey("ws-a"), fullIngestKey("ws-a")
		createIngestKeys(t, s, k, other)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteIngestKey(ctx, "ws-a", k.ID) })
		_, err := s.GetIngestKey(t.Context(), "ws-a", k.ID)
		wantErr(t, "GetIngestKey after delete", err, keystore.ErrNotFound)
		_, err = s.FindIngestKeyByHash(t.Context(), k.Hash)
		wantErr(t, "FindIngestKeyByHash after delete", err, keystore.ErrNotFound)
		_, err = s.FindIngestKeyByHash(t.Context(), k.PreviousHash)
		wantErr(t, "FindIngestKeyByHash previous after delete", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteIngestKey(ctx, "ws-a", k.ID) })
		wantErr(t, "second DeleteIngestKey", err, keystore.ErrNotFound)
		checkIngestKey(t, s, other)
	})

	t.Run("FindByHash", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		ctx := t.Context()
		a := simpleIngestKey("ws-a", "a", nil)
		// Found regardless of workspace, status and expiry: the caller judges.
		b := simpleIngestKey("ws-b", "b", nil)
		b.Status, b.ExpireTime, b.RevokeTime = keystore.StatusRevoked, at(-1000), at(-999)
		createIngestKeys(t, s, a, b)
		find := func(what string, h keystore.Hash, want *keystore.IngestKey) {
			t.Helper()
			got, err := s.FindIngestKeyByHash(ctx, h)
			if want == nil {
				wantErr(t, what, err, keystore.ErrNotFound)
				return
			}
			noErr(t, what, err)
			equal(t, what, got, wantIngestKey(*want))
		}
		find("current hash of a", a.Hash, &a)
		find("revoked, expired key in ws-b", b.Hash, &b)
		find("zero hash", keystore.Hash{}, nil)
		find("unknown hash", hashOf("unknown"), nil)

		// Rotate with a grace period: both secrets find the key.
		old := a.Hash
		noErr(t, "Rotate", a.Rotate(hashOf("a2"), "ig_ikv1_a2a2a2", time.Hour, at(20)))
		updateIngestKey(t, s, a)
		find("new hash after rotation", hashOf("a2"), &a)
		find("previous hash after rotation", old, &a)

		// Rotate without grace: the previous secret is cleared.
		noErr(t, "Rotate", a.Rotate(hashOf("a3"), "ig_ikv1_a3a3a3", 0, at(21)))
		updateIngestKey(t, s, a)
		find("hash after second rotation", hashOf("a3"), &a)
		find("cleared previous hash", hashOf("a2"), nil)
		find("hash from two rotations ago", old, nil)
		find("zero hash after clearing previous", keystore.Hash{}, nil)
	})

	t.Run("ListOrderAndPaging", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		var keys []keystore.IngestKey
		for i := range 7 {
			keys = append(keys, simpleIngestKey([]string{"ws-a", "ws-b"}[i%2], fmt.Sprintf("key %d", i), nil))
		}
		createIngestKeys(t, s, shuffled(keys)...)
		all := sortedIDs(idsOf(keys, ingestKeyID), true)
		var inA []string
		for _, k := range keys {
			if k.WorkspaceID == "ws-a" {
				inA = append(inA, k.ID)
			}
		}
		inA = sortedIDs(inA, true)

		list, err := s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{})
		noErr(t, "ListIngestKeys", err)
		equalIDs(t, "ListIngestKeys newest first", idsOf(list, ingestKeyID), all)
		for limit := 1; limit <= len(keys)+1; limit++ {
			got := pageThrough(t, limit, len(keys), func(p keystore.Page) ([]keystore.IngestKey, error) {
				return s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{Page: p})
			}, ingestKeyID)
			equalIDs(t, fmt.Sprintf("paging all with limit %d", limit), got, all)
			got = pageThrough(t, limit, len(inA), func(p keystore.Page) ([]keystore.IngestKey, error) {
				return s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{Page: p, WorkspaceID: "ws-a"})
			}, ingestKeyID)
			equalIDs(t, fmt.Sprintf("paging ws-a with limit %d", limit), got, inA)
		}
		list, err = s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{Page: keystore.Page{After: all[2]}})
		noErr(t, "ListIngestKeys after", err)
		equalIDs(t, "after the third id", idsOf(list, ingestKeyID), all[3:])
		list, err = s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{Page: keystore.Page{After: all[len(all)-1]}})
		noErr(t, "ListIngestKeys after oldest", err)
		equalIDs(t, "after the oldest id", idsOf(list, ingestKeyID), nil)
	})

	t.Run("ListFilters", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		k := []keystore.IngestKey{
			simpleIngestKey("ws-a", "Pump Station", map[string]string{"env": "prod", "team.x-y": "ops"}),
			simpleIngestKey("ws-a", "pumpkin patch", map[string]string{"env": "staging"}),
			simpleIngestKey("ws-a", "Boiler", nil),
			simpleIngestKey("ws-a", "a_b 100%", map[string]string{"env": "prod"}),
			simpleIngestKey("ws-a", "axb", map[string]string{"env": "prod ", "prod": "env"}),
			simpleIngestKey("ws-b", "PUMP B", map[string]string{"env": "prod"}),
		}
		k[1].Status = keystore.StatusInactive
		k[2].Status = keystore.StatusRevoked
		createIngestKeys(t, s, shuffled(k)...)
		pick := func(idx ...int) []string {
			var ids []string
			for _, i := range idx {
				ids = append(ids, k[i].ID)
			}
			return sortedIDs(ids, true)
		}
		label := func(key, value string) *keystore.Tag { return &keystore.Tag{Key: key, Value: value} }
		for _, tc := range []struct {
			name string
			q    keystore.IngestKeyQuery
			want []string
		}{
			{"None", keystore.IngestKeyQuery{}, pick(0, 1, 2, 3, 4, 5)},
			{"Workspace", keystore.IngestKeyQuery{WorkspaceID: "ws-a"}, pick(0, 1, 2, 3, 4)},
			{"UnknownWorkspace", keystore.IngestKeyQuery{WorkspaceID: "ws-x"}, nil},
			{"StatusActive", keystore.IngestKeyQuery{Status: keystore.StatusActive}, pick(0, 3, 4, 5)},
			{"StatusInactive", keystore.IngestKeyQuery{Status: keystore.StatusInactive}, pick(1)},
			{"StatusRevoked", keystore.IngestKeyQuery{Status: keystore.StatusRevoked}, pick(2)},
			{"NameCaseInsensitive", keystore.IngestKeyQuery{NameContains: "pUmP"}, pick(0, 1, 5)},
			{"NameMiddle", keystore.IngestKeyQuery{NameContains: "STAT"}, pick(0)},
			{"NameUnderscoreIsLiteral", keystore.IngestKeyQuery{NameContains: "a_b"}, pick(3)},
			{"NamePercentIsLiteral", keystore.IngestKeyQuery{NameContains: "%"}, pick(3)},
			{"NameNoMatch", keystore.IngestKeyQuery{NameContains: "turbine"}, nil},
			{"Label", keystore.IngestKeyQuery{Label: label("env", "prod")}, pick(0, 3, 5)},
			{"LabelKeyWithDotAndDash", keystore.IngestKeyQuery{Label: label("team.x-y", "ops")}, pick(0)},
			{"LabelValueCaseSensitive", keystore.IngestKeyQuery{Label: label("env", "PROD")}, nil},
			{"LabelMissingKey", keystore.IngestKeyQuery{Label: label("tier", "prod")}, nil},
			{"LabelKeyNotValue", keystore.IngestKeyQuery{Label: label("prod", "prod")}, nil},
			{"Combined", keystore.IngestKeyQuery{WorkspaceID: "ws-a", Status: keystore.StatusActive, Label: label("env", "prod")}, pick(0, 3)},
			{"CombinedName", keystore.IngestKeyQuery{WorkspaceID: "ws-b", NameContains: "pump"}, pick(5)},
			{"FilterWithLimit", keystore.IngestKeyQuery{NameContains: "pump", Page: keystore.Page{Limit: 2}}, pick(0, 1, 5)[:2]},
			{"FilterWithAfter", keystore.IngestKeyQuery{NameContains: "pump", Page: keystore.Page{After: pick(0, 1, 5)[0]}}, pick(0, 1, 5)[1:]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				list, err := s.ListIngestKeys(t.Context(), tc.q)
				noErr(t, "ListIngestKeys", err)
				equalIDs(t, "ListIngestKeys", idsOf(list, ingestKeyID), tc.want)
			})
		}
		t.Run("PagingWithFilter", func(t *testing.T) {
			want := pick(0, 3, 4, 5)
			got := pageThrough(t, 1, len(want), func(p keystore.Page) ([]keystore.IngestKey, error) {
				return s.ListIngestKeys(t.Context(), keystore.IngestKeyQuery{Page: p, Status: keystore.StatusActive})
			}, ingestKeyID)
			equalIDs(t, "paging active keys", got, want)
		})
	})
}
