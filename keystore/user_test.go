package keystore

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"  Ada@Example.COM ":     "ada@example.com",
		"a.b+tag@sub.example.io": "a.b+tag@sub.example.io",
	} {
		got, err := NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ada", "@example.com", "ada@", "ada@example", "a@b@example.com", "ada @example.com", "ada@example.com.", "ada\x00@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NormalizeEmail(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	if err := ValidatePassword("correct horse"); err != nil {
		t.Fatal(err)
	}
	// Length counts characters, not bytes: 12 characters of 2 bytes pass.
	if err := ValidatePassword(strings.Repeat("é", 12)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("x", 11), strings.Repeat("x", MaxPasswordLen+1)} {
		if err := ValidatePassword(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ValidatePassword(len %d) = %v, want ErrInvalidArgument", len(bad), err)
		}
	}
}

func TestRoles(t *testing.T) {
	if !RoleAllows(RoleOwner, PermUsersWrite) || RoleAllows(RoleAdmin, PermUsersWrite) {
		t.Fatal("only owners manage membership")
	}
	if !RoleAllows(RoleAdmin, PermKeysWrite) || RoleAllows(RoleViewer, PermKeysWrite) {
		t.Fatal("admins write keys, viewers do not")
	}
	for _, r := range []Role{RoleOwner, RoleAdmin, RoleViewer} {
		if RoleAllows(r, PermAdmin) {
			t.Fatalf("%v grants the global admin permission", r)
		}
		if err := ValidateRole(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ValidateRole(0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ROLE_UNSPECIFIED: %v", err)
	}
}
