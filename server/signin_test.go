package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "modernc.org/sqlite"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

const testPassword = "correct horse battery"

// bearer is a context carrying an access token.
func bearer(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

func authClient(n *servertest.Node) ingestgatev1.AuthServiceClient {
	return ingestgatev1.NewAuthServiceClient(n.Conn)
}

func usersClient(n *servertest.Node) ingestgatev1.UserServiceClient {
	return ingestgatev1.NewUserServiceClient(n.Conn)
}

// newUser adds email to workspace ws with role, as the admin API key.
func newUser(t *testing.T, n *servertest.Node, ws, email string, role ingestgatev1.Role) *ingestgatev1.User {
	t.Helper()
	r, err := usersClient(n).CreateUser(adminCtx(n), &ingestgatev1.CreateUserRequest{
		WorkspaceId: ws, User: &ingestgatev1.User{Email: email, DisplayName: "Test " + role.String(), Role: role}, Password: testPassword,
	})
	check(t, "create user "+email, err)
	return r.GetUser()
}

func login(t *testing.T, n *servertest.Node, email string) *ingestgatev1.LoginResponse {
	t.Helper()
	r, err := authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: email, Password: testPassword})
	check(t, "login "+email, err)
	return r
}

func wantStatus(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("%s: %v %q, want %v with %q", what, st.Code(), st.Message(), code, msg)
	}
}

// Login, call with the access token, refresh; the spent refresh token used
// again is refused and takes down its whole family, including the pair the
// legitimate refresh returned.
func TestLoginRefreshReuse(t *testing.T) {
	n := servertest.Start(t)
	newUser(t, n, ws, "ada@example.com", ingestgatev1.Role_ROLE_ADMIN)
	first := login(t, n, "  Ada@Example.com ")
	if first.GetTokenType() != "Bearer" || first.GetExpiresIn() != 4*3600 || first.GetRefreshToken() == "" {
		t.Fatalf("login response %+v", first)
	}
	keys := ingestgatev1.NewIngestKeyServiceClient(n.Conn)
	_, err := keys.ListIngestKeys(bearer(first.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "list keys with the access token", err)

	second, err := authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: first.GetRefreshToken()})
	check(t, "refresh", err)
	if second.GetRefreshToken() == first.GetRefreshToken() || second.GetAccessToken() == "" {
		t.Fatal("refresh did not rotate the refresh token")
	}
	_, err = keys.ListIngestKeys(bearer(second.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "list keys with the refreshed access token", err)

	_, err = authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: first.GetRefreshToken()})
	wantStatus(t, "reusing the spent refresh token", err, codes.Unauthenticated, "already used")
	_, err = authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: second.GetRefreshToken()})
	wantStatus(t, "the family's newest refresh token after the reuse", err, codes.Unauthenticated, "Invalid credentials")
	// The access token the copier may hold dies with it.
	_, err = keys.ListIngestKeys(bearer(second.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	wantStatus(t, "an access token issued before the reuse", err, codes.Unauthenticated, "session ended")

	// Another sign-in is another family, unaffected; logout ends it.
	other := login(t, n, "ada@example.com")
	_, err = authClient(n).Logout(context.Background(), &ingestgatev1.LogoutRequest{RefreshToken: other.GetRefreshToken()})
	check(t, "logout", err)
	_, err = authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: other.GetRefreshToken()})
	wantStatus(t, "refresh after logout", err, codes.Unauthenticated, "session ended")
}

func TestExpiredAccessToken(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.AccessTokenTTL = time.Second })
	newUser(t, n, ws, "bo@example.com", ingestgatev1.Role_ROLE_VIEWER)
	tok := login(t, n, "bo@example.com").GetAccessToken()
	time.Sleep(1100 * time.Millisecond)
	code, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/ingestKeys", map[string]string{"Authorization": "Bearer " + tok}, nil)
	if code != 401 || !strings.Contains(string(body), "Token expired") {
		t.Fatalf("expired access token: %d %s, want 401 with Token expired", code, body)
	}
	// A forged token (signature broken) is invalid, not expired.
	forged := tok[:len(tok)-4] + "AAAA"
	if forged == tok {
		forged = tok[:len(tok)-4] + "BBBB"
	}
	code, body = restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/ingestKeys", map[string]string{"Authorization": "Bearer " + forged}, nil)
	if code != 401 || !strings.Contains(string(body), "Invalid credentials") {
		t.Fatalf("forged token: %d %s", code, body)
	}
}

