package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// rollbackFixture is a store with one workspace holding one key, and the
// writes a callback makes before it fails.
type rollbackFixture struct {
	s   keystore.Store
	ws  keystore.Workspace
	key keystore.IngestKey
	// created by the failing callback
	newWS  keystore.Workspace
	newKey keystore.IngestKey
	newDev keystore.Device
	newAPI keystore.APIKey
	// A user with a membership and an unspent refresh token, and the
	// callback's new user, membership, token and signing key.
	user       keystore.User
	membership keystore.Membership
	token      keystore.RefreshToken
	newUser    keystore.User
	newToken   keystore.RefreshToken
	newSigning keystore.SigningKey
}

func newRollbackFixture(t *testing.T, newStore Factory) *rollbackFixture {
	f := &rollbackFixture{
		s:      newStore(t),
		ws:     newWorkspace("ws-a"),
		newWS:  newWorkspace("ws-new"),
		newDev: fullDevice("ws-a", "dev-1"),
		newAPI: fullAPIKey(),

		user:       fullUser("us_a", "ada@example.com"),
		membership: newMembership("us_a", "ws-a", keystore.RoleAdmin),
		token:      newRefreshToken("us_a", "fam-1", at(1000)),
		newUser:    newUser("us_new"),
		newToken:   newRefreshToken("us_new", "fam-new", at(1000)),
		newSigning: signingKey("sk_new", at(1)),
	}
	f.key = fullIngestKey(f.ws.ID)
	f.newKey = fullIngestKey(f.ws.ID)
	write(t, f.s, func(ctx context.Context, tx keystore.Tx) error {
		if err := tx.CreateWorkspace(ctx, f.ws); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, f.user); err != nil {
			return err
		}
		if err := tx.PutMembership(ctx, f.membership); err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(ctx, f.token); err != nil {
			return err
		}
		return tx.CreateIngestKey(ctx, f.key)
	})
	return f
}

