package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

func createAPIKeys(t *testing.T, s keystore.Store, keys ...keystore.APIKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, k := range keys {
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return fmt.Errorf("CreateAPIKey %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func updateAPIKey(t *testing.T, s keystore.Store, k keystore.APIKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateAPIKey(ctx, k) })
}

// checkAPIKey reads k back through Get, Find (both hashes) and List; it
// must be the only key in s.
func checkAPIKey(t *testing.T, s keystore.Store, k keystore.APIKey) {
	t.Helper()
	ctx, want := t.Context(), wantAPIKey(k)
	got, err := s.GetAPIKey(ctx, k.ID)
	noErr(t, "GetAPIKey", err)
	equal(t, "GetAPIKey", got, want)
	for _, h := range []keystore.Hash{k.Hash, k.PreviousHash} {
		if h.IsZero() {
			continue
		}
		got, err = s.FindAPIKeyByHash(ctx, h)
		noErr(t, "FindAPIKeyByHash", err)
		equal(t, "FindAPIKeyByHash", got, want)
	}
	list, err := s.ListAPIKeys(ctx, keystore.APIKeyQuery{})
	noErr(t, "ListAPIKeys", err)
	equal(t, "ListAPIKeys", list, []keystore.APIKey{want})
}

func testAPIKeys(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			key  func() keystore.APIKey
		}{
			{"AllFields", fullAPIKey},
			{"ZeroValues", func() keystore.APIKey { return keystore.APIKey{ID: keystore.NewID("ak_")} }},
			{"EmptyNotNil", func() keystore.APIKey {
				k := fullAPIKey()
				k.Permissions, k.WorkspaceIDs = []keystore.Permission{}, []string{}
				return k
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				k := tc.key()
				createAPIKeys(t, s, k)
				checkAPIKey(t, s, k)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		k := fullAPIKey()
		createAPIKeys(t, s, k)
		k.Name, k.Description = "renamed", "changed"
		k.Permissions, k.WorkspaceIDs = []keystore.Permission{keystore.PermAdmin}, nil
		k.Credential = keystore.Credential{
			Hash: hashOf("new"), DisplayPrefix: "ig_mkv1_new000", Status: keystore.StatusRevoked,
			ExpireTime: at(300), RevokeTime: at(301), RevokeReason: "left the team",
			PreviousHash: hashOf("newprev"), PreviousDisplayPrefix: "ig_mkv1_prev00",
			PreviousExpireTime: at(302), LastUsedTime: at(303),
		}
		k.UpdateTime = at(304)
		updateAPIKey(t, s, k)
		checkAPIKey(t, s, k)
		k.Description, k.Permissions, k.Credential = "", nil, keystore.Credential{Hash: hashOf("newest")}
		updateAPIKey(t, s, k)
		checkAPIKey(t, s, k)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := newStore(t)
		k := fullAPIKey()
		createAPIKeys(t, s, k)
		dup := simpleAPIKey(keystore.StatusActive)
		dup.ID = k.ID
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateAPIKey(ctx, dup) })
		wantErr(t, "CreateAPIKey duplicate", err, keystore.ErrAlreadyExists)
		checkAPIKey(t, s, k)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		k := fullAPIKey()
		_, err := s.GetAPIKey(t.Context(), k.ID)
		wantErr(t, "GetAPIKey", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateAPIKey(ctx, k) })
		wantErr(t, "UpdateAPIKey", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteAPIKey(ctx, k.ID) })
		wantErr(t, "DeleteAPIKey", err, keystore.ErrNotFound)
		_, err = s.GetAPIKey(t.Context(), k.ID)
		wantErr(t, "GetAPIKey after update of a missing key", err, keystore.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		k, other := fullAPIKey(), fullAPIKey()
		createAPIKeys(t, s, k, other)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteAPIKey(ctx, k.ID) })
		_, err := s.GetAPIKey(t.Context(), k.ID)
		wantErr(t, "GetAPIKey after delete", err, keystore.ErrNotFound)
		_, err = s.FindAPIKeyByHash(t.Context(), k.Hash)
		wantErr(t, "FindAPIKeyByHash after delete", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteAPIKey(ctx, k.ID) })
		wantErr(t, "second DeleteAPIKey", err, keystore.ErrNotFound)
		checkAPIKey(t, s, other)
	})

	t.Run("FindByHash", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		ctx := t.Context()
		a := simpleAPIKey(keystore.StatusActive)
		b := simpleAPIKey(keystore.StatusRevoked)
		b.ExpireTime = at(-1000)
		createAPIKeys(t, s, a, b)
		ik := simpleIngestKey("ws-a", "ik", nil)
		createIngestKeys(t, s, ik)
		find := func(what string, h keystore.Hash, want *keystore.APIKey) {
			t.Helper()
			got, err := s.FindAPIKeyByHash(ctx, h)
			if want == nil {
				wantErr(t, what, err, keystore.ErrNotFound)
				return
			}
			noErr(t, what, err)
			equal(t, what, got, wantAPIKey(*want))
		}
		find("current hash", a.Hash, &a)
		find("revoked, expired key", b.Hash, &b)
		find("zero hash", keystore.Hash{}, nil)
		find("unknown hash", hashOf("unknown"), nil)
		// The two kinds of keys are looked up separately.
		find("an ingest key's hash", ik.Hash, nil)
		_, err := s.FindIngestKeyByHash(ctx, a.Hash)
		wantErr(t, "FindIngestKeyByHash with an API key's hash", err, keystore.ErrNotFound)

		old := a.Hash
		noErr(t, "Rotate", a.Rotate(hashOf("a2"), "ig_mkv1_a2a2a2", time.Hour, at(20)))
		updateAPIKey(t, s, a)
		find("new hash after rotation", hashOf("a2"), &a)
		find("previous hash after rotation", old, &a)
		noErr(t, "Rotate", a.Rotate(hashOf("a3"), "ig_mkv1_a3a3a3", 0, at(21)))
		updateAPIKey(t, s, a)
		find("hash after second rotation", hashOf("a3"), &a)
		find("cleared previous hash", hashOf("a2"), nil)
		find("hash from two rotations ago", old, nil)
	})

	t.Run("ListOrderPagingAndStatus", func(t *testing.T) {
		s := newStore(t)
		statuses := []keystore.Status{
			keystore.StatusActive, keystore.StatusRevoked, keystore.StatusActive, keystore.StatusInactive,
			keystore.StatusActive, keystore.StatusRevoked, keystore.StatusActive,
		}
		var keys []keystore.APIKey
		byStatus := map[keystore.Status][]string{}
		for _, st := range statuses {
			k := simpleAPIKey(st)
			keys = append(keys, k)
			byStatus[st] = append(byStatus[st], k.ID)
		}
		createAPIKeys(t, s, shuffled(keys)...)
		all := sortedIDs(idsOf(keys, apiKeyID), true)
		list, err := s.ListAPIKeys(t.Context(), keystore.APIKeyQuery{})
		noErr(t, "ListAPIKeys", err)
		equalIDs(t, "ListAPIKeys newest first", idsOf(list, apiKeyID), all)
		for limit := 1; limit <= len(keys)+1; limit++ {
			got := pageThrough(t, limit, len(keys), func(p keystore.Page) ([]keystore.APIKey, error) {
				return s.ListAPIKeys(t.Context(), keystore.APIKeyQuery{Page: p})
			}, apiKeyID)
			equalIDs(t, fmt.Sprintf("paging with limit %d", limit), got, all)
		}
		for st, ids := range byStatus {
			list, err := s.ListAPIKeys(t.Context(), keystore.APIKeyQuery{Status: st})
			noErr(t, "ListAPIKeys by status", err)
			equalIDs(t, fmt.Sprintf("status %v", st), idsOf(list, apiKeyID), sortedIDs(ids, true))
			got := pageThrough(t, 1, len(ids), func(p keystore.Page) ([]keystore.APIKey, error) {
				return s.ListAPIKeys(t.Context(), keystore.APIKeyQuery{Page: p, Status: st})
			}, apiKeyID)
			equalIDs(t, fmt.Sprintf("paging status %v", st), got, sortedIDs(ids, true))
		}
	})
}
