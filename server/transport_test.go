package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// keysAPI is the ingest key API as a test drives it, over either transport,
// so every lifecycle case runs over gRPC and over REST alike.
type keysAPI interface {
	create(ws string, k *ingestgatev1.IngestKey) (*ingestgatev1.CreateIngestKeyResponse, codes.Code)
	get(ws, id string) (*ingestgatev1.IngestKey, codes.Code)
	list(req *ingestgatev1.ListIngestKeysRequest) (*ingestgatev1.ListIngestKeysResponse, codes.Code)
	update(k *ingestgatev1.IngestKey, paths ...string) (*ingestgatev1.IngestKey, codes.Code)
	deactivate(ws, id string) (*ingestgatev1.IngestKey, codes.Code)
	activate(ws, id string) (*ingestgatev1.IngestKey, codes.Code)
	rotate(ws, id string, grace time.Duration) (*ingestgatev1.RotateIngestKeyResponse, codes.Code)
	revoke(ws, id, reason string) (*ingestgatev1.IngestKey, codes.Code)
	delete(ws, id string) codes.Code
}

type grpcKeys struct {
	ctx context.Context
	c   ingestgatev1.IngestKeyServiceClient
}

func newGRPCKeys(n *servertest.Node, key string) keysAPI {
	return &grpcKeys{ctx: servertest.WithKey(context.Background(), key), c: ingestgatev1.NewIngestKeyServiceClient(n.Conn)}
}

func (g *grpcKeys) create(ws string, k *ingestgatev1.IngestKey) (*ingestgatev1.CreateIngestKeyResponse, codes.Code) {
	r, err := g.c.CreateIngestKey(g.ctx, &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: ws, IngestKey: k})
	return r, status.Code(err)
}

func (g *grpcKeys) get(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	r, err := g.c.GetIngestKey(g.ctx, &ingestgatev1.GetIngestKeyRequest{WorkspaceId: ws, KeyId: id})
	return r.GetIngestKey(), status.Code(err)
}

func (g *grpcKeys) list(req *ingestgatev1.ListIngestKeysRequest) (*ingestgatev1.ListIngestKeysResponse, codes.Code) {
	r, err := g.c.ListIngestKeys(g.ctx, req)
	return r, status.Code(err)
}

