package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// newAPIKey creates a management key with the given permissions.
func newAPIKey(t *testing.T, n *servertest.Node, perms []string, workspaces ...string) (*ingestgatev1.ApiKey, string) {
	t.Helper()
	r, err := ingestgatev1.NewApiKeyServiceClient(n.Conn).CreateApiKey(servertest.WithKey(context.Background(), n.AdminKey),
		&ingestgatev1.CreateApiKeyRequest{ApiKey: &ingestgatev1.ApiKey{Name: "test", Permissions: perms, WorkspaceIds: workspaces}})
	if err != nil {
		t.Fatalf("create api key: %v", err)
	}
	return r.GetApiKey(), r.GetSecret()
}

// Every management method refuses a call without credentials, whatever the
// request: no method is reachable by forgetting to check.
func TestEveryMethodNeedsCredentials(t *testing.T) {
	// Hundreds of bad credentials from one address: the guard against
	// guessing (guard_test.go) would rightly refuse most of them.
	n := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = 0 })
	services := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("ingestgate.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			if sd.Name() == "TelemetryService" {
				continue // devices authenticate with ingest keys (connect_test.go)
			}
			services++
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				method := "/" + string(sd.FullName()) + "/" + string(md.Name())
				for _, key := range []string{"", "ig_mkv1_garbage", "Bearer"} {
					ctx := context.Background()
					if key != "" {
						ctx = servertest.WithKey(ctx, key)
					}
					want := codes.Unauthenticated
					if method == "/ingestgate.v1.AuthService/Login" {
						// Needs no credential; an empty request lacks an email.
						want = codes.InvalidArgument
					}
					if c := invokeEmpty(ctx, n.Conn, md, method); c != want {
						t.Errorf("%s with key %q: %v, want %v", method, key, c, want)
					}
				}
			}
		}
		return true
	})
	if services != 8 {
		t.Fatalf("checked %d services, want 8", services)
	}
}

func invokeEmpty(ctx context.Context, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, method string) codes.Code {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := dynamicpb.NewMessage(md.Input())
	resp := dynamicpb.NewMessage(md.Output())
	if !md.IsStreamingServer() && !md.IsStreamingClient() {
		return status.Code(conn.Invoke(ctx, method, req, resp))
	}
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: md.IsStreamingServer(), ClientStreams: md.IsStreamingClient()}, method)
	if err != nil {
		return status.Code(err)
	}
	if err := st.SendMsg(req); err != nil {
		return status.Code(err)
	}
	_ = st.CloseSend()
	return status.Code(st.RecvMsg(resp))
}

func TestUnauthenticatedVersusForbidden(t *testing.T) {
	n := servertest.Start(t)
	_, reader := newAPIKey(t, n, []string{"keys:read"})
	get := func(key string) (int, string) {
		st, body := restDo(t, n.BaseURL(), "POST", "/v1/workspaces/default/ingestKeys", map[string]string{"Authorization": "Bearer " + key}, map[string]string{"name": "k"})
		return st, string(body)
	}
	for _, tt := range []struct {
		name, key string
		status    int
		words     string
	}{
		{"missing", "", http.StatusUnauthorized, "Invalid credentials"},
		{"garbage", "nonsense", http.StatusUnauthorized, "Invalid credentials"},
		{"unknown well-formed", mustToken(t), http.StatusUnauthorized, "Invalid credentials"},
		{"lacks keys:write", reader, http.StatusForbidden, "Insufficient permissions"},
	} {
		st, body := get(tt.key)
		if st != tt.status || !strings.Contains(body, tt.words) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, st, body, tt.status, tt.words)
		}
	}
	// The same key may read.
	st, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/ingestKeys", map[string]string{"X-API-Key": reader}, nil)
	if st != http.StatusOK {
		t.Fatalf("reader list: %d %s", st, body)
	}
	// Non-admins cannot manage API keys or workspaces.
	for _, p := range []string{"/v1/apiKeys", "/v1/workspaces"} {
		st, _ := restDo(t, n.BaseURL(), "POST", p, map[string]string{"X-API-Key": reader}, map[string]any{})
		if st != http.StatusForbidden {
			t.Errorf("POST %s as reader: %d, want 403", p, st)
		}
	}
}

