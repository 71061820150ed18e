package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ingestgate/ingestgate/keystore"
)

func createUsers(t *testing.T, s keystore.Store, us ...keystore.User) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, u := range us {
			if err := tx.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("CreateUser %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

func updateUser(t *testing.T, s keystore.Store, u keystore.User) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateUser(ctx, u) })
}

// checkUser reads u back through Get and FindUserByEmail.
func checkUser(t *testing.T, s keystore.Store, u keystore.User) {
	t.Helper()
	ctx, want := t.Context(), wantUser(u)
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	equal(t, "GetUser", got, want)
	got, err = s.FindUserByEmail(ctx, u.Email)
	noErr(t, "FindUserByEmail", err)
	equal(t, "FindUserByEmail", got, want)
}

// noUser checks that neither the id nor the email finds a user.
func noUser(t *testing.T, s keystore.Store, what string, u keystore.User) {
	t.Helper()
	_, err := s.GetUser(t.Context(), u.ID)
	wantErr(t, "GetUser "+what, err, keystore.ErrNotFound)
	_, err = s.FindUserByEmail(t.Context(), u.Email)
	wantErr(t, "FindUserByEmail "+what, err, keystore.ErrNotFound)
}

func putMemberships(t *testing.T, s keystore.Store, ms ...keystore.Membership) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, m := range ms {
			if err := tx.PutMembership(ctx, m); err != nil {
				return fmt.Errorf("PutMembership %s in %s: %w", m.UserID, m.WorkspaceID, err)
			}
		}
		return nil
	})
}

func listMembers(t *testing.T, s keystore.Store, q keystore.MemberQuery) []keystore.Member {
	t.Helper()
	ms, err := s.ListMembers(t.Context(), q)
	noErr(t, fmt.Sprintf("ListMembers %+v", q), err)
	return ms
}

func listMemberships(t *testing.T, s keystore.Store, userID string) []keystore.Membership {
	t.Helper()
	ms, err := s.ListMemberships(t.Context(), userID)
	noErr(t, fmt.Sprintf("ListMemberships %q", userID), err)
	return ms
}

// checkMembership reads m back through GetMembership, ListMemberships of
// its user (its only membership) and ListMembers of its workspace (where u
// is the only member).
func checkMembership(t *testing.T, s keystore.Store, u keystore.User, m keystore.Membership) {
	t.Helper()
	got, err := s.GetMembership(t.Context(), m.UserID, m.WorkspaceID)
	noErr(t, "GetMembership", err)
	equal(t, "GetMembership", got, wantMembership(m))
	equal(t, "ListMemberships", listMemberships(t, s, m.UserID), []keystore.Membership{wantMembership(m)})
	equal(t, "ListMembers", listMembers(t, s, keystore.MemberQuery{WorkspaceID: m.WorkspaceID}), []keystore.Member{wantMember(u, m.Role)})
}

// noMembership checks that the user is not a member of the workspace.
func noMembership(t *testing.T, s keystore.Store, what, userID, ws string) {
	t.Helper()
	_, err := s.GetMembership(t.Context(), userID, ws)
	wantErr(t, "GetMembership "+what, err, keystore.ErrNotFound)
	for _, m := range listMemberships(t, s, userID) {
		if m.WorkspaceID == ws {
			t.Fatalf("ListMemberships %s: lists %+v", what, m)
		}
	}
	for _, m := range listMembers(t, s, keystore.MemberQuery{WorkspaceID: ws}) {
		if m.ID == userID {
			t.Fatalf("ListMembers %s: lists %+v", what, m)
		}
	}
}