// writeAll makes one write of every kind.
func (f *rollbackFixture) writeAll(ctx context.Context, tx keystore.Tx) error {
	renamed := f.ws
	renamed.DisplayName = "renamed"
	steps := []func() error{
		func() error { return tx.CreateWorkspace(ctx, f.newWS) },
		func() error { return tx.UpdateWorkspace(ctx, renamed) },
		func() error { return tx.CreateIngestKey(ctx, f.newKey) },
		func() error { return tx.DeleteIngestKey(ctx, f.ws.ID, f.key.ID) },
		func() error { return tx.CreateDevice(ctx, f.newDev) },
		func() error { return tx.CreateAPIKey(ctx, f.newAPI) },
		func() error { _, err := tx.AppendEvent(ctx, fullEvent(f.ws.ID)); return err },
		func() error { _, err := tx.AppendEvent(ctx, fullEvent("")); return err },
		func() error { return tx.CreateUser(ctx, f.newUser) },
		func() error { return tx.PutMembership(ctx, newMembership(f.newUser.ID, f.ws.ID, keystore.RoleOwner)) },
		func() error { return tx.PutMembership(ctx, newMembership(f.user.ID, f.ws.ID, keystore.RoleViewer)) },
		func() error { return tx.CreateRefreshToken(ctx, f.newToken) },
		func() error { _, err := tx.SpendRefreshToken(ctx, f.token.ID, at(70)); return err },
		func() error { _, err := tx.RevokeRefreshTokens(ctx, f.user.ID, "", at(71)); return err },
		func() error { return tx.CreateSigningKey(ctx, f.newSigning) },
		func() error {
			u := f.user
			u.Disabled, u.Version, u.Email = false, u.Version+1, "changed@example.com"
			return tx.UpdateUser(ctx, u)
		},
		func() error { _, err := tx.DeleteExpiredRefreshTokens(ctx, at(100000)); return err },
		func() error { return tx.DeleteMembership(ctx, f.user.ID, f.ws.ID) },
		func() error { return tx.DeleteUser(ctx, f.user.ID) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// checkUntouched verifies that none of writeAll's writes is visible and
// that the store still accepts a transaction.
func (f *rollbackFixture) checkUntouched(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	got, err := f.s.GetWorkspace(ctx, f.ws.ID)
	noErr(t, "GetWorkspace", err)
	equal(t, "workspace after rollback", got, wantWorkspace(f.ws))
	_, err = f.s.GetWorkspace(ctx, f.newWS.ID)
	wantErr(t, "workspace created in rolled back tx", err, keystore.ErrNotFound)
	keys, err := f.s.ListIngestKeys(ctx, keystore.IngestKeyQuery{})
	noErr(t, "ListIngestKeys", err)
	equal(t, "ingest keys after rollback", keys, []keystore.IngestKey{wantIngestKey(f.key)})
	_, err = f.s.FindIngestKeyByHash(ctx, f.newKey.Hash)
	wantErr(t, "key created in rolled back tx", err, keystore.ErrNotFound)
	_, err = f.s.GetDevice(ctx, f.newDev.WorkspaceID, f.newDev.ID)
	wantErr(t, "device created in rolled back tx", err, keystore.ErrNotFound)
	_, err = f.s.GetAPIKey(ctx, f.newAPI.ID)
	wantErr(t, "API key created in rolled back tx", err, keystore.ErrNotFound)
	for _, ws := range []string{f.ws.ID, ""} {
		equal(t, fmt.Sprintf("events in log %q after rollback", ws), len(listEvents(t, f.s, keystore.EventQuery{WorkspaceID: ws})), 0)
	}
	checkUser(t, f.s, f.user)
	checkMembership(t, f.s, f.user, f.membership)
	checkRefreshToken(t, f.s, f.token)
	noUser(t, f.s, "created in rolled back tx", f.newUser)
	_, err = f.s.FindRefreshTokenByHash(ctx, f.newToken.Hash)
	wantErr(t, "refresh token created in rolled back tx", err, keystore.ErrNotFound)
	equal(t, "signing keys after rollback", len(listSigningKeys(t, f.s)), 0)

	// The store is still usable: a leaked transaction or connection would
	// make this block, hence the deadline.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = f.s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		e, err := tx.AppendEvent(ctx, simpleEvent(f.ws.ID, 1))
		if err == nil && e.Sequence != 1 {
			return fmt.Errorf("sequence %d after rollback, want 1", e.Sequence)
		}
		return err
	})
	noErr(t, "ReadWrite after rollback", err)
}

func testTransactions(t *testing.T, newStore Factory) {
	t.Run("RollbackOnError", func(t *testing.T) {
		f := newRollbackFixture(t, newStore)
		calls := 0
		err := tryWrite(t, f.s, func(ctx context.Context, tx keystore.Tx) error {
			calls++
			if err := f.writeAll(ctx, tx); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("ReadWrite returned %v, want the callback's error", err)
		}
		if calls != 1 {
			t.Fatalf("callback ran %d times; a returned error must not be retried", calls)
		}
		f.checkUntouched(t)
	})

	// A panic rolls back; the backend may re-panic or return an error.
	t.Run("RollbackOnPanic", func(t *testing.T) {
		f := newRollbackFixture(t, newStore)
		var err error
		recovered := func() (r any) {
			defer func() { r = recover() }()
			err = tryWrite(t, f.s, func(ctx context.Context, tx keystore.Tx) error {
				if err := f.writeAll(ctx, tx); err != nil {
					return err
				}
				panic("storetest: panic in callback")
			})
			return nil
		}()
		switch {
		case recovered != nil && recovered != "storetest: panic in callback":
			t.Fatalf("ReadWrite panicked with %v, want the callback's panic value", recovered)
		case recovered == nil && err == nil:
			t.Fatal("ReadWrite returned nil after the callback panicked")
		}
		f.checkUntouched(t)
	})

	t.Run("ErrorFromStoreReachesCaller", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			if err := tx.CreateWorkspace(ctx, newWorkspace("ws-b")); err != nil {
				return err
			}
			return tx.CreateWorkspace(ctx, newWorkspace("ws-a"))
		})
		wantErr(t, "ReadWrite", err, keystore.ErrAlreadyExists)
		_, err = s.GetWorkspace(t.Context(), "ws-b")
		wantErr(t, "workspace created before the failing call", err, keystore.ErrNotFound)
	})

	t.Run("ReadsSeeOwnWrites", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		old := fullIngestKey("ws-a")
		createIngestKeys(t, s, old)
		w := newWorkspace("ws-b")
		k := fullIngestKey("ws-b")
		d := fullDevice("ws-b", "dev-1")
		ak := fullAPIKey()
		u := fullUser("us_a", "ada@example.com")
		m := newMembership(u.ID, "ws-b", keystore.RoleOwner)
		rt := newRefreshToken(u.ID, "fam-1", at(1000))
		sk := signingKey("sk_a", at(1))
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			check := func(what string, err error, got, want any) error {
				if err != nil {
					return fmt.Errorf("%s inside the transaction: %w", what, err)
				}
				if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); len(d) > 0 {
					return fmt.Errorf("%s inside the transaction: %v", what, d)
				}
				return nil
			}
			if err := tx.CreateWorkspace(ctx, w); err != nil {
				return err
			}
			gw, err := tx.GetWorkspace(ctx, w.ID)
			if err := check("GetWorkspace", err, gw, wantWorkspace(w)); err != nil {
				return err
			}
			lw, err := tx.ListWorkspaces(ctx, keystore.WorkspaceQuery{})
			if err := check("ListWorkspaces", err, idsOf(lw, workspaceID), []string{"ws-a", "ws-b"}); err != nil {
				return err
			}
			if err := tx.CreateIngestKey(ctx, k); err != nil {
				return err
			}
			gk, err := tx.GetIngestKey(ctx, k.WorkspaceID, k.ID)
			if err := check("GetIngestKey", err, gk, wantIngestKey(k)); err != nil {
				return err
			}
			fk, err := tx.FindIngestKeyByHash(ctx, k.PreviousHash)
			if err := check("FindIngestKeyByHash", err, fk, wantIngestKey(k)); err != nil {
				return err
			}
			if err := tx.CreateDevice(ctx, d); err != nil {
				return err
			}
			gd, err := tx.GetDevice(ctx, d.WorkspaceID, d.ID)
			if err := check("GetDevice", err, gd, wantDevice(d)); err != nil {
				return err
			}
			ld, err := tx.ListDevices(ctx, keystore.DeviceQuery{WorkspaceID: "ws-b"})
			if err := check("ListDevices", err, ld, []keystore.Device{wantDevice(d)}); err != nil {
				return err
			}
			if err := tx.CreateAPIKey(ctx, ak); err != nil {
				return err
			}
			ga, err := tx.GetAPIKey(ctx, ak.ID)
			if err := check("GetAPIKey", err, ga, wantAPIKey(ak)); err != nil {
				return err
			}
			fa, err := tx.FindAPIKeyByHash(ctx, ak.Hash)
			if err := check("FindAPIKeyByHash", err, fa, wantAPIKey(ak)); err != nil {
				return err
			}
			la, err := tx.ListAPIKeys(ctx, keystore.APIKeyQuery{})
			if err := check("ListAPIKeys", err, la, []keystore.APIKey{wantAPIKey(ak)}); err != nil {
				return err
			}
			k.Name = "renamed inside"
			if err := tx.UpdateIngestKey(ctx, k); err != nil {
				return err
			}
			lk, err := tx.ListIngestKeys(ctx, keystore.IngestKeyQuery{NameContains: "inside"})
			if err := check("ListIngestKeys after update", err, lk, []keystore.IngestKey{wantIngestKey(k)}); err != nil {
				return err
			}
			if err := tx.DeleteIngestKey(ctx, old.WorkspaceID, old.ID); err != nil {
				return err
			}
			if _, err := tx.GetIngestKey(ctx, old.WorkspaceID, old.ID); !errors.Is(err, keystore.ErrNotFound) {
				return fmt.Errorf("GetIngestKey of a key deleted in the transaction: %v, want ErrNotFound", err)
			}
			for i := 1; i <= 2; i++ {
				if _, err := tx.AppendEvent(ctx, simpleEvent("ws-b", i)); err != nil {
					return err
				}
			}
			le, err := tx.ListEvents(ctx, keystore.EventQuery{WorkspaceID: "ws-b"})
			if err := check("ListEvents", err, sequences(le), []uint64{1, 2}); err != nil {
				return err
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			gu, err := tx.GetUser(ctx, u.ID)
			if err := check("GetUser", err, gu, wantUser(u)); err != nil {
				return err
			}
			fu, err := tx.FindUserByEmail(ctx, u.Email)
			if err := check("FindUserByEmail", err, fu, wantUser(u)); err != nil {
				return err
			}
			if err := tx.PutMembership(ctx, m); err != nil {
				return err
			}
			gm, err := tx.GetMembership(ctx, u.ID, "ws-b")
			if err := check("GetMembership", err, gm, wantMembership(m)); err != nil {
				return err
			}
			lm, err := tx.ListMembers(ctx, keystore.MemberQuery{WorkspaceID: "ws-b"})
			if err := check("ListMembers", err, lm, []keystore.Member{wantMember(u, m.Role)}); err != nil {
				return err
			}
			lms, err := tx.ListMemberships(ctx, u.ID)
			if err := check("ListMemberships", err, lms, []keystore.Membership{wantMembership(m)}); err != nil {
				return err
			}
			if err := tx.CreateRefreshToken(ctx, rt); err != nil {
				return err
			}
			if won, err := tx.SpendRefreshToken(ctx, rt.ID, at(70)); err != nil || !won {
				return fmt.Errorf("SpendRefreshToken of a token created in the transaction: %t, %v", won, err)
			}
			rt.SpentTime = at(70)
			frt, err := tx.FindRefreshTokenByHash(ctx, rt.Hash)
			if err := check("FindRefreshTokenByHash", err, frt, wantRefreshToken(rt)); err != nil {
				return err
			}
			if err := tx.CreateSigningKey(ctx, sk); err != nil {
				return err
			}
			lsk, err := tx.ListSigningKeys(ctx)
			return check("ListSigningKeys", err, lsk, []keystore.SigningKey{wantSigningKey(sk)})
		})
		// And all of it committed.
		checkIngestKey(t, s, k)
		checkDevice(t, s, d)
		checkAPIKey(t, s, ak)
		_, err := s.GetIngestKey(t.Context(), old.WorkspaceID, old.ID)
		wantErr(t, "GetIngestKey of a key deleted in the transaction", err, keystore.ErrNotFound)
		equalSeqs(t, "events committed", sequences(listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-b"})), []uint64{1, 2})
		checkUser(t, s, u)
		checkMembership(t, s, u, m)
		checkRefreshToken(t, s, rt)
		equal(t, "signing keys committed", listSigningKeys(t, s), []keystore.SigningKey{wantSigningKey(sk)})
	})

	// Concurrent writers to one log get distinct, gapless sequences, and a
	// reader tailing the log never sees a later sequence before an earlier
	// one. Run it under -race.
	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		const writers, perWriter = 6, 10
		const total = writers * perWriter
		var (
			mu   sync.Mutex
			seqs []uint64
			wg   sync.WaitGroup
			errs = make(chan error, writers+2)
		)
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					var got keystore.Event
					err := s.ReadWrite(t.Context(), func(ctx context.Context, tx keystore.Tx) error {
						var err error
						got, err = tx.AppendEvent(ctx, simpleEvent("ws-a", w*perWriter+i))
						if err != nil {
							return err
						}
						// A second log in the same transaction.
						_, err = tx.AppendEvent(ctx, simpleEvent("", w*perWriter+i))
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
					mu.Lock()
					seqs = append(seqs, got.Sequence)
					mu.Unlock()
				}
			})
		}
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					evs, err := s.ListEvents(t.Context(), keystore.EventQuery{WorkspaceID: "ws-a"})
					if err != nil {
						errs <- fmt.Errorf("reader: %w", err)
						return
					}
					for i, e := range evs {
						if e.Sequence != uint64(i+1) {
							errs <- fmt.Errorf("reader saw sequences %v: not a gapless prefix", sequences(evs))
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(done)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		slices.Sort(seqs)
		equalSeqs(t, "sequences returned to writers", seqs, seqRange(1, total))
		equalSeqs(t, "sequences stored in ws-a", sequences(listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"})), seqRange(1, total))
		equalSeqs(t, "sequences stored in the global log", sequences(listEvents(t, s, keystore.EventQuery{})), seqRange(1, total))
	})

	t.Run("Ping", func(t *testing.T) {
		s := newStore(t)
		noErr(t, "Ping", s.Ping(t.Context()))
	})

	// A backend failure must not look like a sentinel: a canceled read is
	// an error or a result, never "not found".
	t.Run("CanceledContextIsNotASentinel", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, id := range []string{"ws-a", "ws-missing"} {
			_, err := s.GetWorkspace(ctx, id)
			if id == "ws-missing" && err == nil {
				t.Fatalf("GetWorkspace(%q) with a canceled context returned no error", id)
			}
			for _, sentinel := range []error{keystore.ErrAlreadyExists, keystore.ErrNotEmpty} {
				if errors.Is(err, sentinel) {
					t.Fatalf("GetWorkspace(%q) with a canceled context: %v", id, err)
				}
			}
			if id == "ws-a" && errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("GetWorkspace of an existing workspace with a canceled context reported ErrNotFound: %v", err)
			}
		}
		err := s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-a", false) })
		if errors.Is(err, keystore.ErrNotFound) || errors.Is(err, keystore.ErrNotEmpty) {
			t.Fatalf("ReadWrite with a canceled context: %v", err)
		}
	})
}
