package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ingestgate/ingestgate/keystore"
)

func createDevices(t *testing.T, s keystore.Store, devs ...keystore.Device) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		for _, d := range devs {
			if err := tx.CreateDevice(ctx, d); err != nil {
				return fmt.Errorf("CreateDevice %s/%s: %w", d.WorkspaceID, d.ID, err)
			}
		}
		return nil
	})
}

// checkDevice reads d back through Get and List, expecting it never seen.
func checkDevice(t *testing.T, s keystore.Store, d keystore.Device) {
	t.Helper()
	checkDeviceIs(t, s, d, wantDevice(d))
}

// checkDeviceIs reads d back through Get and List and compares with want.
func checkDeviceIs(t *testing.T, s keystore.Store, d, want keystore.Device) {
	t.Helper()
	got, err := s.GetDevice(t.Context(), d.WorkspaceID, d.ID)
	noErr(t, "GetDevice", err)
	equal(t, "GetDevice", got, want)
	list, err := s.ListDevices(t.Context(), keystore.DeviceQuery{WorkspaceID: d.WorkspaceID, IDPrefix: d.ID})
	noErr(t, "ListDevices", err)
	equal(t, "ListDevices", list, []keystore.Device{want})
}

func testDevices(t *testing.T, newStore Factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			dev  keystore.Device
		}{
			{"AllFields", fullDevice("ws-a", "Dev.2:x_y-z")},
			{"ZeroValues", keystore.Device{WorkspaceID: "ws-a", ID: "d"}},
			{"EmptyTags", keystore.Device{WorkspaceID: "ws-a", ID: "d", Tags: map[string]string{}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := withWorkspaces(t, newStore, "ws-a")
				createDevices(t, s, tc.dev)
				checkDevice(t, s, tc.dev)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		d := fullDevice("ws-a", "dev-1")
		createDevices(t, s, d)
		// LastSeenTime is usage: Update ignores it.
		d.DisplayName, d.Tags = "renamed", map[string]string{"site": "paris"}
		d.UpdateTime, d.LastSeenTime = at(30), at(31)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, d) })
		checkDevice(t, s, d)
		d.DisplayName, d.Tags, d.LastSeenTime = "", nil, at(0).AddDate(-1, 0, 0)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, d) })
		checkDevice(t, s, d)
	})

	t.Run("CreateIntoMissingWorkspace", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			return tx.CreateDevice(ctx, fullDevice("ws-missing", "dev-1"))
		})
		wantErr(t, "CreateDevice into a missing workspace", err, keystore.ErrNotFound)
		list, err := s.ListDevices(t.Context(), keystore.DeviceQuery{})
		noErr(t, "ListDevices", err)
		equal(t, "devices after failed create", len(list), 0)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		d := fullDevice("ws-a", "dev-1")
		createDevices(t, s, d)
		dup := keystore.Device{WorkspaceID: "ws-a", ID: "dev-1", DisplayName: "dup"}
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateDevice(ctx, dup) })
		wantErr(t, "CreateDevice duplicate", err, keystore.ErrAlreadyExists)
		checkDevice(t, s, d)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		d := fullDevice("ws-a", "dev-1")
		_, err := s.GetDevice(t.Context(), "ws-a", d.ID)
		wantErr(t, "GetDevice", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, d) })
		wantErr(t, "UpdateDevice", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, "ws-a", d.ID) })
		wantErr(t, "DeleteDevice", err, keystore.ErrNotFound)
		_, err = s.GetDevice(t.Context(), "ws-a", d.ID)
		wantErr(t, "GetDevice after update of a missing device", err, keystore.ErrNotFound)
	})

	t.Run("WorkspaceScoping", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		d := fullDevice("ws-a", "dev-1")
		createDevices(t, s, d)
		for _, ws := range []string{"ws-b", "ws-missing", ""} {
			_, err := s.GetDevice(t.Context(), ws, d.ID)
			wantErr(t, fmt.Sprintf("GetDevice under %q", ws), err, keystore.ErrNotFound)
			moved := d
			moved.WorkspaceID, moved.DisplayName = ws, "hijacked"
			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, moved) })
			wantErr(t, fmt.Sprintf("UpdateDevice under %q", ws), err, keystore.ErrNotFound)
			err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, ws, d.ID) })
			wantErr(t, fmt.Sprintf("DeleteDevice under %q", ws), err, keystore.ErrNotFound)
		}
		checkDevice(t, s, d)
	})

	// Device ids are chosen by the operator, so each workspace has its own
	// id space: the same id in two workspaces is two independent devices.
	t.Run("SameIDInTwoWorkspaces", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		a, b := fullDevice("ws-a", "dev-1"), fullDevice("ws-b", "dev-1")
		b.DisplayName, b.Tags = "in b", map[string]string{"site": "paris"}
		createDevices(t, s, a, b)
		checkDevice(t, s, a)
		checkDevice(t, s, b)
		b.DisplayName = "b renamed"
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.UpdateDevice(ctx, b) })
		checkDevice(t, s, a)
		checkDevice(t, s, b)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, "ws-a", "dev-1") })
		_, err := s.GetDevice(t.Context(), "ws-a", "dev-1")
		wantErr(t, "GetDevice deleted in ws-a", err, keystore.ErrNotFound)
		checkDevice(t, s, b)
	})

	t.Run("Delete", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		d, other := fullDevice("ws-a", "dev-1"), fullDevice("ws-a", "dev-2")
		createDevices(t, s, d, other)
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, "ws-a", d.ID) })
		_, err := s.GetDevice(t.Context(), "ws-a", d.ID)
		wantErr(t, "GetDevice after delete", err, keystore.ErrNotFound)
		err = tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, "ws-a", d.ID) })
		wantErr(t, "second DeleteDevice", err, keystore.ErrNotFound)
		checkDevice(t, s, other)
		// A workspace whose last device is gone can be deleted without cascade.
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteDevice(ctx, "ws-a", other.ID) })
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-a", false) })
	})

	t.Run("ListOrderAndPaging", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		// Byte order: upper case before lower case, '.' before digits.
		ids := []string{"b", "B", "a10", "a2", "a.1", "A-1", "z", "a1"}
		var devs []keystore.Device
		for i, id := range ids {
			devs = append(devs, keystore.Device{WorkspaceID: []string{"ws-a", "ws-b"}[i%2], ID: id})
		}
		createDevices(t, s, shuffled(devs)...)
		all := sortedIDs(ids, false)
		var inB []string
		for _, d := range devs {
			if d.WorkspaceID == "ws-b" {
				inB = append(inB, d.ID)
			}
		}
		inB = sortedIDs(inB, false)
		list, err := s.ListDevices(t.Context(), keystore.DeviceQuery{})
		noErr(t, "ListDevices", err)
		equalIDs(t, "ListDevices order", idsOf(list, deviceID), all)
		for limit := 1; limit <= len(ids)+1; limit++ {
			got := pageThrough(t, limit, len(ids), func(p keystore.Page) ([]keystore.Device, error) {
				return s.ListDevices(t.Context(), keystore.DeviceQuery{Page: p})
			}, deviceID)
			equalIDs(t, fmt.Sprintf("paging all with limit %d", limit), got, all)
			got = pageThrough(t, limit, len(inB), func(p keystore.Page) ([]keystore.Device, error) {
				return s.ListDevices(t.Context(), keystore.DeviceQuery{Page: p, WorkspaceID: "ws-b"})
			}, deviceID)
			equalIDs(t, fmt.Sprintf("paging ws-b with limit %d", limit), got, inB)
		}
	})

	t.Run("ListFilters", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		createDevices(t, s, shuffled([]keystore.Device{
			{WorkspaceID: "ws-a", ID: "A-1", Tags: map[string]string{"site": "berlin", "line": "1"}},
			{WorkspaceID: "ws-a", ID: "B-2", Tags: map[string]string{"site": "berlin", "line": "2"}},
			{WorkspaceID: "ws-a", ID: "a_3", Tags: map[string]string{"site": "paris", "line": "1"}},
			{WorkspaceID: "ws-a", ID: "aX3"},
			{WorkspaceID: "ws-a", ID: "a.4", Tags: map[string]string{"site": "berlin", "line": "1", "x.k-y": "v"}},
			{WorkspaceID: "ws-b", ID: "c-9", Tags: map[string]string{"site": "berlin", "line": "1"}},
		})...)
		tags := func(kv ...string) []keystore.Tag {
			var out []keystore.Tag
			for i := 0; i < len(kv); i += 2 {
				out = append(out, keystore.Tag{Key: kv[i], Value: kv[i+1]})
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    keystore.DeviceQuery
			want []string
		}{
			{"None", keystore.DeviceQuery{}, []string{"A-1", "B-2", "a.4", "aX3", "a_3", "c-9"}},
			{"EmptyTags", keystore.DeviceQuery{Tags: []keystore.Tag{}}, []string{"A-1", "B-2", "a.4", "aX3", "a_3", "c-9"}},
			{"Workspace", keystore.DeviceQuery{WorkspaceID: "ws-b"}, []string{"c-9"}},
			{"UnknownWorkspace", keystore.DeviceQuery{WorkspaceID: "ws-x"}, nil},
			{"OneTag", keystore.DeviceQuery{WorkspaceID: "ws-a", Tags: tags("site", "berlin")}, []string{"A-1", "B-2", "a.4"}},
			{"AllTagsMustMatch", keystore.DeviceQuery{WorkspaceID: "ws-a", Tags: tags("site", "berlin", "line", "1")}, []string{"A-1", "a.4"}},
			{"AllTagsAcrossWorkspaces", keystore.DeviceQuery{Tags: tags("line", "1", "site", "berlin")}, []string{"A-1", "a.4", "c-9"}},
			{"OneTagMissing", keystore.DeviceQuery{Tags: tags("site", "berlin", "line", "3")}, nil},
			{"TagKeyWithDotAndDash", keystore.DeviceQuery{Tags: tags("x.k-y", "v")}, []string{"a.4"}},
			{"TagValueCaseSensitive", keystore.DeviceQuery{Tags: tags("site", "Berlin")}, nil},
			{"IDPrefix", keystore.DeviceQuery{IDPrefix: "a"}, []string{"a.4", "aX3", "a_3"}},
			{"IDPrefixUnderscoreIsLiteral", keystore.DeviceQuery{IDPrefix: "a_"}, []string{"a_3"}},
			{"IDPrefixCaseSensitive", keystore.DeviceQuery{IDPrefix: "A"}, []string{"A-1"}},
			{"IDPrefixWholeID", keystore.DeviceQuery{IDPrefix: "a.4"}, []string{"a.4"}},
			{"IDPrefixNoMatch", keystore.DeviceQuery{IDPrefix: "a.45"}, nil},
			{"Combined", keystore.DeviceQuery{WorkspaceID: "ws-a", IDPrefix: "a", Tags: tags("site", "berlin")}, []string{"a.4"}},
			{"FilterWithPage", keystore.DeviceQuery{Tags: tags("site", "berlin"), Page: keystore.Page{After: "A-1", Limit: 2}}, []string{"B-2", "a.4"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				list, err := s.ListDevices(t.Context(), tc.q)
				noErr(t, "ListDevices", err)
				equalIDs(t, "ListDevices", idsOf(list, deviceID), tc.want)
			})
		}
	})
}
