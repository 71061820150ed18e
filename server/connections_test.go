package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

func listConns(t testing.TB, n *servertest.Node, key string, req *ingestgatev1.ListConnectionsRequest) *ingestgatev1.ListConnectionsResponse {
	t.Helper()
	r, err := ingestgatev1.NewConnectionServiceClient(n.Conn).ListConnections(servertest.WithKey(context.Background(), key), req)
	if err != nil {
		t.Fatalf("list connections %v: %v", req, err)
	}
	return r
}

func connDevices(r *ingestgatev1.ListConnectionsResponse) []string {
	var out []string
	for _, c := range r.GetConnections() {
		out = append(out, c.GetDeviceId())
	}
	return out
}

// waitConns polls until the listing has want devices (in order), or fails.
func waitConns(t testing.TB, n *servertest.Node, req *ingestgatev1.ListConnectionsRequest, want ...string) *ingestgatev1.ListConnectionsResponse {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		r := listConns(t, n, n.AdminKey, req)
		if got := connDevices(r); strings.Join(got, ",") == strings.Join(want, ",") {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections %v: %v, want %v", req, connDevices(r), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// One node: every stream is listed newest first with what the console
// shows (key prefix, node, peer, records), filters narrow the list, acked
// batches count, and a closed stream disappears.
func TestListConnections(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.NodeName = "node-a" })
	k1, s1 := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "one"})
	k2, s2 := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "two"})
	d1 := openStream(t, n, "conn-1", s1)
	time.Sleep(2 * time.Millisecond) // distinct open times: the order is checked
	d2 := openStream(t, n, "conn-2", s1)
	time.Sleep(2 * time.Millisecond)
	openStream(t, n, "conn-3", s2)

	all := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws})
	if got := strings.Join(connDevices(all), ","); got != "conn-3,conn-2,conn-1" || all.GetPartial() {
		t.Fatalf("all connections: %s partial=%v, want conn-3,conn-2,conn-1 newest first", got, all.GetPartial())
	}
	ids := map[string]bool{}
	for _, c := range all.GetConnections() {
		key := k1
		if c.GetDeviceId() == "conn-3" {
			key = k2
		}
		host, _, err := net.SplitHostPort(c.GetPeerAddress())
		if c.GetWorkspaceId() != ws || c.GetIngestKeyId() != key.GetId() || c.GetIngestKeyDisplayPrefix() != key.GetDisplayPrefix() ||
			c.GetNode() != "node-a" || err != nil || host != "127.0.0.1" || c.GetRecords() != 1 ||
			c.GetOpenTime() == nil || c.GetLastBatchTime() == nil || c.GetId() == "" || ids[c.GetId()] {
			t.Fatalf("connection %v", c)
		}
		ids[c.GetId()] = true
	}

	byKey := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, IngestKeyId: k1.GetId()})
	if got := strings.Join(connDevices(byKey), ","); got != "conn-2,conn-1" {
		t.Fatalf("by key: %s", got)
	}
	byDev := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, DeviceId: "conn-3"})
	if got := strings.Join(connDevices(byDev), ","); got != "conn-3" {
		t.Fatalf("by device: %s", got)
	}
	both := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, DeviceId: "conn-3", IngestKeyId: k1.GetId()})
	if len(both.GetConnections()) != 0 {
		t.Fatalf("device of key 2 listed under key 1: %v", both)
	}
	newest := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, PageSize: 1})
	if got := strings.Join(connDevices(newest), ","); got != "conn-3" {
		t.Fatalf("page_size 1: %s, want the newest", got)
	}

	// Acked batches count; a duplicate is acked but not counted again.
	before := byKey.GetConnections()[1]
	d1.send(2, records("more", 5)...)
	d1.send(2, records("more", 5)...)
	d1.waitAcks(3)
	c1 := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, DeviceId: "conn-1"}).GetConnections()[0]
	if c1.GetRecords() != 6 || c1.GetLastBatchTime().AsTime().Before(before.GetLastBatchTime().AsTime()) || c1.GetId() != before.GetId() {
		t.Fatalf("after 5 more records (and a duplicate): %v, before %v", c1, before)
	}

	// REST, with the proto field names; no secret anywhere.
	st, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/connections?ingest_key_id="+k1.GetId()+"&device_id=conn-1&page_size=10",
		map[string]string{"X-API-Key": n.AdminKey}, nil)
	var rest struct {
		Connections []map[string]any `json:"connections"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &rest) != nil || len(rest.Connections) != 1 {
		t.Fatalf("REST list: %d %s", st, body)
	}
	for _, f := range []string{"id", "workspace_id", "ingest_key_id", "ingest_key_display_prefix", "device_id", "node", "open_time", "peer_address", "records", "last_batch_time"} {
		if _, ok := rest.Connections[0][f]; !ok {
			t.Errorf("REST connection lacks %q: %s", f, body)
		}
	}
	if rest.Connections[0]["records"] != "6" {
		t.Errorf("REST records = %v, want \"6\"", rest.Connections[0]["records"])
	}
	for _, secret := range []string{s1, s2} {
		if strings.Contains(string(body), secret) {
			t.Fatal("a secret in the listing")
		}
	}

	// A closed stream is gone.
	d2.cancel()
	waitConns(t, n, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, IngestKeyId: k1.GetId()}, "conn-1")
}

func TestListConnectionsInput(t *testing.T) {
	n := servertest.Start(t)
	c := ingestgatev1.NewConnectionServiceClient(n.Conn)
	for _, tc := range []struct {
		req  *ingestgatev1.ListConnectionsRequest
		want string
	}{
		{&ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, PageSize: 1001}, "page_size must be 0-1000"},
		{&ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, PageSize: -1}, "page_size must be 0-1000"},
		{&ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, IngestKeyId: "nope"}, "ingest key id"},
		{&ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, DeviceId: "bad device"}, "device id"},
		{&ingestgatev1.ListConnectionsRequest{WorkspaceId: "Bad!"}, "workspace id"},
	} {
		_, err := c.ListConnections(adminCtx(n), tc.req)
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.want) {
			t.Errorf("%v: %v, want INVALID_ARGUMENT with %q", tc.req, err, tc.want)
		}
	}
	if r := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, PageSize: 1000}); len(r.GetConnections()) != 0 {
		t.Fatalf("page_size 1000 on an idle node: %v", r)
	}
	st, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/connections?page_size=5000", map[string]string{"X-API-Key": n.AdminKey}, nil)
	if st != http.StatusBadRequest || !strings.Contains(string(body), "page_size") {
		t.Fatalf("REST page_size 5000: %d %s", st, body)
	}
}

// A caller of one workspace never sees another's streams, even for the
// same device id; reading needs keys:read or devices:read there.
func TestListConnectionsIsolationAndPermissions(t *testing.T) {
	n := servertest.Start(t)
	admin := adminCtx(n)
	if _, err := ingestgatev1.NewWorkspaceServiceClient(n.Conn).CreateWorkspace(admin, &ingestgatev1.CreateWorkspaceRequest{Workspace: &ingestgatev1.Workspace{Id: "globex"}}); err != nil {
		t.Fatal(err)
	}
	kg, err := keysClient(n).CreateIngestKey(admin, &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: "globex", IngestKey: &ingestgatev1.IngestKey{Name: "g"}})
	check(t, "create globex key", err)
	kd, sd := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "d"})
	openStream(t, n, "same-id", sd)
	openStream(t, n, "same-id", kg.GetSecret())

	for _, tc := range []struct {
		ws, key string
	}{{ws, kd.GetId()}, {"globex", kg.GetIngestKey().GetId()}} {
		r := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: tc.ws, DeviceId: "same-id"})
		if len(r.GetConnections()) != 1 || r.GetConnections()[0].GetWorkspaceId() != tc.ws || r.GetConnections()[0].GetIngestKeyId() != tc.key {
			t.Fatalf("workspace %s: %v", tc.ws, r)
		}
	}
	// Another workspace's key as a filter finds nothing.
	if r := listConns(t, n, n.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, IngestKeyId: kg.GetIngestKey().GetId()}); len(r.GetConnections()) != 0 {
		t.Fatalf("globex's key listed through default: %v", r)
	}

	_, keysReader := newAPIKey(t, n, []string{"keys:read"})
	_, devReader := newAPIKey(t, n, []string{"devices:read"})
	_, eventsReader := newAPIKey(t, n, []string{"events:read", "keys:write", "devices:write", "telemetry:read"})
	_, globexOnly := newAPIKey(t, n, []string{"keys:read", "devices:read"}, "globex")
	for _, key := range []string{keysReader, devReader} {
		if r := listConns(t, n, key, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws}); len(r.GetConnections()) != 1 {
			t.Fatalf("reader lists %v", r)
		}
	}
	r := listConns(t, n, globexOnly, &ingestgatev1.ListConnectionsRequest{WorkspaceId: "globex"})
	if len(r.GetConnections()) != 1 || r.GetConnections()[0].GetWorkspaceId() != "globex" {
		t.Fatalf("globex key lists %v", r)
	}
	for _, tc := range []struct{ key, ws string }{{eventsReader, ws}, {globexOnly, ws}} {
		_, err := ingestgatev1.NewConnectionServiceClient(n.Conn).ListConnections(servertest.WithKey(context.Background(), tc.key), &ingestgatev1.ListConnectionsRequest{WorkspaceId: tc.ws})
		if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "keys:read or devices:read") {
			t.Errorf("list %s without the permission: %v", tc.ws, err)
		}
	}
	st, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/connections", map[string]string{"X-API-Key": eventsReader}, nil)
	if st != http.StatusForbidden {
		t.Fatalf("REST without the permission: %d %s", st, body)
	}
}

func TestNodeNameIsValidated(t *testing.T) {
	for _, name := range []string{"bad\nname", strings.Repeat("n", 129)} {
		if _, err := servertest.StartE(t, func(c *server.Config) { c.NodeName = name }); err == nil || !strings.Contains(err.Error(), "node-name") {
			t.Errorf("node name %q: %v, want an error naming node-name", name, err)
		}
	}
}
