package main

import (
	"context"
	"strings"
	"testing"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// An owner's session with users: add members (one with a generated
// password, printed once), list them, change a role, disable and enable,
// remove and delete; a signed-in user's access token works as the
// credential, and whoami says who it is.
func TestCLIUsers(t *testing.T) {
	s := newSession(t)
	var created ingestgatev1.CreateUserResponse
	s.json(&created, "users", "create", "--email", "Ada@Example.com", "--name", "Ada", "--role", "owner")
	password := created.GetInitialPassword()
	if created.GetUser().GetEmail() != "ada@example.com" || created.GetUser().GetRole() != ingestgatev1.Role_ROLE_OWNER || len(password) < 20 {
		t.Fatalf("create: %v", &created)
	}
	viewer := s.with(envUserPassword, "a long enough password").ok("users", "create", "--email", "bo@example.com", "--role", "viewer")
	if f := fields(viewer); f["Role"] != "viewer" || f["Status"] != "active" {
		t.Fatalf("create viewer:\n%s", viewer)
	}
	boID := fields(viewer)["ID"]
	s.fails(2, `error: --role "boss": want owner, admin or viewer`, "users", "create", "--email", "x@example.com", "--role", "boss")

	list := s.ok("users", "list")
	if ids := tableIDs(list); len(ids) != 2 {
		t.Fatalf("users list:\n%s", list)
	}
	if f := fields(s.ok("users", "set-role", boID, "--role", "admin")); f["Role"] != "admin" {
		t.Fatal("set-role did not change the role")
	}
	if f := fields(s.ok("users", "disable", boID)); f["Status"] != "disabled" {
		t.Fatal("disable did not disable")
	}
	if f := fields(s.ok("users", "enable", boID)); f["Status"] != "active" {
		t.Fatal("enable did not enable")
	}

	// Ada signs in; her access token is a credential for ingestctl.
	pair, err := ingestgatev1.NewAuthServiceClient(s.node.Conn).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "ada@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	ada := s.with(envAPIKey, pair.GetAccessToken())
	who := ada.ok("whoami")
	if f := fields(who); f["Email"] != "ada@example.com" || f["Workspace default"] != "owner" || !strings.HasPrefix(f["Actor"], "user:usr_") {
		t.Fatalf("whoami:\n%s", who)
	}
	ada.ok("users", "remove", boID)
	s.fails(1, `error: NotFound: user "`+boID+`" not found`, "users", "get", boID)
	s.ok("users", "create", "--email", "bo@example.com", "--role", "viewer") // the account remains: re-added
	ada.ok("users", "delete", boID)
	s.fails(1, `error: NotFound: user "`+boID+`" not found`, "users", "get", boID)
	s.checkSecrets(password)
}
