package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

func createSigningKeys(t *testing.T, s keystore.Store, ks ...keystore.SigningKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, k := range ks {
			if err := tx.CreateSigningKey(ctx, k); err != nil {
				return fmt.Errorf("CreateSigningKey %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func listSigningKeys(t *testing.T, s keystore.Store) []keystore.SigningKey {
	t.Helper()
	ks, err := s.ListSigningKeys(t.Context())
	noErr(t, "ListSigningKeys", err)
	return ks
}

func testSigningKeys(t *testing.T, newStore Factory) {
	t.Run("Empty", func(t *testing.T) {
		equal(t, "ListSigningKeys of an empty store", len(listSigningKeys(t, newStore(t))), 0)
	})

	// Oldest first; ties by id; a zero create time is the oldest. The key
	// bytes come back exactly, each key its own (several rows in one read
	// must not share a buffer).
	t.Run("RoundTripAndOrder", func(t *testing.T) {
		s := newStore(t)
		ks := []keystore.SigningKey{
			signingKey("sk_c", at(3)),
			signingKey("sk_b", at(1)),
			signingKey("sk_z", at(2)),
			signingKey("sk_a", at(3)),
			signingKey("sk_y", time.Time{}),
			signingKey("sk_B", at(3)),
			{ID: "sk_empty", Algorithm: "EdDSA", PrivateKey: []byte{}, CreateTime: at(4)},
			{ID: "sk_zero"},
		}
		// One before the other by a microsecond only.
		ks = append(ks, signingKey("sk_m", at(2).Add(-time.Microsecond)))
		createSigningKeys(t, s, shuffled(ks)...)
		byID := map[string]keystore.SigningKey{}
		for _, k := range ks {
			byID[k.ID] = k
		}
		var want []keystore.SigningKey
		for _, id := range []string{"sk_y", "sk_zero", "sk_b", "sk_m", "sk_z", "sk_B", "sk_a", "sk_c", "sk_empty"} {
			want = append(want, wantSigningKey(byID[id]))
		}
		got := listSigningKeys(t, s)
		equalIDs(t, "ListSigningKeys order", idsOf(got, signingKeyID), idsOf(want, signingKeyID))
		equal(t, "ListSigningKeys", got, want)
		// A caller changing what it read changes nothing stored.
		got[2].PrivateKey[0] ^= 0xff
		equal(t, "ListSigningKeys again", listSigningKeys(t, s), want)
		// What was read is the caller's: later reads (whose rows land where
		// the driver kept the earlier ones) do not change it.
		got = listSigningKeys(t, s)
		first := signingKey("sk_0", time.Time{})
		for i := range first.PrivateKey {
			first.PrivateKey[i] ^= 0x55
		}
		createSigningKeys(t, s, first)
		for range 3 {
			listSigningKeys(t, s)
		}
		equal(t, "keys read before later reads", got, want)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := newStore(t)
		k := signingKey("sk_a", at(1))
		createSigningKeys(t, s, k)
		dup := signingKey("sk_a", at(2))
		dup.PublicKey = []byte("other")
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateSigningKey(ctx, dup) })
		wantErr(t, "CreateSigningKey duplicate", err, keystore.ErrAlreadyExists)
		equal(t, "ListSigningKeys", listSigningKeys(t, s), []keystore.SigningKey{wantSigningKey(k)})
	})
}
