package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// These tests run the whole CLI in-process against a fake IngestKeyService
// and EventService on an in-memory listener: they check the wiring (flags
// to requests, metadata, exit codes, output), not server behaviour.

type fakeServer struct {
	ingestgatev1.UnimplementedIngestKeyServiceServer
	ingestgatev1.UnimplementedEventServiceServer

	mu       sync.Mutex
	auth     []string // authorization metadata of each call
	requests []proto.Message
	key      *ingestgatev1.IngestKey
}

func (f *fakeServer) record(ctx context.Context, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, md.Get("authorization")...)
	f.requests = append(f.requests, req)
}

func (f *fakeServer) CreateIngestKey(ctx context.Context, req *ingestgatev1.CreateIngestKeyRequest) (*ingestgatev1.CreateIngestKeyResponse, error) {
	f.record(ctx, req)
	k := proto.CloneOf(req.GetIngestKey())
	k.Id, k.WorkspaceId, k.DisplayPrefix, k.Status = "ik_new", req.GetWorkspaceId(), "ig_ikv1_New1", ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE
	return &ingestgatev1.CreateIngestKeyResponse{IngestKey: k, Secret: testSecret}, nil
}

func (f *fakeServer) GetIngestKey(ctx context.Context, req *ingestgatev1.GetIngestKeyRequest) (*ingestgatev1.GetIngestKeyResponse, error) {
	f.record(ctx, req)
	if req.GetKeyId() != f.key.GetId() {
		return nil, status.Errorf(codes.NotFound, "ingest key %q not found", req.GetKeyId())
	}
	return &ingestgatev1.GetIngestKeyResponse{IngestKey: f.key}, nil
}

func (f *fakeServer) UpdateIngestKey(ctx context.Context, req *ingestgatev1.UpdateIngestKeyRequest) (*ingestgatev1.UpdateIngestKeyResponse, error) {
	f.record(ctx, req)
	return &ingestgatev1.UpdateIngestKeyResponse{IngestKey: req.GetIngestKey()}, nil
}

func (f *fakeServer) RotateIngestKey(ctx context.Context, req *ingestgatev1.RotateIngestKeyRequest) (*ingestgatev1.RotateIngestKeyResponse, error) {
	f.record(ctx, req)
	return &ingestgatev1.RotateIngestKeyResponse{IngestKey: f.key, Secret: testSecret}, nil
}

func (f *fakeServer) ListIngestKeys(ctx context.Context, req *ingestgatev1.ListIngestKeysRequest) (*ingestgatev1.ListIngestKeysResponse, error) {
	f.record(ctx, req)
	if req.GetPageToken() == "" {
		return &ingestgatev1.ListIngestKeysResponse{IngestKeys: []*ingestgatev1.IngestKey{{Id: "ik_a"}}, NextPageToken: "t2"}, nil
	}
	return &ingestgatev1.ListIngestKeysResponse{IngestKeys: []*ingestgatev1.IngestKey{{Id: "ik_b"}}}, nil
}

func (f *fakeServer) ListAuditEvents(ctx context.Context, req *ingestgatev1.ListAuditEventsRequest) (*ingestgatev1.ListAuditEventsResponse, error) {
	f.record(ctx, req)
	return &ingestgatev1.ListAuditEventsResponse{Events: []*ingestgatev1.KeyEvent{{
		Sequence: 7, Type: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_ROTATED, Actor: "api_key:ak_1", IngestKeyId: "ik_1",
	}}}, nil
}

func (f *fakeServer) lastRequest() proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return nil
	}
	return f.requests[len(f.requests)-1]
}

// harness runs ingestctl commands against a fresh fake server.
type harness struct {
	t    *testing.T
	fake *fakeServer
	lis  *bufconn.Listener
	env  map[string]string
}

func newHarness(t *testing.T) *harness {
	lis := bufconn.Listen(1 << 20)
	fake := &fakeServer{key: &ingestgatev1.IngestKey{
		Id: "ik_1", WorkspaceId: "default", Name: "edge",
		Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 100, MaxStreams: 4},
	}}
	srv := grpc.NewServer()
	ingestgatev1.RegisterIngestKeyServiceServer(srv, fake)
	ingestgatev1.RegisterEventServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return &harness{t: t, fake: fake, lis: lis, env: map[string]string{
		envAddr: "passthrough:///bufnet", envAPIKey: "ak_test_secret",
	}}
}

func (h *harness) run(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, func(k string) string { return h.env[k] })
	a.now = func() time.Time { return testNow }
	a.dialOpts = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return h.lis.DialContext(ctx)
	})}
	code = a.execute(context.Background(), args)
	return out.String(), errOut.String(), code
}

