package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

func createRefreshTokens(t *testing.T, s keystore.Store, ts ...keystore.RefreshToken) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, rt := range ts {
			if err := tx.CreateRefreshToken(ctx, rt); err != nil {
				return fmt.Errorf("CreateRefreshToken %s: %w", rt.ID, err)
			}
		}
		return nil
	})
}

// checkRefreshToken reads t back by its hash.
func checkRefreshToken(t *testing.T, s keystore.Store, rt keystore.RefreshToken) {
	t.Helper()
	got, err := s.FindRefreshTokenByHash(t.Context(), rt.Hash)
	noErr(t, "FindRefreshTokenByHash", err)
	equal(t, "FindRefreshTokenByHash", got, wantRefreshToken(rt))
}

func spendRefreshToken(t *testing.T, s keystore.Store, id string, at time.Time) bool {
	t.Helper()
	var won bool
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		var err error
		won, err = tx.SpendRefreshToken(ctx, id, at)
		return err
	})
	return won
}

func revokeRefreshTokens(t *testing.T, s keystore.Store, userID, familyID string, at time.Time) int {
	t.Helper()
	var n int
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		var err error
		n, err = tx.RevokeRefreshTokens(ctx, userID, familyID, at)
		return err
	})
	return n
}

func deleteExpiredRefreshTokens(t *testing.T, s keystore.Store, before time.Time) int {
	t.Helper()
	var n int
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		var err error
		n, err = tx.DeleteExpiredRefreshTokens(ctx, before)
		return err
	})
	return n
}

// withUsers returns a store holding users made by newUser.
func withUsers(t *testing.T, newStore Factory, ids ...string) keystore.Store {
	t.Helper()
	s := newStore(t)
	for _, id := range ids {
		createUsers(t, s, newUser(id))
	}
	return s
}