func mustToken(t *testing.T) string {
	t.Helper()
	_, tok := newAPIKey(t, servertest.Start(t), []string{"admin"}) // a valid key of another node
	return tok
}

// One workspace's keys cannot be seen or touched through another, and a key
// bound to a workspace cannot act outside it.
func TestTenantIsolation(t *testing.T) {
	n := servertest.Start(t)
	admin := servertest.WithKey(context.Background(), n.AdminKey)
	wsc := ingestgatev1.NewWorkspaceServiceClient(n.Conn)
	for _, id := range []string{"acme", "globex"} {
		if _, err := wsc.CreateWorkspace(admin, &ingestgatev1.CreateWorkspaceRequest{Workspace: &ingestgatev1.Workspace{Id: id}}); err != nil {
			t.Fatal(err)
		}
	}
	api := newGRPCKeys(n, n.AdminKey)
	acmeKey := must(api.create("acme", &ingestgatev1.IngestKey{Name: "acme key"})).of(t).GetIngestKey()

	// Through the other workspace's path, the key does not exist.
	for _, a := range []keysAPI{api, newRESTKeys(t, n, n.AdminKey)} {
		_, c := a.get("globex", acmeKey.GetId())
		wantCode(t, "get across workspaces", c, codes.NotFound)
		_, c = a.revoke("globex", acmeKey.GetId(), "x")
		wantCode(t, "revoke across workspaces", c, codes.NotFound)
		wantCode(t, "delete across workspaces", a.delete("globex", acmeKey.GetId()), codes.NotFound)
		_, c = a.update(&ingestgatev1.IngestKey{WorkspaceId: "globex", Id: acmeKey.GetId(), Name: "x"}, "name")
		wantCode(t, "update across workspaces", c, codes.NotFound)
		if l := must(a.list(&ingestgatev1.ListIngestKeysRequest{WorkspaceId: "globex"})).of(t); len(l.GetIngestKeys()) != 0 {
			t.Fatalf("globex lists acme's keys: %v", l)
		}
	}
	if got := must(api.get("acme", acmeKey.GetId())).of(t); got.GetStatus() != ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE {
		t.Fatalf("acme key changed by calls through globex: %v", got)
	}

	// A key bound to globex cannot act in acme, and sees only globex.
	_, globexOnly := newAPIKey(t, n, []string{"keys:read", "keys:write"}, "globex")
	bound := newGRPCKeys(n, globexOnly)
	_, c := bound.get("acme", acmeKey.GetId())
	wantCode(t, "bound key reads other workspace", c, codes.PermissionDenied)
	_, c = bound.create("acme", &ingestgatev1.IngestKey{Name: "x"})
	wantCode(t, "bound key writes other workspace", c, codes.PermissionDenied)
	must(bound.create("globex", &ingestgatev1.IngestKey{Name: "mine"})).of(t)
	ws, err := wsc.ListWorkspaces(servertest.WithKey(context.Background(), globexOnly), &ingestgatev1.ListWorkspacesRequest{})
	if err != nil || len(ws.GetWorkspaces()) != 1 || ws.GetWorkspaces()[0].GetId() != "globex" {
		t.Fatalf("bound key lists %v, %v; want only globex", ws, err)
	}
	_, err = wsc.GetWorkspace(servertest.WithKey(context.Background(), globexOnly), &ingestgatev1.GetWorkspaceRequest{WorkspaceId: "acme"})
	wantCode(t, "bound key gets other workspace", status.Code(err), codes.PermissionDenied)
}

