package keystore

import (
	"errors"
	"testing"
	"time"
)

func TestCredentialTransitions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	active := func() Credential { return Credential{Hash: Hash{1}, DisplayPrefix: "p1", Status: StatusActive} }
	revoked := func() Credential { c := active(); _ = c.Revoke("x", now); return c }
	tests := []struct {
		name       string
		start      Credential
		op         func(c *Credential) (bool, error)
		want       Status
		changed    bool
		transition bool // want ErrInvalidTransition
	}{
		{"deactivate active", active(), (*Credential).Deactivate, StatusInactive, true, false},
		{"deactivate inactive", Credential{Status: StatusInactive}, (*Credential).Deactivate, StatusInactive, false, false},
		{"deactivate revoked", revoked(), (*Credential).Deactivate, StatusRevoked, false, true},
		{"activate inactive", Credential{Status: StatusInactive}, (*Credential).Activate, StatusActive, true, false},
		{"activate active", active(), (*Credential).Activate, StatusActive, false, false},
		{"activate revoked", revoked(), (*Credential).Activate, StatusRevoked, false, true},
		{"revoke revoked", revoked(), func(c *Credential) (bool, error) { return false, c.Revoke("again", now) }, StatusRevoked, false, true},
		{"rotate revoked", revoked(), func(c *Credential) (bool, error) { return false, c.Rotate(Hash{9}, "p9", time.Hour, now) }, StatusRevoked, false, true},
		{"update revoked", revoked(), func(c *Credential) (bool, error) { return false, c.CheckUpdatable() }, StatusRevoked, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.start
			changed, err := tt.op(&c)
			if tt.transition != errors.Is(err, ErrInvalidTransition) {
				t.Fatalf("err = %v, want transition error: %v", err, tt.transition)
			}
			if !tt.transition && err != nil {
				t.Fatal(err)
			}
			if c.Status != tt.want || changed != tt.changed {
				t.Fatalf("status %v changed %v, want %v %v", c.Status, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestCredentialRotateAndRevoke(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := Credential{Hash: Hash{1}, DisplayPrefix: "p1", Status: StatusActive}
	if err := c.Rotate(Hash{2}, "p2", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if c.Hash != (Hash{2}) || c.PreviousHash != (Hash{1}) || c.PreviousDisplayPrefix != "p1" || !c.PreviousExpireTime.Equal(now.Add(time.Hour)) {
		t.Fatalf("after rotate with grace: %+v", c)
	}
	// A second rotation replaces the previous secret: only one is kept.
	if err := c.Rotate(Hash{3}, "p3", 0, now); err != nil {
		t.Fatal(err)
	}
	if c.Hash != (Hash{3}) || !c.PreviousHash.IsZero() || !c.PreviousExpireTime.IsZero() {
		t.Fatalf("after rotate without grace: %+v", c)
	}
	_ = c.Rotate(Hash{4}, "p4", time.Hour, now)
	if err := c.Revoke("leaked", now); err != nil {
		t.Fatal(err)
	}
	if c.Status != StatusRevoked || c.RevokeReason != "leaked" || !c.RevokeTime.Equal(now) || !c.PreviousHash.IsZero() {
		t.Fatalf("revoke must end any grace period: %+v", c)
	}
}

func TestScopeAdmits(t *testing.T) {
	s := Scope{DeviceIDs: []string{"d1"}, Tags: []Tag{{"site", "berlin"}, {"fleet", "a"}}}
	for _, tt := range []struct {
		id   string
		tags map[string]string
		want bool
	}{
		{"d1", nil, true},
		{"d2", nil, false},
		{"d2", map[string]string{"site": "berlin"}, true},
		{"d2", map[string]string{"site": "paris", "fleet": "a"}, true},
		{"d2", map[string]string{"site": "paris", "fleet": "b"}, false},
		{"d2", map[string]string{"berlin": "site"}, false},
	} {
		if got := s.Admits(tt.id, tt.tags); got != tt.want {
			t.Errorf("Admits(%q, %v) = %v", tt.id, tt.tags, got)
		}
	}
	if !(Scope{AllDevices: true}).Admits("anything", nil) {
		t.Error("all devices must admit any device")
	}
}

func TestNormalizeScope(t *testing.T) {
	bad := []Scope{
		{},
		{AllDevices: true, DeviceIDs: []string{"d"}},
		{DeviceIDs: []string{"bad id"}},
		{Tags: []Tag{{"", "v"}}},
		{Tags: []Tag{{"k", ""}}},
	}
	for _, s := range bad {
		if _, err := NormalizeScope(s); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NormalizeScope(%+v) = %v, want invalid", s, err)
		}
	}
	got, err := NormalizeScope(Scope{DeviceIDs: []string{"b", "a", "b"}, Tags: []Tag{{"k", "v"}, {"k", "v"}}})
	if err != nil || len(got.DeviceIDs) != 2 || got.DeviceIDs[0] != "a" || len(got.Tags) != 1 {
		t.Fatalf("NormalizeScope = %+v, %v", got, err)
	}
}

func TestValidate(t *testing.T) {
	for _, id := range []string{"default", "ws-1", "ab"} {
		if err := ValidateWorkspaceID(id); err != nil {
			t.Errorf("ValidateWorkspaceID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a", "1abc", "Upper", "has_underscore", string(make([]byte, 64))} {
		if ValidateWorkspaceID(id) == nil {
			t.Errorf("ValidateWorkspaceID(%q) accepted", id)
		}
	}
	for _, id := range []string{"", "has space", "slash/", string(make([]byte, 129))} {
		if ValidateDeviceID(id) == nil {
			t.Errorf("ValidateDeviceID(%q) accepted", id)
		}
	}
	if ValidateText("name", "a\x00b", 10, true) == nil || ValidateText("name", "  ", 10, true) == nil || ValidateText("name", "\xff", 10, false) == nil {
		t.Error("ValidateText accepted bad text")
	}
	if _, err := ValidatePermissions([]string{"admin"}, []string{"ws"}); err == nil {
		t.Error("admin bound to a workspace accepted")
	}
	if _, err := ValidatePermissions([]string{"keys:delete"}, nil); err == nil {
		t.Error("unknown permission accepted")
	}
	if err := ValidateRecordID("ingest key", "ik_", NewID("ik_")); err != nil {
		t.Errorf("NewID does not validate: %v", err)
	}
}