func TestRolesAndWorkspaceIsolation(t *testing.T) {
	n := servertest.Start(t)
	_, err := ingestgatev1.NewWorkspaceServiceClient(n.Conn).CreateWorkspace(adminCtx(n), &ingestgatev1.CreateWorkspaceRequest{Workspace: &ingestgatev1.Workspace{Id: "other"}})
	check(t, "create workspace other", err)
	newUser(t, n, ws, "viewer@example.com", ingestgatev1.Role_ROLE_VIEWER)
	newUser(t, n, ws, "admin@example.com", ingestgatev1.Role_ROLE_ADMIN)
	newUser(t, n, "other", "stranger@example.com", ingestgatev1.Role_ROLE_OWNER)
	viewer := bearer(login(t, n, "viewer@example.com").GetAccessToken())
	admin := bearer(login(t, n, "admin@example.com").GetAccessToken())
	stranger := bearer(login(t, n, "stranger@example.com").GetAccessToken())
	keys := ingestgatev1.NewIngestKeyServiceClient(n.Conn)
	create := &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: ws, IngestKey: &ingestgatev1.IngestKey{Name: "by a user"}}

	_, err = keys.CreateIngestKey(viewer, create)
	wantStatus(t, "viewer creates a key", err, codes.PermissionDenied, "Insufficient permissions")
	code, body := restDo(t, n.BaseURL(), "POST", "/v1/workspaces/default/ingestKeys", map[string]string{"Authorization": "Bearer " + login(t, n, "viewer@example.com").GetAccessToken()}, `{"name":"x"}`)
	if code != 403 || !strings.Contains(string(body), "Insufficient permissions") {
		t.Fatalf("viewer over REST: %d %s", code, body)
	}
	_, err = keys.ListIngestKeys(viewer, &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "viewer lists keys", err)
	created, err := keys.CreateIngestKey(admin, create)
	check(t, "admin creates a key", err)
	_, err = usersClient(n).CreateUser(admin, &ingestgatev1.CreateUserRequest{WorkspaceId: ws, User: &ingestgatev1.User{Email: "x@example.com", Role: ingestgatev1.Role_ROLE_VIEWER}})
	wantStatus(t, "admin adds a member", err, codes.PermissionDenied, "users:write")

	// The owner of "other" sees nothing of "default".
	_, err = keys.GetIngestKey(stranger, &ingestgatev1.GetIngestKeyRequest{WorkspaceId: ws, KeyId: created.GetIngestKey().GetId()})
	wantStatus(t, "stranger reads a key of default", err, codes.PermissionDenied, "Insufficient permissions")
	_, err = usersClient(n).ListUsers(stranger, &ingestgatev1.ListUsersRequest{WorkspaceId: ws})
	wantStatus(t, "stranger lists default's users", err, codes.PermissionDenied, "Insufficient permissions")
	wss, err := ingestgatev1.NewWorkspaceServiceClient(n.Conn).ListWorkspaces(stranger, &ingestgatev1.ListWorkspacesRequest{})
	check(t, "stranger lists workspaces", err)
	if len(wss.GetWorkspaces()) != 1 || wss.GetWorkspaces()[0].GetId() != "other" {
		t.Fatalf("stranger sees workspaces %v, want only other", wss.GetWorkspaces())
	}
	_, err = usersClient(n).GetUser(stranger, &ingestgatev1.GetUserRequest{WorkspaceId: "other", UserId: created.GetIngestKey().GetId()})
	wantStatus(t, "a key id as a user id", err, codes.InvalidArgument, "user id")
	// An owner elsewhere cannot pull an existing account into their
	// workspace (they could then pin it against its own owners).
	_, err = usersClient(n).CreateUser(stranger, &ingestgatev1.CreateUserRequest{WorkspaceId: "other", User: &ingestgatev1.User{Email: "viewer@example.com", Role: ingestgatev1.Role_ROLE_VIEWER}})
	wantStatus(t, "stranger adds default's viewer to other", err, codes.PermissionDenied, "Insufficient permissions")
	me, err := authClient(n).GetCurrentPrincipal(stranger, &ingestgatev1.GetCurrentPrincipalRequest{})
	check(t, "who am I", err)
	if me.GetUser().GetEmail() != "stranger@example.com" || len(me.GetMemberships()) != 1 || me.GetMemberships()[0].GetRole() != ingestgatev1.Role_ROLE_OWNER || !slices.Contains(me.GetMemberships()[0].GetPermissions(), "users:write") {
		t.Fatalf("current principal %v", me)
	}
}