// Management keys follow the same lifecycle as ingest keys, and the server
// enforces it on every call: rotation grace, expiry, deactivation, revocation.
func TestAPIKeyLifecycleEnforced(t *testing.T) {
	n := servertest.Start(t)
	admin := servertest.WithKey(context.Background(), n.AdminKey)
	akc := ingestgatev1.NewApiKeyServiceClient(n.Conn)
	k, secret := newAPIKey(t, n, []string{"keys:read"})
	canRead := func(tok string) codes.Code {
		_, c := newGRPCKeys(n, tok).list(&ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
		return c
	}
	wantCode(t, "new key", canRead(secret), codes.OK)

	rot, err := akc.RotateApiKey(admin, &ingestgatev1.RotateApiKeyRequest{ApiKeyId: k.GetId(), GracePeriod: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "old secret in grace", canRead(secret), codes.OK)
	wantCode(t, "new secret", canRead(rot.GetSecret()), codes.OK)
	rot2, err := akc.RotateApiKey(admin, &ingestgatev1.RotateApiKeyRequest{ApiKeyId: k.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "first secret after second rotation", canRead(secret), codes.Unauthenticated)
	wantCode(t, "second secret after zero-grace rotation", canRead(rot.GetSecret()), codes.Unauthenticated)
	current := rot2.GetSecret()
	wantCode(t, "current secret", canRead(current), codes.OK)

	if _, err := akc.DeactivateApiKey(admin, &ingestgatev1.DeactivateApiKeyRequest{ApiKeyId: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "inactive", canRead(current), codes.Unauthenticated)
	if _, err := akc.ActivateApiKey(admin, &ingestgatev1.ActivateApiKeyRequest{ApiKeyId: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "reactivated", canRead(current), codes.OK)
	if _, err := akc.RevokeApiKey(admin, &ingestgatev1.RevokeApiKeyRequest{ApiKeyId: k.GetId(), Reason: "leaked"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "revoked", canRead(current), codes.Unauthenticated)
	_, err = akc.ActivateApiKey(admin, &ingestgatev1.ActivateApiKeyRequest{ApiKeyId: k.GetId()})
	wantCode(t, "activate revoked", status.Code(err), codes.FailedPrecondition)

	// Expiry is judged on every call, cached or not.
	exp, err := akc.CreateApiKey(admin, &ingestgatev1.CreateApiKeyRequest{ApiKey: &ingestgatev1.ApiKey{
		Name: "short", Permissions: []string{"keys:read"}, ExpireTime: timestamppb.New(time.Now().Add(1500 * time.Millisecond)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "before expiry", canRead(exp.GetSecret()), codes.OK)
	time.Sleep(time.Until(exp.GetApiKey().GetExpireTime().AsTime()) + 50*time.Millisecond)
	_, err = newGRPCKeys(n, exp.GetSecret()).(*grpcKeys).c.ListIngestKeys(servertest.WithKey(context.Background(), exp.GetSecret()), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "expired") {
		t.Fatalf("after expiry: %v, want Unauthenticated mentioning expiry", err)
	}
}

func TestAPIKeyValidation(t *testing.T) {
	n := servertest.Start(t)
	akc := ingestgatev1.NewApiKeyServiceClient(n.Conn)
	admin := servertest.WithKey(context.Background(), n.AdminKey)
	for name, k := range map[string]*ingestgatev1.ApiKey{
		"no permissions":         {Name: "k"},
		"unknown permission":     {Name: "k", Permissions: []string{"keys:destroy"}},
		"admin bound":            {Name: "k", Permissions: []string{"admin"}, WorkspaceIds: []string{"default"}},
		"missing workspace":      {Name: "k", Permissions: []string{"keys:read"}, WorkspaceIds: []string{"nope"}},
		"no name":                {Permissions: []string{"keys:read"}},
		"malformed workspace id": {Name: "k", Permissions: []string{"keys:read"}, WorkspaceIds: []string{"Bad!"}},
	} {
		_, err := akc.CreateApiKey(admin, &ingestgatev1.CreateApiKeyRequest{ApiKey: k})
		wantCode(t, name, status.Code(err), codes.InvalidArgument)
	}
}
