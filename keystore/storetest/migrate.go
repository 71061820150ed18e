package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/ingestgate/ingestgate/keystore"
)

// CheckMigratedUsers checks a store just migrated past 0003_users.sql from
// a database holding workspace ws-a and the one event before.
func CheckMigratedUsers(t *testing.T, s keystore.Store, before keystore.Event) {
	t.Helper()
	ctx := t.Context()
	evs, err := s.ListEvents(ctx, keystore.EventQuery{WorkspaceID: "ws-a"})
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(evs[0], before) {
		t.Fatalf("events after migration = %+v, %v; want [%+v]", evs, err, before)
	}
	u := keystore.User{ID: "us_a", Email: "ada@example.com", Version: 1}
	var appended keystore.Event
	err = s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.PutMembership(ctx, keystore.Membership{UserID: u.ID, WorkspaceID: "ws-a", Role: keystore.RoleOwner}); err != nil {
			return err
		}
		appended, err = tx.AppendEvent(ctx, keystore.Event{WorkspaceID: "ws-a", UserID: u.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if appended.Sequence != 2 {
		t.Fatalf("AppendEvent after migration: sequence %d, want 2", appended.Sequence)
	}
	evs, err = s.ListEvents(ctx, keystore.EventQuery{WorkspaceID: "ws-a", AfterSequence: 1})
	if err != nil || len(evs) != 1 || evs[0].UserID != u.ID {
		t.Fatalf("event with a user after migration = %+v, %v", evs, err)
	}
	ms, err := s.ListMembers(ctx, keystore.MemberQuery{WorkspaceID: "ws-a"})
	if err != nil || len(ms) != 1 || ms[0].User != u || ms[0].Role != keystore.RoleOwner {
		t.Fatalf("ListMembers after migration = %+v, %v", ms, err)
	}
}