func (g *grpcKeys) update(k *ingestgatev1.IngestKey, paths ...string) (*ingestgatev1.IngestKey, codes.Code) {
	r, err := g.c.UpdateIngestKey(g.ctx, &ingestgatev1.UpdateIngestKeyRequest{IngestKey: k, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	return r.GetIngestKey(), status.Code(err)
}

func (g *grpcKeys) deactivate(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	r, err := g.c.DeactivateIngestKey(g.ctx, &ingestgatev1.DeactivateIngestKeyRequest{WorkspaceId: ws, KeyId: id})
	return r.GetIngestKey(), status.Code(err)
}

func (g *grpcKeys) activate(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	r, err := g.c.ActivateIngestKey(g.ctx, &ingestgatev1.ActivateIngestKeyRequest{WorkspaceId: ws, KeyId: id})
	return r.GetIngestKey(), status.Code(err)
}

func (g *grpcKeys) rotate(ws, id string, grace time.Duration) (*ingestgatev1.RotateIngestKeyResponse, codes.Code) {
	r, err := g.c.RotateIngestKey(g.ctx, &ingestgatev1.RotateIngestKeyRequest{WorkspaceId: ws, KeyId: id, GracePeriod: durationpb.New(grace)})
	return r, status.Code(err)
}

func (g *grpcKeys) revoke(ws, id, reason string) (*ingestgatev1.IngestKey, codes.Code) {
	r, err := g.c.RevokeIngestKey(g.ctx, &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: id, Reason: reason})
	return r.GetIngestKey(), status.Code(err)
}

func (g *grpcKeys) delete(ws, id string) codes.Code {
	_, err := g.c.DeleteIngestKey(g.ctx, &ingestgatev1.DeleteIngestKeyRequest{WorkspaceId: ws, KeyId: id})
	return status.Code(err)
}

// restKeys drives the same API through the REST gateway with JSON bodies.
type restKeys struct {
	t    testing.TB
	base string
	key  string
}

func newRESTKeys(t testing.TB, n *servertest.Node, key string) keysAPI {
	return &restKeys{t: t, base: n.BaseURL(), key: key}
}

func (r *restKeys) keyPath(ws, id string) string {
	return "/v1/workspaces/" + ws + "/ingestKeys/" + id
}

func (r *restKeys) create(ws string, k *ingestgatev1.IngestKey) (*ingestgatev1.CreateIngestKeyResponse, codes.Code) {
	out := &ingestgatev1.CreateIngestKeyResponse{}
	return out, restCall(r.t, r.base, "POST", "/v1/workspaces/"+ws+"/ingestKeys", r.key, k, out)
}

func (r *restKeys) get(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	out := &ingestgatev1.GetIngestKeyResponse{}
	c := restCall(r.t, r.base, "GET", r.keyPath(ws, id), r.key, nil, out)
	return out.GetIngestKey(), c
}

func (r *restKeys) list(req *ingestgatev1.ListIngestKeysRequest) (*ingestgatev1.ListIngestKeysResponse, codes.Code) {
	q := "?page_size=" + itoa(int(req.GetPageSize())) + "&page_token=" + url.QueryEscape(req.GetPageToken())
	if req.GetStatus() != 0 {
		q += "&status=" + req.GetStatus().String()
	}
	if req.GetNameContains() != "" {
		q += "&name_contains=" + url.QueryEscape(req.GetNameContains())
	}
	if req.GetLabel() != "" {
		q += "&label=" + url.QueryEscape(req.GetLabel())
	}
	out := &ingestgatev1.ListIngestKeysResponse{}
	return out, restCall(r.t, r.base, "GET", "/v1/workspaces/"+req.GetWorkspaceId()+"/ingestKeys"+q, r.key, nil, out)
}

func (r *restKeys) update(k *ingestgatev1.IngestKey, paths ...string) (*ingestgatev1.IngestKey, codes.Code) {
	// PATCH sends only the masked fields; the gateway derives the mask from
	// the body, as a REST client expects.
	body := map[string]json.RawMessage{}
	full, _ := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(k)
	var all map[string]json.RawMessage
	_ = json.Unmarshal(full, &all)
	for _, p := range paths {
		body[p] = all[p]
	}
	out := &ingestgatev1.UpdateIngestKeyResponse{}
	c := restCall(r.t, r.base, "PATCH", r.keyPath(k.GetWorkspaceId(), k.GetId()), r.key, body, out)
	return out.GetIngestKey(), c
}

func (r *restKeys) action(ws, id, verb string, body any, out proto.Message) codes.Code {
	if body == nil {
		body = map[string]any{}
	}
	return restCall(r.t, r.base, "POST", r.keyPath(ws, id)+":"+verb, r.key, body, out)
}

func (r *restKeys) deactivate(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	out := &ingestgatev1.DeactivateIngestKeyResponse{}
	c := r.action(ws, id, "deactivate", nil, out)
	return out.GetIngestKey(), c
}

func (r *restKeys) activate(ws, id string) (*ingestgatev1.IngestKey, codes.Code) {
	out := &ingestgatev1.ActivateIngestKeyResponse{}
	c := r.action(ws, id, "activate", nil, out)
	return out.GetIngestKey(), c
}

func (r *restKeys) rotate(ws, id string, grace time.Duration) (*ingestgatev1.RotateIngestKeyResponse, codes.Code) {
	out := &ingestgatev1.RotateIngestKeyResponse{}
	return out, r.action(ws, id, "rotate", map[string]any{"grace_period": fmt.Sprintf("%gs", grace.Seconds())}, out)
}

func (r *restKeys) revoke(ws, id, reason string) (*ingestgatev1.IngestKey, codes.Code) {
	out := &ingestgatev1.RevokeIngestKeyResponse{}
	c := r.action(ws, id, "revoke", map[string]any{"reason": reason}, out)
	return out.GetIngestKey(), c
}

func (r *restKeys) delete(ws, id string) codes.Code {
	return restCall(r.t, r.base, "DELETE", r.keyPath(ws, id), r.key, nil, nil)
}

// restCall sends body as JSON (a proto message as protojson) with the key in
// X-API-Key, decodes a 200 response into out, and returns the status as a
// gRPC code. An error must be a JSON body with the code and a message, sent
// with the HTTP status that code maps to.
func restCall(t testing.TB, base, method, path, key string, body any, out proto.Message) codes.Code {
	t.Helper()
	st, raw := restDo(t, base, method, path, map[string]string{"X-API-Key": key}, body)
	if st != http.StatusOK {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Message == "" {
			t.Fatalf("%s %s: %d with body %q: want a JSON error with a message", method, path, st, raw)
		}
		c := codes.Code(e.Code)
		if want := runtime.HTTPStatusFromCode(c); st != want {
			t.Fatalf("%s %s: HTTP %d for %v, want %d", method, path, st, c, want)
		}
		return c
	}
	if out != nil {
		if err := protojson.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return codes.OK
}

func restDo(t testing.TB, base, method, path string, headers map[string]string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case proto.Message:
		raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := servertest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