func TestCLICreateKeyPrintsSecretOnce(t *testing.T) {
	h := newHarness(t)
	for _, format := range []string{"table", "json"} {
		out, errOut, code := h.run("keys", "create", "-w", "plant-1", "--name", "edge", "--tag", "site=x", "-o", format)
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", format, code, errOut)
		}
		if n := strings.Count(out, testSecret); n != 1 {
			t.Errorf("%s: secret appears %d times:\n%s", format, n, out)
		}
		if !strings.Contains(errOut, secretWarning) || strings.Contains(errOut, testSecret) {
			t.Errorf("%s: stderr %q", format, errOut)
		}
	}
	req := h.fake.lastRequest().(*ingestgatev1.CreateIngestKeyRequest)
	if req.GetWorkspaceId() != "plant-1" || !slices.Equal(req.GetIngestKey().GetScope().GetTags(), []string{"site=x"}) {
		t.Errorf("request %v", req)
	}
	if want := "Bearer ak_test_secret"; len(h.fake.auth) != 2 || h.fake.auth[0] != want {
		t.Errorf("authorization metadata %q, want %q on every call", h.fake.auth, want)
	}
}

func TestCLIUpdateKeepsOtherLimit(t *testing.T) {
	h := newHarness(t)
	_, errOut, code := h.run("keys", "update", "ik_1", "--rate", "250", "--name", "renamed")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	req := h.fake.lastRequest().(*ingestgatev1.UpdateIngestKeyRequest)
	if got := req.GetUpdateMask().GetPaths(); !slices.Equal(got, []string{"name", "limits"}) {
		t.Errorf("mask %q", got)
	}
	want := &ingestgatev1.KeyLimits{RecordsPerSecond: 250, MaxStreams: 4}
	if !proto.Equal(req.GetIngestKey().GetLimits(), want) {
		t.Errorf("limits %v, want %v (max streams kept from the current key)", req.GetIngestKey().GetLimits(), want)
	}
}

func TestCLIWorkspaceFromEnv(t *testing.T) {
	h := newHarness(t)
	h.env[envWorkspace] = "from-env"
	if _, errOut, code := h.run("keys", "rotate", "ik_1", "--grace", "1d"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	req := h.fake.lastRequest().(*ingestgatev1.RotateIngestKeyRequest)
	if req.GetWorkspaceId() != "from-env" || req.GetGracePeriod().AsDuration().Hours() != 24 {
		t.Errorf("request %v", req)
	}
}

func TestCLIListAllIsOneDocument(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run("keys", "list", "--all", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Keys []struct{ ID string } `json:"ingest_keys"`
		Next string                `json:"next_page_token"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Keys) != 2 || doc.Next != "" {
		t.Errorf("got %s", out)
	}

	// One page in table mode: the next token goes to stderr.
	out, errOut, _ = h.run("keys", "list")
	if !strings.Contains(out, "ik_a") || strings.Contains(out, "ik_b") || !strings.Contains(errOut, "--page-token t2") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}

func TestCLIEventsGlobal(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run("events", "list", "--global", "--newest-first")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	req := h.fake.lastRequest().(*ingestgatev1.ListAuditEventsRequest)
	if req.GetWorkspaceId() != "" || !req.GetNewestFirst() {
		t.Errorf("request %v", req)
	}
	if !strings.Contains(out, "ingest_key_rotated") || !strings.Contains(out, "key:ik_1") {
		t.Errorf("output %q", out)
	}
	if _, _, code := h.run("events", "list", "--global", "-w", "x"); code != 2 {
		t.Errorf("--global with -w: exit %d, want 2", code)
	}
}

func TestCLIErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string // overrides; "" removes
		args     []string
		code     int
		stderr   string
		noCalled bool
	}{
		{name: "grpc error", args: []string{"keys", "get", "ik_missing"}, code: 1, stderr: `error: NotFound: ingest key "ik_missing" not found`},
		{name: "missing api key", env: map[string]string{envAPIKey: ""}, args: []string{"keys", "get", "ik_1"}, code: 2,
			stderr: "error: no API key: pass --api-key or set INGESTGATE_API_KEY", noCalled: true},
		{name: "blank api key", env: map[string]string{envAPIKey: " \n"}, args: []string{"keys", "get", "ik_1"}, code: 2, stderr: "no API key", noCalled: true},
		{name: "unknown flag", args: []string{"keys", "list", "--bogus"}, code: 2, stderr: "unknown flag: --bogus", noCalled: true},
		{name: "unknown subcommand", args: []string{"keys", "frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`, noCalled: true},
		{name: "missing id", args: []string{"keys", "get"}, code: 2, stderr: "missing argument ID", noCalled: true},
		{name: "missing name", args: []string{"keys", "create"}, code: 2, stderr: `required flag(s) "name" not set`, noCalled: true},
		{name: "bad label", args: []string{"keys", "create", "--name", "n", "--label", "x"}, code: 2, stderr: `--label "x": want key=value`, noCalled: true},
		{name: "nothing to update", args: []string{"keys", "update", "ik_1"}, code: 2, stderr: "nothing to update", noCalled: true},
		{name: "bad output", args: []string{"keys", "list", "-o", "yaml"}, code: 2, stderr: "--output must be table or json", noCalled: true},
		{name: "help", args: []string{"keys", "update", "--help"}, code: 0, noCalled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tt.env {
				h.env[k] = v
			}
			_, errOut, code := h.run(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", code, errOut, tt.code, tt.stderr)
			}
			if tt.noCalled && h.fake.lastRequest() != nil {
				t.Errorf("the server was called: %v", h.fake.lastRequest())
			}
		})
	}
}