func testUsers(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			user keystore.User
		}{
			{"AllFields", fullUser("us_full", "ada@example.com")},
			{"ZeroValues", keystore.User{ID: "us_zero", Email: "zero@example.com"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				createUsers(t, s, tc.user)
				checkUser(t, s, tc.user)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		u, other := fullUser("us_a", "ada@example.com"), newUser("us_b")
		createUsers(t, s, u, other)
		old := u
		// Every field changes, Disabled and the times included.
		u = keystore.User{
			ID: u.ID, Email: "lovelace@example.org", DisplayName: "Countess",
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3aGFzaA", Disabled: false, Version: u.Version + 1,
			CreateTime: at(40), UpdateTime: at(41), LastLoginTime: at(42),
		}
		updateUser(t, s, u)
		checkUser(t, s, u)
		_, err := s.FindUserByEmail(t.Context(), old.Email)
		wantErr(t, "FindUserByEmail of the old email", err, keystore.ErrNotFound)
		// Back to zero values; the email stays (it is the user's own).
		u = keystore.User{ID: u.ID, Email: u.Email, Disabled: true}
		updateUser(t, s, u)
		checkUser(t, s, u)
		checkUser(t, s, other)
		// The old email is free again.
		createUsers(t, s, newUser("us_c"), keystore.User{ID: "us_d", Email: old.Email})
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := newStore(t)
		u := fullUser("us_a", "ada@example.com")
		createUsers(t, s, u)
		sameID := newUser(u.ID)
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateUser(ctx, sameID) })
		wantErr(t, "CreateUser with a duplicate id", err, keystore.ErrAlreadyExists)
		sameEmail := newUser("us_b")
		sameEmail.Email = u.Email
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateUser(ctx, sameEmail) })
		wantErr(t, "CreateUser with a duplicate email", err, keystore.ErrAlreadyExists)
		checkUser(t, s, u)
		_, err = s.GetUser(t.Context(), sameEmail.ID)
		wantErr(t, "GetUser of the refused duplicate", err, keystore.ErrNotFound)
		_, err = s.FindUserByEmail(t.Context(), sameID.Email)
		wantErr(t, "FindUserByEmail of the refused duplicate", err, keystore.ErrNotFound)
		// Within one transaction too: the database enforces it, not a read
		// before the write.
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			a, b := newUser("us_c"), newUser("us_d")
			b.Email = a.Email
			if err := tx.CreateUser(ctx, a); err != nil {
				return err
			}
			return tx.CreateUser(ctx, b)
		})
		wantErr(t, "CreateUser twice with one email in one transaction", err, keystore.ErrAlreadyExists)
		noUser(t, s, "created in the failed transaction", newUser("us_c"))
	})

	t.Run("UpdateDuplicateEmail", func(t *testing.T) {
		s := newStore(t)
		a, b := newUser("us_a"), fullUser("us_b", "b@example.com")
		createUsers(t, s, a, b)
		changed := b
		changed.Email, changed.DisplayName = a.Email, "taken"
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateUser(ctx, changed) })
		wantErr(t, "UpdateUser to another user's email", err, keystore.ErrAlreadyExists)
		checkUser(t, s, a)
		checkUser(t, s, b)
	})

	// Emails are matched as stored: the caller normalizes.
	t.Run("FindByEmailExact", func(t *testing.T) {
		s := newStore(t)
		u := newUser("us_a")
		u.Email = "ada.l@example.com"
		createUsers(t, s, u)
		for _, e := range []string{"ADA.L@example.com", "ada.l@example.co", "da.l@example.com", "ada.l@example.com ", "ada_l@example.com", "ada%@example.com", ""} {
			_, err := s.FindUserByEmail(t.Context(), e)
			wantErr(t, fmt.Sprintf("FindUserByEmail(%q)", e), err, keystore.ErrNotFound)
		}
		checkUser(t, s, u)
		// Case is not folded by the store: another case is another email.
		upper := newUser("us_b")
		upper.Email = "ADA.L@example.com"
		createUsers(t, s, upper)
		checkUser(t, s, upper)
		checkUser(t, s, u)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		u := newUser("us_missing")
		noUser(t, s, "of a missing user", u)
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateUser(ctx, u) })
		wantErr(t, "UpdateUser", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteUser(ctx, u.ID) })
		wantErr(t, "DeleteUser", err, keystore.ErrNotFound)
		noUser(t, s, "after update of a missing user", u)
	})

	// Deleting a user deletes its memberships and refresh tokens, and no
	// one else's.
	t.Run("DeleteCascades", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		u, other := fullUser("us_a", "ada@example.com"), newUser("us_b")
		createUsers(t, s, u, other)
		putMemberships(t, s,
			newMembership(u.ID, "ws-a", keystore.RoleOwner), newMembership(u.ID, "ws-b", keystore.RoleViewer),
			newMembership(other.ID, "ws-a", keystore.RoleAdmin))
		fam := "fam-1"
		uTokens := []keystore.RefreshToken{newRefreshToken(u.ID, fam, at(100)), newRefreshToken(u.ID, fam, at(101)), newRefreshToken(u.ID, "fam-2", at(102))}
		oTok := newRefreshToken(other.ID, fam, at(100))
		createRefreshTokens(t, s, append(uTokens, oTok)...)

		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteUser(ctx, u.ID) })
		noUser(t, s, "after delete", u)
		for _, ws := range []string{"ws-a", "ws-b"} {
			noMembership(t, s, "of a deleted user", u.ID, ws)
		}
		equal(t, "ListMemberships of a deleted user", len(listMemberships(t, s, u.ID)), 0)
		for _, rt := range uTokens {
			_, err := s.FindRefreshTokenByHash(t.Context(), rt.Hash)
			wantErr(t, "FindRefreshTokenByHash of a deleted user's token", err, keystore.ErrNotFound)
		}
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteUser(ctx, u.ID) })
		wantErr(t, "second DeleteUser", err, keystore.ErrNotFound)

		// The other user keeps everything.
		checkUser(t, s, other)
		checkMembership(t, s, other, newMembership(other.ID, "ws-a", keystore.RoleAdmin))
		checkRefreshToken(t, s, oTok)
		_, err = s.GetWorkspace(t.Context(), "ws-b")
		noErr(t, "GetWorkspace after DeleteUser", err)

		// Created again, the user starts without memberships or tokens,
		// and its email was free.
		createUsers(t, s, u)
		checkUser(t, s, u)
		equal(t, "memberships of the re-created user", len(listMemberships(t, s, u.ID)), 0)
		n := revokeRefreshTokens(t, s, u.ID, "", at(200))
		equal(t, "tokens of the re-created user", n, 0)
	})
}

