package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ingestgate/ingestgate/keystore"
)

func testWorkspaces(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		w := newWorkspace("ws-a")
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, w) })
		got, err := s.GetWorkspace(t.Context(), w.ID)
		noErr(t, "GetWorkspace", err)
		equal(t, "GetWorkspace", got, wantWorkspace(w))
		list, err := s.ListWorkspaces(t.Context(), keystore.WorkspaceQuery{})
		noErr(t, "ListWorkspaces", err)
		equal(t, "ListWorkspaces", list, []keystore.Workspace{wantWorkspace(w)})

		w.DisplayName = "Renamed ü"
		w.UpdateTime = at(50)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateWorkspace(ctx, w) })
		got, err = s.GetWorkspace(t.Context(), w.ID)
		noErr(t, "GetWorkspace after update", err)
		equal(t, "GetWorkspace after update", got, wantWorkspace(w))
	})

	t.Run("ZeroValues", func(t *testing.T) {
		s := newStore(t)
		w := keystore.Workspace{ID: "ws-zero"}
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, w) })
		got, err := s.GetWorkspace(t.Context(), w.ID)
		noErr(t, "GetWorkspace", err)
		equal(t, "GetWorkspace", got, w)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		_, err := s.GetWorkspace(t.Context(), "ws-missing")
		wantErr(t, "GetWorkspace", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			return tx.UpdateWorkspace(ctx, newWorkspace("ws-missing"))
		})
		wantErr(t, "UpdateWorkspace", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-missing", false) })
		wantErr(t, "DeleteWorkspace", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-missing", true) })
		wantErr(t, "DeleteWorkspace cascade", err, keystore.ErrNotFound)
		// Update must not have created the record.
		_, err = s.GetWorkspace(t.Context(), "ws-missing")
		wantErr(t, "GetWorkspace after update of a missing workspace", err, keystore.ErrNotFound)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := newStore(t)
		w := newWorkspace("ws-a")
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, w) })
		dup := w
		dup.DisplayName = "other"
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, dup) })
		wantErr(t, "CreateWorkspace duplicate", err, keystore.ErrAlreadyExists)
		got, err := s.GetWorkspace(t.Context(), w.ID)
		noErr(t, "GetWorkspace", err)
		equal(t, "workspace after duplicate create", got, wantWorkspace(w))
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		for _, cascade := range []bool{false, true} {
			w := newWorkspace(fmt.Sprintf("ws-%t", cascade))
			write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, w) })
			write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, w.ID, cascade) })
			_, err := s.GetWorkspace(t.Context(), w.ID)
			wantErr(t, "GetWorkspace after delete", err, keystore.ErrNotFound)
			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, w.ID, cascade) })
			wantErr(t, "second DeleteWorkspace", err, keystore.ErrNotFound)
		}
	})

	// Memberships never make a workspace non-empty; deleting it deletes
	// them, with or without cascade, and leaves the users and their
	// memberships elsewhere.
	t.Run("DeleteWithMembers", func(t *testing.T) {
		for _, cascade := range []bool{false, true} {
			t.Run(fmt.Sprintf("cascade=%t", cascade), func(t *testing.T) {
				s := withWorkspaces(t, newStore, "ws-a", "ws-b")
				u, v := newUser("us_a"), newUser("us_b")
				createUsers(t, s, u, v)
				mb := newMembership(u.ID, "ws-b", keystore.RoleViewer)
				putMemberships(t, s, newMembership(u.ID, "ws-a", keystore.RoleOwner), newMembership(v.ID, "ws-a", keystore.RoleAdmin), mb)
				write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-a", cascade) })
				_, err := s.GetWorkspace(t.Context(), "ws-a")
				wantErr(t, "GetWorkspace after delete", err, keystore.ErrNotFound)
				for _, id := range []string{u.ID, v.ID} {
					noMembership(t, s, "in a deleted workspace", id, "ws-a")
				}
				equal(t, "members of the deleted workspace", len(listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"})), 0)
				checkUser(t, s, u)
				checkUser(t, s, v)
				equal(t, "memberships of us_a", listMemberships(t, s, u.ID), []keystore.Membership{wantMembership(mb)})
				equal(t, "members of ws-b", listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-b"}), []keystore.Member{wantMember(u, keystore.RoleViewer)})
				equal(t, "memberships of us_b", len(listMemberships(t, s, v.ID)), 0)

				// Created again, the workspace has no members.
				write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, newWorkspace("ws-a")) })
				equal(t, "members of the re-created workspace", len(listMembers(t, s, keystore.MemberQuery{WorkspaceID: "ws-a"})), 0)
			})
		}
	})

	t.Run("DeleteNotEmpty", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			key  bool
			dev  bool
		}{{"IngestKey", true, false}, {"Device", false, true}, {"Both", true, true}} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				w := newWorkspace("ws-a")
				k := fullIngestKey(w.ID)
				d := fullDevice(w.ID, "dev-1")
				u, m := newUser("us_a"), newMembership("us_a", w.ID, keystore.RoleOwner)
				write(t, s, func(ctx context.Context, tx keystore.Tx) error {
					if err := tx.CreateWorkspace(ctx, w); err != nil {
						return err
					}
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
					if err := tx.PutMembership(ctx, m); err != nil {
						return err
					}
					if tc.key {
						if err := tx.CreateIngestKey(ctx, k); err != nil {
							return err
						}
					}
					if tc.dev {
						return tx.CreateDevice(ctx, d)
					}
					return nil
				})
				err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, w.ID, false) })
				wantErr(t, "DeleteWorkspace without cascade", err, keystore.ErrNotEmpty)
				_, err = s.GetWorkspace(t.Context(), w.ID)
				noErr(t, "GetWorkspace after refused delete", err)
				if tc.key {
					_, err = s.GetIngestKey(t.Context(), w.ID, k.ID)
					noErr(t, "GetIngestKey after refused delete", err)
				}
				if tc.dev {
					_, err = s.GetDevice(t.Context(), w.ID, d.ID)
					noErr(t, "GetDevice after refused delete", err)
				}
				checkMembership(t, s, u, m)
			})
		}
	})

	t.Run("DeleteCascade", func(t *testing.T) {
		s := newStore(t)
		a, b := newWorkspace("ws-a"), newWorkspace("ws-b")
		ka1, ka2, kb := fullIngestKey(a.ID), simpleIngestKey(a.ID, "second", nil), fullIngestKey(b.ID)
		da1, da2, db := fullDevice(a.ID, "dev-1"), fullDevice(a.ID, "dev-2"), fullDevice(b.ID, "dev-1")
		u := newUser("us_a")
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			for _, w := range []keystore.Workspace{a, b} {
				if err := tx.CreateWorkspace(ctx, w); err != nil {
					return err
				}
			}
			for _, k := range []keystore.IngestKey{ka1, ka2, kb} {
				if err := tx.CreateIngestKey(ctx, k); err != nil {
					return err
				}
			}
			for _, d := range []keystore.Device{da1, da2, db} {
				if err := tx.CreateDevice(ctx, d); err != nil {
					return err
				}
			}
			for _, ws := range []string{a.ID, a.ID, a.ID, b.ID, b.ID, ""} {
				if _, err := tx.AppendEvent(ctx, fullEvent(ws)); err != nil {
					return err
				}
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			for _, ws := range []string{a.ID, b.ID} {
				if err := tx.PutMembership(ctx, newMembership(u.ID, ws, keystore.RoleAdmin)); err != nil {
					return err
				}
			}
			return nil
		})
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, a.ID, true) })

		ctx := t.Context()
		_, err := s.GetWorkspace(ctx, a.ID)
		wantErr(t, "GetWorkspace deleted", err, keystore.ErrNotFound)
		for _, k := range []keystore.IngestKey{ka1, ka2} {
			_, err = s.GetIngestKey(ctx, a.ID, k.ID)
			wantErr(t, "GetIngestKey of deleted workspace", err, keystore.ErrNotFound)
			_, err = s.FindIngestKeyByHash(ctx, k.Hash)
			wantErr(t, "FindIngestKeyByHash of deleted workspace", err, keystore.ErrNotFound)
		}
		_, err = s.FindIngestKeyByHash(ctx, ka1.PreviousHash)
		wantErr(t, "FindIngestKeyByHash previous of deleted workspace", err, keystore.ErrNotFound)
		for _, d := range []keystore.Device{da1, da2} {
			_, err = s.GetDevice(ctx, a.ID, d.ID)
			wantErr(t, "GetDevice of deleted workspace", err, keystore.ErrNotFound)
		}

		// The other workspace and the global log are untouched.
		keys, err := s.ListIngestKeys(ctx, keystore.IngestKeyQuery{})
		noErr(t, "ListIngestKeys", err)
		equal(t, "ingest keys left", keys, []keystore.IngestKey{wantIngestKey(kb)})
		devs, err := s.ListDevices(ctx, keystore.DeviceQuery{})
		noErr(t, "ListDevices", err)
		equal(t, "devices left", devs, []keystore.Device{wantDevice(db)})
		wss, err := s.ListWorkspaces(ctx, keystore.WorkspaceQuery{})
		noErr(t, "ListWorkspaces", err)
		equal(t, "workspaces left", wss, []keystore.Workspace{wantWorkspace(b)})
		evs, err := s.ListEvents(ctx, keystore.EventQuery{WorkspaceID: b.ID})
		noErr(t, "ListEvents ws-b", err)
		equal(t, "events of ws-b", evs, []keystore.Event{wantEvent(fullEvent(b.ID), 1), wantEvent(fullEvent(b.ID), 2)})
		evs, err = s.ListEvents(ctx, keystore.EventQuery{})
		noErr(t, "ListEvents global", err)
		equal(t, "global events", evs, []keystore.Event{wantEvent(fullEvent(""), 1)})
		checkUser(t, s, u)
		equal(t, "memberships left", listMemberships(t, s, u.ID), []keystore.Membership{wantMembership(newMembership(u.ID, b.ID, keystore.RoleAdmin))})

		// Re-created, the workspace starts without keys or devices; its audit
		// log is history and stays.
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, a) })
		keys, err = s.ListIngestKeys(ctx, keystore.IngestKeyQuery{WorkspaceID: a.ID})
		noErr(t, "ListIngestKeys re-created", err)
		equal(t, "keys of re-created workspace", len(keys), 0)
		devs, err = s.ListDevices(ctx, keystore.DeviceQuery{WorkspaceID: a.ID})
		noErr(t, "ListDevices re-created", err)
		equal(t, "devices of re-created workspace", len(devs), 0)
		equal(t, "members of re-created workspace", len(listMembers(t, s, keystore.MemberQuery{WorkspaceID: a.ID})), 0)
		evs, err = s.ListEvents(ctx, keystore.EventQuery{WorkspaceID: a.ID})
		noErr(t, "ListEvents re-created", err)
		equal(t, "events of re-created workspace", len(evs), 3)
	})

	t.Run("ListOrderAndPaging", func(t *testing.T) {
		s := newStore(t)
		// Byte order, not insertion order or numeric order.
		ids := []string{"b", "a10", "ab", "a2", "a1", "c-1", "ba"}
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			for _, id := range ids {
				if err := tx.CreateWorkspace(ctx, newWorkspace(id)); err != nil {
					return err
				}
			}
			return nil
		})
		want := sortedIDs(ids, false)
		list, err := s.ListWorkspaces(t.Context(), keystore.WorkspaceQuery{})
		noErr(t, "ListWorkspaces", err)
		equalIDs(t, "ListWorkspaces order", idsOf(list, workspaceID), want)
		for limit := 1; limit <= len(ids)+1; limit++ {
			got := pageThrough(t, limit, len(ids), func(p keystore.Page) ([]keystore.Workspace, error) {
				return s.ListWorkspaces(t.Context(), keystore.WorkspaceQuery{Page: p})
			}, workspaceID)
			equalIDs(t, fmt.Sprintf("paging with limit %d", limit), got, want)
		}
		list, err = s.ListWorkspaces(t.Context(), keystore.WorkspaceQuery{Page: keystore.Page{After: "a2"}})
		noErr(t, "ListWorkspaces after", err)
		equalIDs(t, "after a2", idsOf(list, workspaceID), []string{"ab", "b", "ba", "c-1"})
		list, err = s.ListWorkspaces(t.Context(), keystore.WorkspaceQuery{Page: keystore.Page{After: "c-1"}})
		noErr(t, "ListWorkspaces after last", err)
		equalIDs(t, "after the last id", idsOf(list, workspaceID), nil)
	})

	t.Run("ListIDs", func(t *testing.T) {
		s := newStore(t)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error {
			for _, id := range []string{"ws-a", "ws-b", "ws-c", "ws-d"} {
				if err := tx.CreateWorkspace(ctx, newWorkspace(id)); err != nil {
					return err
				}
			}
			return nil
		})
		for _, tc := range []struct {
			name string
			q    keystore.WorkspaceQuery
			want []string
		}{
			{"Some", keystore.WorkspaceQuery{IDs: []string{"ws-d", "ws-b"}}, []string{"ws-b", "ws-d"}},
			{"UnknownIgnored", keystore.WorkspaceQuery{IDs: []string{"ws-x", "ws-c"}}, []string{"ws-c"}},
			{"NoneKnown", keystore.WorkspaceQuery{IDs: []string{"ws-x"}}, nil},
			{"EmptyMeansAll", keystore.WorkspaceQuery{IDs: []string{}}, []string{"ws-a", "ws-b", "ws-c", "ws-d"}},
			{"WithPage", keystore.WorkspaceQuery{IDs: []string{"ws-a", "ws-c", "ws-d"}, Page: keystore.Page{After: "ws-a", Limit: 1}}, []string{"ws-c"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				list, err := s.ListWorkspaces(t.Context(), tc.q)
				noErr(t, "ListWorkspaces", err)
				equalIDs(t, "ListWorkspaces", idsOf(list, workspaceID), tc.want)
			})
		}
	})
}