// Disabling a user refuses their access token at once and their refresh
// token too; enabling lets them sign in again, but old tokens stay dead.
func TestDisablingAUserEndsAccess(t *testing.T) {
	n := servertest.Start(t)
	u := newUser(t, n, ws, "cy@example.com", ingestgatev1.Role_ROLE_ADMIN)
	pair := login(t, n, "cy@example.com")
	keys := ingestgatev1.NewIngestKeyServiceClient(n.Conn)
	_, err := keys.ListIngestKeys(bearer(pair.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "before", err)
	setDisabled := func(v bool) {
		_, err := usersClient(n).UpdateUser(adminCtx(n), &ingestgatev1.UpdateUserRequest{WorkspaceId: ws, User: &ingestgatev1.User{Id: u.GetId(), Disabled: v}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}})
		check(t, "set disabled", err)
	}
	setDisabled(true)
	_, err = keys.ListIngestKeys(bearer(pair.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	wantStatus(t, "access token of a disabled user", err, codes.Unauthenticated, "Invalid credentials")
	_, err = authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: pair.GetRefreshToken()})
	wantStatus(t, "refresh token of a disabled user", err, codes.Unauthenticated, "Invalid credentials")
	_, err = authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "cy@example.com", Password: testPassword})
	wantStatus(t, "login of a disabled user", err, codes.Unauthenticated, "Invalid credentials")
	setDisabled(false)
	_, err = keys.ListIngestKeys(bearer(pair.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	wantStatus(t, "an access token from before the disabling", err, codes.Unauthenticated, "session ended")
	again := login(t, n, "cy@example.com")
	_, err = keys.ListIngestKeys(bearer(again.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "after enabling and signing in again", err)
}

// Over REST: the JSON shape of a login, 401 with the same words for an
// unknown email and a wrong password, and the 16th attempt for one email
// within a minute refused with 429 and Retry-After.
func TestLoginOverRESTAndItsRateLimit(t *testing.T) {
	n := servertest.Start(t)
	newUser(t, n, ws, "dee@example.com", ingestgatev1.Role_ROLE_VIEWER)
	code, body := restDo(t, n.BaseURL(), "POST", "/v1/auth/login", nil, map[string]string{"email": "dee@example.com", "password": testPassword})
	var pair map[string]any
	if err := json.Unmarshal(body, &pair); code != 200 || err != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	if pair["token_type"] != "Bearer" || pair["expires_in"] != float64(14400) || pair["access_token"] == "" || pair["refresh_token"] == "" {
		t.Fatalf("login body %s", body)
	}
	code, body = restDo(t, n.BaseURL(), "POST", "/v1/auth/refresh", nil, map[string]string{"refresh_token": pair["refresh_token"].(string)})
	if code != 200 || !strings.Contains(string(body), "access_token") {
		t.Fatalf("refresh: %d %s", code, body)
	}
	_, wrong := restDo(t, n.BaseURL(), "POST", "/v1/auth/login", nil, map[string]string{"email": "dee@example.com", "password": "not the password"})
	_, unknown := restDo(t, n.BaseURL(), "POST", "/v1/auth/login", nil, map[string]string{"email": "nobody@example.com", "password": "not the password"})
	var w, u struct{ Message string }
	json.Unmarshal(wrong, &w)
	json.Unmarshal(unknown, &u)
	if w.Message != "Invalid credentials" || u.Message != w.Message {
		t.Fatalf("wrong password %q vs unknown email %q: want the same Invalid credentials", w.Message, u.Message)
	}
	// Attempts 1 (the login above) and 2 (the wrong password) are spent;
	// 13 more are admitted, the 16th is refused.
	for i := 3; i <= 15; i++ {
		if code, body := restDo(t, n.BaseURL(), "POST", "/v1/auth/login", nil, map[string]string{"email": "Dee@example.com", "password": "not the password"}); code != 401 {
			t.Fatalf("attempt %d: %d %s", i, code, body)
		}
	}
	resp := restResponse(t, n.BaseURL(), "POST", "/v1/auth/login", `{"email":"dee@example.com","password":"`+testPassword+`"}`)
	if resp.code != 429 || resp.header.Get("Retry-After") == "" {
		t.Fatalf("16th login for one email: %d, Retry-After %q, %s", resp.code, resp.header.Get("Retry-After"), resp.body)
	}
	// Another email from the same address is still admitted.
	newUser(t, n, ws, "eve@example.com", ingestgatev1.Role_ROLE_VIEWER)
	login(t, n, "eve@example.com")
}

// The stored password is an argon2id hash, and neither the password nor any
// token appears in what the node logged.
func TestPasswordsAndTokensStaySecret(t *testing.T) {
	n := servertest.Start(t)
	newUser(t, n, ws, "fay@example.com", ingestgatev1.Role_ROLE_OWNER)
	pair := login(t, n, "fay@example.com")
	refreshed, err := authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: pair.GetRefreshToken()})
	check(t, "refresh", err)
	authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: pair.GetRefreshToken()}) // reuse: logged as a warning
	authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "fay@example.com", Password: "wrong " + testPassword})
	// The reuse ended every access token; sign in again to change it.
	again := login(t, n, "fay@example.com")
	_, err = authClient(n).ChangePassword(bearer(again.GetAccessToken()), &ingestgatev1.ChangePasswordRequest{CurrentPassword: testPassword, NewPassword: "an even better passphrase"})
	check(t, "change password", err)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(n.DataDir, "ingestgate.db")+"?mode=ro")
	check(t, "open the store", err)
	defer db.Close()
	var hash string
	check(t, "read the hash", db.QueryRow("SELECT password_hash FROM users WHERE email = 'fay@example.com'").Scan(&hash))
	if !strings.HasPrefix(hash, "$argon2id$v=19$") || strings.Contains(hash, "horse") {
		t.Fatalf("stored password hash %q is not argon2id", hash)
	}
	n.Stop()
	logs := n.Logs.String()
	for name, secret := range map[string]string{
		"password": testPassword, "new password": "an even better passphrase",
		"access token": pair.GetAccessToken(), "refresh token": pair.GetRefreshToken(),
		"refreshed access token": refreshed.GetAccessToken(), "refreshed refresh token": refreshed.GetRefreshToken(),
		"second access token": again.GetAccessToken(), "second refresh token": again.GetRefreshToken(),
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

type restResult struct {
	code   int
	header http.Header
	body   string
}

// restResponse makes a JSON request and keeps the response headers.
func restResponse(t *testing.T, base, method, path, body string) restResult {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	check(t, "request", err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := servertest.HTTPClient.Do(req)
	check(t, method+" "+path, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return restResult{resp.StatusCode, resp.Header, string(raw)}
}

// A cluster signs users in as one: a token from A works on B, a refresh
// through B continues A's sign-in, and disabling the user through A ends
// the session on B (the bus drops B's cached user).
func TestClusterSignIn(t *testing.T) {
	nodes := startCluster(t, 2, servertest.RedisURL(t))
	a, b := nodes[0], nodes[1]
	u := newUser(t, a, ws, "gus@example.com", ingestgatev1.Role_ROLE_ADMIN)
	pair := login(t, a, "gus@example.com")
	keysB := ingestgatev1.NewIngestKeyServiceClient(b.Conn)
	_, err := keysB.ListIngestKeys(bearer(pair.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "A's access token on B", err)
	next, err := authClient(b).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: pair.GetRefreshToken()})
	check(t, "refresh A's sign-in through B", err)
	_, err = ingestgatev1.NewIngestKeyServiceClient(a.Conn).ListIngestKeys(bearer(next.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "B's access token on A", err)

	// The per-email sign-in limit is one budget across the nodes: one login
	// so far, 14 more wrong ones spread over A and B, the 16th refused.
	for i := range 14 {
		_, err := authClient(nodes[i%2]).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "gus@example.com", Password: "wrong password"})
		wantStatus(t, "wrong password", err, codes.Unauthenticated, "Invalid credentials")
	}
	_, err = authClient(b).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "gus@example.com", Password: testPassword})
	wantStatus(t, "16th sign-in for one email across the cluster", err, codes.ResourceExhausted, "too many sign-in attempts for this email")

	_, err = usersClient(a).UpdateUser(adminCtx(a), &ingestgatev1.UpdateUserRequest{WorkspaceId: ws, User: &ingestgatev1.User{Id: u.GetId(), Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}})
	check(t, "disable through A", err)
	deadline := time.Now().Add(waitFor)
	for {
		_, err = keysB.ListIngestKeys(bearer(next.GetAccessToken()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
		if status.Code(err) == codes.Unauthenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still accepts the disabled user's token: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed sign-in takes as long for an email without an account as for a
// wrong password (both run argon2id), so timing does not tell them apart.
func TestFailedLoginTimingHidesUnknownEmails(t *testing.T) {
	n := servertest.Start(t)
	newUser(t, n, ws, "hal@example.com", ingestgatev1.Role_ROLE_VIEWER)
	fail := func(email string) time.Duration {
		start := time.Now()
		_, err := authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: email, Password: "wrong password here"})
		d := time.Since(start)
		wantStatus(t, "failed login", err, codes.Unauthenticated, "Invalid credentials")
		return d
	}
	// Alternated, so the load of whatever else runs on the machine (other
	// packages' tests) weighs on both alike.
	var knownDs, unknownDs []time.Duration
	for range 9 {
		knownDs = append(knownDs, fail("hal@example.com"))
		unknownDs = append(unknownDs, fail("nobody@example.com"))
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	known, unknown := median(knownDs), median(unknownDs)
	t.Logf("median failed login: wrong password %v, unknown email %v", known, unknown)
	if ratio := float64(unknown) / float64(known); ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown email %v vs wrong password %v: timing tells them apart", unknown, known)
	}
}

// INGESTGATE_BOOTSTRAP_EMAIL makes the first owner of a fresh install:
// with a chosen password, or a generated one printed once; a restart
// changes nothing.
func TestBootstrapOwner(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.BootstrapEmail, c.BootstrapPassword = "Root@Example.com", testPassword })
	me, err := authClient(n).GetCurrentPrincipal(bearer(login(t, n, "root@example.com").GetAccessToken()), &ingestgatev1.GetCurrentPrincipalRequest{})
	check(t, "who am I", err)
	if len(me.GetMemberships()) != 1 || me.GetMemberships()[0].GetRole() != ingestgatev1.Role_ROLE_OWNER || me.GetMemberships()[0].GetWorkspaceId() != ws {
		t.Fatalf("bootstrapped owner: %v", me)
	}

	g := servertest.Start(t, func(c *server.Config) { c.BootstrapEmail = "gen@example.com" })
	out := g.Logs.String()
	i := strings.Index(out, "sign in and change it:")
	if i < 0 {
		t.Fatalf("no generated password printed:\n%s", out)
	}
	password := strings.Fields(out[i+len("sign in and change it:"):])[0]
	if _, err := authClient(g).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "gen@example.com", Password: password}); err != nil {
		t.Fatalf("login with the printed password: %v", err)
	}
	if strings.Count(out, password) != 1 {
		t.Fatal("the generated password appears more than once in the node's output")
	}
	// Restarting on the same data with other settings adds no one.
	g.Stop()
	again := servertest.Start(t, func(c *server.Config) {
		c.DataDir, c.BootstrapAPIKey, c.BootstrapEmail = g.DataDir, g.AdminKey, "late@example.com"
	})
	users, err := usersClient(again).ListUsers(adminCtx(again), &ingestgatev1.ListUsersRequest{WorkspaceId: ws})
	check(t, "list users", err)
	if len(users.GetUsers()) != 1 || users.GetUsers()[0].GetEmail() != "gen@example.com" {
		t.Fatalf("after a restart with another bootstrap email: %v", users.GetUsers())
	}
}

// Guessing the current password with a stolen access token is bounded per
// user, however many calls run at once.
func TestChangePasswordGuessesAreLimited(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = 0 })
	newUser(t, n, ws, "ivy@example.com", ingestgatev1.Role_ROLE_VIEWER)
	tok := bearer(login(t, n, "ivy@example.com").GetAccessToken())
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := authClient(n).ChangePassword(tok, &ingestgatev1.ChangePasswordRequest{CurrentPassword: fmt.Sprint("guess number ", i), NewPassword: "attacker chosen password"})
			errs <- err
		}()
	}
	limited := 0
	for range 8 {
		if status.Code(<-errs) == codes.ResourceExhausted {
			limited++
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 8 concurrent guesses refused by the limit, want 3 (5 per minute)", limited)
	}
}