func testMemberships(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			m    keystore.Membership
		}{
			{"AllFields", newMembership("us_a", "ws-a", keystore.RoleAdmin)},
			{"ZeroTimes", keystore.Membership{UserID: "us_a", WorkspaceID: "ws-a", Role: keystore.RoleViewer}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := withWorkspaces(t, newStore, "ws-a", "ws-b")
				u := fullUser("us_a", "ada@example.com")
				createUsers(t, s, u)
				putMemberships(t, s, tc.m)
				checkMembership(t, s, u, tc.m)
				equal(t, "ListMembers of the other workspace", len(listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-b"})), 0)
			})
		}
	})

	// A second put changes the role and update time, never the create time.
	t.Run("PutUpdatesKeepingCreateTime", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		u := newUser("us_a")
		createUsers(t, s, u)
		first := newMembership(u.ID, "ws-a", keystore.RoleViewer)
		putMemberships(t, s, first)
		second := keystore.Membership{UserID: u.ID, WorkspaceID: "ws-a", Role: keystore.RoleOwner, CreateTime: at(60), UpdateTime: at(61)}
		putMemberships(t, s, second)
		want := second
		want.CreateTime = first.CreateTime
		checkMembership(t, s, u, want)
		// And once more in one transaction with the first put.
		putMemberships(t, s, keystore.Membership{UserID: u.ID, WorkspaceID: "ws-a", Role: keystore.RoleAdmin, CreateTime: at(62), UpdateTime: at(63)},
			keystore.Membership{UserID: u.ID, WorkspaceID: "ws-a", Role: keystore.RoleViewer, CreateTime: at(64), UpdateTime: at(65)})
		want.Role, want.UpdateTime = keystore.RoleViewer, at(65)
		checkMembership(t, s, u, want)
	})

	t.Run("PutNotFound", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		u := newUser("us_a")
		createUsers(t, s, u)
		for _, m := range []keystore.Membership{
			newMembership("us_missing", "ws-a", keystore.RoleAdmin),
			newMembership(u.ID, "ws-missing", keystore.RoleAdmin),
			newMembership("us_missing", "ws-missing", keystore.RoleAdmin),
		} {
			err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.PutMembership(ctx, m) })
			wantErr(t, fmt.Sprintf("PutMembership of %s in %s", m.UserID, m.WorkspaceID), err, keystore.ErrNotFound)
			_, err = s.GetMembership(t.Context(), m.UserID, m.WorkspaceID)
			wantErr(t, "GetMembership after a refused put", err, keystore.ErrNotFound)
		}
		equal(t, "memberships of the user", len(listMemberships(t, s, u.ID)), 0)
		equal(t, "members of ws-a", len(listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"})), 0)
	})

	t.Run("Delete", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		u, v := newUser("us_a"), newUser("us_b")
		createUsers(t, s, u, v)
		ma, mb, mv := newMembership(u.ID, "ws-a", keystore.RoleOwner), newMembership(u.ID, "ws-b", keystore.RoleAdmin), newMembership(v.ID, "ws-a", keystore.RoleViewer)
		putMemberships(t, s, ma, mb, mv)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteMembership(ctx, u.ID, "ws-a") })
		noMembership(t, s, "after delete", u.ID, "ws-a")
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteMembership(ctx, u.ID, "ws-a") })
		wantErr(t, "second DeleteMembership", err, keystore.ErrNotFound)
		for _, tc := range []struct{ user, ws string }{{"us_missing", "ws-a"}, {u.ID, "ws-missing"}, {v.ID, "ws-b"}} {
			err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteMembership(ctx, tc.user, tc.ws) })
			wantErr(t, fmt.Sprintf("DeleteMembership of %s in %s", tc.user, tc.ws), err, keystore.ErrNotFound)
		}
		// The rest stays: the user, the workspace, the other memberships.
		checkUser(t, s, u)
		_, err = s.GetWorkspace(t.Context(), "ws-a")
		noErr(t, "GetWorkspace after DeleteMembership", err)
		equal(t, "memberships of us_a", listMemberships(t, s, u.ID), []keystore.Membership{wantMembership(mb)})
		equal(t, "members of ws-a", listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"}), []keystore.Member{wantMember(v, keystore.RoleViewer)})
	})

	// A membership in one workspace never shows under another.
	t.Run("WorkspaceIsolation", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b", "ws-c")
		u, v := newUser("us_a"), newUser("us_b")
		createUsers(t, s, u, v)
		putMemberships(t, s,
			newMembership(u.ID, "ws-a", keystore.RoleAdmin), newMembership(u.ID, "ws-b", keystore.RoleViewer),
			newMembership(v.ID, "ws-b", keystore.RoleOwner))
		for _, tc := range []struct {
			ws   string
			want []keystore.Member
		}{
			{"ws-a", []keystore.Member{wantMember(u, keystore.RoleAdmin)}},
			{"ws-b", []keystore.Member{wantMember(u, keystore.RoleViewer), wantMember(v, keystore.RoleOwner)}},
			{"ws-c", nil},
			{"ws-missing", nil},
			{"", nil},
		} {
			got := listMembers(t, s, keystore.MemberQuery{WorkspaceID: tc.ws})
			if len(tc.want) == 0 {
				equal(t, fmt.Sprintf("members of %q", tc.ws), len(got), 0)
				continue
			}
			equal(t, fmt.Sprintf("members of %q", tc.ws), got, tc.want)
		}
		m, err := s.GetMembership(t.Context(), u.ID, "ws-b")
		noErr(t, "GetMembership", err)
		equal(t, "role in ws-b", m.Role, keystore.RoleViewer)
		noMembership(t, s, "in another workspace", v.ID, "ws-a")
		noMembership(t, s, "in a workspace without members", u.ID, "ws-c")
		// Changing a role in one workspace leaves the other alone.
		putMemberships(t, s, newMembership(u.ID, "ws-a", keystore.RoleOwner))
		m, err = s.GetMembership(t.Context(), u.ID, "ws-b")
		noErr(t, "GetMembership", err)
		equal(t, "role in ws-b after a change in ws-a", m.Role, keystore.RoleViewer)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteMembership(ctx, v.ID, "ws-a") })
		wantErr(t, "DeleteMembership in a workspace the user is not a member of", err, keystore.ErrNotFound)
		_, err = s.GetMembership(t.Context(), v.ID, "ws-b")
		noErr(t, "GetMembership after a refused delete elsewhere", err)
	})

	// A member is the user as stored now, not a copy made at put time.
	t.Run("MembersFollowUser", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		u := newUser("us_a")
		createUsers(t, s, u)
		putMemberships(t, s, newMembership(u.ID, "ws-a", keystore.RoleAdmin))
		u = fullUser(u.ID, "new@example.com")
		updateUser(t, s, u)
		equal(t, "members after UpdateUser", listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"}), []keystore.Member{wantMember(u, keystore.RoleAdmin)})
	})

	t.Run("ListMembersOrderAndPaging", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		// Byte order, not insertion order. ws-b's members interleave with
		// ws-a's, so a list that ignores the workspace fails.
		ids := []string{"us_b", "us_a10", "us_ab", "us_a2", "us_a1", "us_c-1", "us_ba", "us_B"}
		others := []string{"us_a15", "us_aa", "us_bb", "us_z"}
		var us []keystore.User
		var ms []keystore.Membership
		for i, id := range ids {
			us = append(us, newUser(id))
			ms = append(ms, newMembership(id, "ws-a", []keystore.Role{keystore.RoleOwner, keystore.RoleAdmin, keystore.RoleViewer}[i%3]))
		}
		for _, id := range others {
			us = append(us, newUser(id))
			ms = append(ms, newMembership(id, "ws-b", keystore.RoleViewer))
		}
		ms = append(ms, newMembership("us_a2", "ws-b", keystore.RoleOwner))
		createUsers(t, s, shuffled(us)...)
		putMemberships(t, s, shuffled(ms)...)
		want := sortedIDs(ids, false)
		list := listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"})
		equalIDs(t, "ListMembers order", idsOf(list, memberID), want)
		for _, m := range list {
			// The role is ws-a's, also for us_a2, which is an owner in ws-b.
			var role keystore.Role
			for _, mm := range ms {
				if mm.UserID == m.ID && mm.WorkspaceID == "ws-a" {
					role = mm.Role
				}
			}
			equal(t, "member "+m.ID, m, wantMember(newUser(m.ID), role))
		}
		for limit := 1; limit <= len(ids)+1; limit++ {
			got := pageThrough(t, limit, len(ids), func(p keystore.Page) ([]keystore.Member, error) {
				return s.ListMembers(t.Context(), keystore.MemberQuery{WorkspaceID: "ws-a", Page: p})
			}, memberID)
			equalIDs(t, fmt.Sprintf("paging with limit %d", limit), got, want)
		}
		for _, tc := range []struct {
			name string
			page keystore.Page
			want []string
		}{
			{"AfterMember", keystore.Page{After: "us_a2"}, []string{"us_ab", "us_b", "us_ba", "us_c-1"}},
			{"AfterNonMember", keystore.Page{After: "us_aa"}, []string{"us_ab", "us_b", "us_ba", "us_c-1"}},
			{"AfterWithLimit", keystore.Page{After: "us_a10", Limit: 2}, []string{"us_a2", "us_ab"}},
			{"AfterLast", keystore.Page{After: "us_c-1"}, nil},
			{"AfterAll", keystore.Page{After: "us_zzz"}, nil},
			{"Limit", keystore.Page{Limit: 3}, []string{"us_B", "us_a1", "us_a10"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a", Page: tc.page})
				equalIDs(t, "ListMembers", idsOf(got, memberID), tc.want)
			})
		}
		list = listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-b"})
		equalIDs(t, "ListMembers ws-b", idsOf(list, memberID), sortedIDs(append(others, "us_a2"), false))
	})

	t.Run("ListMembershipsOrder", func(t *testing.T) {
		wss := []string{"ws-b", "ws-a10", "ws-ab", "ws-a2", "ws-a1", "ws-c"}
		s := withWorkspaces(t, newStore, append(wss, "ws-x")...)
		u, v := newUser("us_a"), newUser("us_b")
		createUsers(t, s, u, v)
		var ms []keystore.Membership
		for i, ws := range wss {
			ms = append(ms, newMembership(u.ID, ws, []keystore.Role{keystore.RoleOwner, keystore.RoleAdmin, keystore.RoleViewer}[i%3]))
		}
		putMemberships(t, s, append(shuffled(ms), newMembership(v.ID, "ws-x", keystore.RoleOwner), newMembership(v.ID, "ws-a1", keystore.RoleOwner))...)
		got := listMemberships(t, s, u.ID)
		equalIDs(t, "ListMemberships order", idsOf(got, membershipWorkspace), sortedIDs(wss, false))
		for _, m := range got {
			for _, want := range ms {
				if want.WorkspaceID == m.WorkspaceID {
					equal(t, "membership in "+m.WorkspaceID, m, wantMembership(want))
				}
			}
		}
		equalIDs(t, "ListMemberships of us_b", idsOf(listMemberships(t, s, v.ID), membershipWorkspace), []string{"ws-a1", "ws-x"})
		equal(t, "ListMemberships of an unknown user", len(listMemberships(t, s, "us_missing")), 0)
	})
}