func testRefreshTokens(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			token func() keystore.RefreshToken
		}{
			{"AllFields", func() keystore.RefreshToken { return fullRefreshToken("us_a") }},
			{"Unspent", func() keystore.RefreshToken { return newRefreshToken("us_a", "fam-1", at(34)) }},
			{"ZeroValues", func() keystore.RefreshToken {
				return keystore.RefreshToken{ID: keystore.NewID("rt_"), UserID: "us_a", Hash: hashOf("zero")}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := withUsers(t, newStore, "us_a")
				rt := tc.token()
				createRefreshTokens(t, s, rt)
				checkRefreshToken(t, s, rt)
			})
		}
	})

	// Spent, revoked and expired tokens are all found: the caller decides.
	t.Run("FindByHash", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a", "us_b")
		spent := newRefreshToken("us_a", "fam-1", at(1000))
		spent.SpentTime = at(35)
		revoked := newRefreshToken("us_a", "fam-1", at(1000))
		revoked.RevokeTime = at(36)
		expired := newRefreshToken("us_b", "fam-2", at(-1000))
		noHash := newRefreshToken("us_b", "fam-2", at(1000))
		noHash.Hash = keystore.Hash{}
		createRefreshTokens(t, s, spent, revoked, expired, noHash)
		for _, rt := range []keystore.RefreshToken{spent, revoked, expired} {
			checkRefreshToken(t, s, rt)
		}
		for _, h := range []keystore.Hash{{}, hashOf("unknown")} {
			_, err := s.FindRefreshTokenByHash(t.Context(), h)
			wantErr(t, fmt.Sprintf("FindRefreshTokenByHash(%x)", h[:4]), err, keystore.ErrNotFound)
		}
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a", "us_b")
		rt := fullRefreshToken("us_a")
		createRefreshTokens(t, s, rt)
		sameID := newRefreshToken("us_b", "fam-x", at(50))
		sameID.ID = rt.ID
		sameHash := newRefreshToken("us_b", "fam-x", at(50))
		sameHash.Hash = rt.Hash
		for what, dup := range map[string]keystore.RefreshToken{"id": sameID, "hash": sameHash} {
			err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateRefreshToken(ctx, dup) })
			wantErr(t, "CreateRefreshToken with a duplicate "+what, err, keystore.ErrAlreadyExists)
		}
		checkRefreshToken(t, s, rt)
		_, err := s.FindRefreshTokenByHash(t.Context(), sameID.Hash)
		wantErr(t, "FindRefreshTokenByHash of the refused duplicate", err, keystore.ErrNotFound)
		equal(t, "tokens of us_b", revokeRefreshTokens(t, s, "us_b", "", at(51)), 0)
	})

	t.Run("CreateUnknownUser", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a")
		rt := newRefreshToken("us_missing", "fam-1", at(50))
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateRefreshToken(ctx, rt) })
		wantErr(t, "CreateRefreshToken of an unknown user", err, keystore.ErrNotFound)
		_, err = s.FindRefreshTokenByHash(t.Context(), rt.Hash)
		wantErr(t, "FindRefreshTokenByHash after a refused create", err, keystore.ErrNotFound)
	})

	// A token is spent once: the second spend reports false and keeps the
	// first spend's time.
	t.Run("SpendOnce", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a")
		rt, other := newRefreshToken("us_a", "fam-1", at(1000)), newRefreshToken("us_a", "fam-1", at(1000))
		createRefreshTokens(t, s, rt, other)
		if !spendRefreshToken(t, s, rt.ID, at(70)) {
			t.Fatal("first SpendRefreshToken returned false")
		}
		spent := rt
		spent.SpentTime = at(70)
		checkRefreshToken(t, s, spent)
		if spendRefreshToken(t, s, rt.ID, at(71)) {
			t.Fatal("second SpendRefreshToken returned true")
		}
		checkRefreshToken(t, s, spent)
		checkRefreshToken(t, s, other)
		// Twice in one transaction: the second sees the first.
		var first, second bool
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			var err error
			if first, err = tx.SpendRefreshToken(ctx, other.ID, at(72)); err != nil {
				return err
			}
			second, err = tx.SpendRefreshToken(ctx, other.ID, at(73))
			return err
		})
		if !first || second {
			t.Fatalf("two spends in one transaction returned %t, %t; want true, false", first, second)
		}
		other.SpentTime = at(72)
		checkRefreshToken(t, s, other)

		// Created spent: not spendable. Revoked or expired but unspent:
		// spendable (the caller checks those).
		createdSpent := fullRefreshToken("us_a")
		revoked := newRefreshToken("us_a", "fam-2", at(-1000))
		revoked.RevokeTime = at(74)
		createRefreshTokens(t, s, createdSpent, revoked)
		if spendRefreshToken(t, s, createdSpent.ID, at(75)) {
			t.Fatal("SpendRefreshToken of a token created spent returned true")
		}
		checkRefreshToken(t, s, createdSpent)
		if !spendRefreshToken(t, s, revoked.ID, at(76)) {
			t.Fatal("SpendRefreshToken of a revoked, expired, unspent token returned false")
		}
		revoked.SpentTime = at(76)
		checkRefreshToken(t, s, revoked)
	})

	t.Run("SpendNotFound", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a")
		createRefreshTokens(t, s, newRefreshToken("us_a", "fam-1", at(1000)))
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			_, err := tx.SpendRefreshToken(ctx, "rt_missing", at(70))
			return err
		})
		wantErr(t, "SpendRefreshToken of a missing token", err, keystore.ErrNotFound)
	})

	// A zero time would leave the token unspent (or unrevoked) while
	// reporting success.
	t.Run("ZeroTimeRefused", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a")
		rt := newRefreshToken("us_a", "fam-1", at(1000))
		createRefreshTokens(t, s, rt)
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			_, err := tx.SpendRefreshToken(ctx, rt.ID, time.Time{})
			return err
		})
		wantErr(t, "SpendRefreshToken at the zero time", err, keystore.ErrInvalidArgument)
		for _, fam := range []string{"fam-1", ""} {
			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
				_, err := tx.RevokeRefreshTokens(ctx, "us_a", fam, time.Time{})
				return err
			})
			wantErr(t, fmt.Sprintf("RevokeRefreshTokens of family %q at the zero time", fam), err, keystore.ErrInvalidArgument)
		}
		checkRefreshToken(t, s, rt)
	})

	// Of concurrent exchanges of one token exactly one wins, whatever the
	// backend's isolation does (it may retry the losers). Run it under
	// -race.
	t.Run("ConcurrentSpend", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a")
		const tokens, spenders = 3, 6
		var ts []keystore.RefreshToken
		for range tokens {
			ts = append(ts, newRefreshToken("us_a", "fam-1", at(1000)))
		}
		createRefreshTokens(t, s, ts...)
		var (
			mu   sync.Mutex
			wins = map[string]int{}
			wg   sync.WaitGroup
		)
		for i := range spenders {
			wg.Go(func() {
				for _, rt := range ts {
					var won bool
					err := s.ReadWrite(t.Context(), func(ctx context.Context, tx keystore.Tx) error {
						var err error
						won, err = tx.SpendRefreshToken(ctx, rt.ID, at(80+i))
						return err
					})
					if err != nil {
						t.Errorf("spender %d: %v", i, err)
						return
					}
					if won {
						mu.Lock()
						wins[rt.ID]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, rt := range ts {
			if wins[rt.ID] != 1 {
				t.Errorf("token %s: %d spends won, want exactly 1", rt.ID, wins[rt.ID])
			}
			got, err := s.FindRefreshTokenByHash(t.Context(), rt.Hash)
			noErr(t, "FindRefreshTokenByHash", err)
			if got.SpentTime.IsZero() {
				t.Errorf("token %s: not spent after the race", rt.ID)
			}
		}
	})

	// Revoking changes only tokens not yet revoked, of one family or all of
	// one user's, and counts what it changed.
	t.Run("Revoke", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a", "us_b")
		f1 := []keystore.RefreshToken{
			newRefreshToken("us_a", "fam-1", at(1000)), newRefreshToken("us_a", "fam-1", at(1000)),
			newRefreshToken("us_a", "fam-1", at(1000)), newRefreshToken("us_a", "fam-1", at(1000)),
		}
		f1[0].RevokeTime = at(5) // revoked before
		f1[1].SpentTime = at(6)  // spent: still revoked with its family
		f2 := []keystore.RefreshToken{newRefreshToken("us_a", "fam-2", at(1000)), newRefreshToken("us_a", "fam-2", at(-1000))}
		// Another user's token in a family of the same name.
		ob := newRefreshToken("us_b", "fam-1", at(1000))
		createRefreshTokens(t, s, append(append(shuffled(f1), f2...), ob)...)

		equal(t, "RevokeRefreshTokens of fam-1", revokeRefreshTokens(t, s, "us_a", "fam-1", at(90)), 3)
		for i := 1; i < len(f1); i++ {
			f1[i].RevokeTime = at(90)
		}
		for _, rt := range append(append(f1[:len(f1):len(f1)], f2...), ob) {
			checkRefreshToken(t, s, rt)
		}
		equal(t, "RevokeRefreshTokens of fam-1 again", revokeRefreshTokens(t, s, "us_a", "fam-1", at(91)), 0)
		equal(t, "RevokeRefreshTokens of an unknown family", revokeRefreshTokens(t, s, "us_a", "fam-9", at(91)), 0)
		equal(t, "RevokeRefreshTokens of another user's family", revokeRefreshTokens(t, s, "us_missing", "fam-2", at(91)), 0)

		// All of the user's: only fam-2's are left unrevoked.
		equal(t, "RevokeRefreshTokens of us_a", revokeRefreshTokens(t, s, "us_a", "", at(92)), 2)
		for i := range f2 {
			f2[i].RevokeTime = at(92)
		}
		for _, rt := range append(append(f1[:len(f1):len(f1)], f2...), ob) {
			checkRefreshToken(t, s, rt)
		}
		equal(t, "RevokeRefreshTokens of us_a again", revokeRefreshTokens(t, s, "us_a", "", at(93)), 0)
		equal(t, "RevokeRefreshTokens of an unknown user", revokeRefreshTokens(t, s, "us_missing", "", at(93)), 0)
		equal(t, "RevokeRefreshTokens of us_b", revokeRefreshTokens(t, s, "us_b", "", at(94)), 1)
		ob.RevokeTime = at(94)
		checkRefreshToken(t, s, ob)
	})

	// Tokens expiring strictly before the cut-off go; a token without
	// expiry never does.
	t.Run("DeleteExpired", func(t *testing.T) {
		s := withUsers(t, newStore, "us_a", "us_b")
		t10, t15, t20, t30 := newRefreshToken("us_a", "fam-1", at(10)), newRefreshToken("us_b", "fam-1", at(15)),
			newRefreshToken("us_a", "fam-2", at(20)), newRefreshToken("us_a", "fam-1", at(30))
		never := newRefreshToken("us_a", "fam-3", time.Time{})
		t15.SpentTime, t15.RevokeTime = at(11), at(12)
		all := []keystore.RefreshToken{t10, t15, t20, t30, never}
		createRefreshTokens(t, s, shuffled(all)...)
		gone := func(rts ...keystore.RefreshToken) {
			t.Helper()
			for _, rt := range rts {
				_, err := s.FindRefreshTokenByHash(t.Context(), rt.Hash)
				wantErr(t, "FindRefreshTokenByHash of an expired token", err, keystore.ErrNotFound)
			}
		}
		equal(t, "DeleteExpiredRefreshTokens before the first expiry", deleteExpiredRefreshTokens(t, s, at(10)), 0)
		equal(t, "DeleteExpiredRefreshTokens before at(20)", deleteExpiredRefreshTokens(t, s, at(20)), 2)
		gone(t10, t15)
		for _, rt := range []keystore.RefreshToken{t20, t30, never} {
			checkRefreshToken(t, s, rt)
		}
		equal(t, "DeleteExpiredRefreshTokens before at(20) again", deleteExpiredRefreshTokens(t, s, at(20)), 0)
		equal(t, "DeleteExpiredRefreshTokens far ahead", deleteExpiredRefreshTokens(t, s, at(100000)), 2)
		gone(t20, t30)
		checkRefreshToken(t, s, never)
	})
}
