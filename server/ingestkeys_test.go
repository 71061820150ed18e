package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

const ws = "default"

// transports runs f once over gRPC and once over REST, each against its own
// fresh node.
func transports(t *testing.T, f func(t *testing.T, n *servertest.Node, api keysAPI)) {
	t.Run("grpc", func(t *testing.T) {
		t.Parallel()
		n := servertest.Start(t)
		f(t, n, newGRPCKeys(n, n.AdminKey))
	})
	t.Run("rest", func(t *testing.T) {
		t.Parallel()
		n := servertest.Start(t)
		f(t, n, newRESTKeys(t, n, n.AdminKey))
	})
}

// must(call()).of(t) fails the test unless call returned OK.
func must[T any](v T, c codes.Code) result[T] { return result[T]{v, c} }

type result[T any] struct {
	v T
	c codes.Code
}

func (r result[T]) of(t *testing.T) T {
	t.Helper()
	if r.c != codes.OK {
		t.Fatalf("call failed: %v", r.c)
	}
	return r.v
}

func wantCode(t *testing.T, what string, got, want codes.Code) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestIngestKeyLifecycle(t *testing.T) {
	transports(t, func(t *testing.T, n *servertest.Node, api keysAPI) {
		created := must(api.create(ws, &ingestgatev1.IngestKey{
			Name:        "fleet berlin",
			Description: "all sensors in Berlin",
			Labels:      map[string]string{"team": "ops"},
			Scope:       &ingestgatev1.KeyScope{Tags: []string{"site=berlin"}, DeviceIds: []string{"gw-1"}},
			Limits:      &ingestgatev1.KeyLimits{RecordsPerSecond: 500, MaxStreams: 10},
		})).of(t)
		k, secret := created.GetIngestKey(), created.GetSecret()
		if !strings.HasPrefix(secret, "ig_ikv1_") || len(secret) != 57 {
			t.Fatalf("secret %q: want an ig_ikv1_ token of 57 characters", secret)
		}
		if k.GetStatus() != ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE || !strings.HasPrefix(secret, k.GetDisplayPrefix()) || len(k.GetDisplayPrefix()) != 14 {
			t.Fatalf("created key: %v", k)
		}
		if got := k.GetScope(); got.GetAllDevices() || len(got.GetDeviceIds()) != 1 || got.GetTags()[0] != "site=berlin" {
			t.Fatalf("scope: %v", got)
		}

		got := must(api.get(ws, k.GetId())).of(t)
		if got.GetName() != "fleet berlin" || got.GetLabels()["team"] != "ops" || got.GetLimits().GetRecordsPerSecond() != 500 {
			t.Fatalf("get: %v", got)
		}

		// Deactivate and activate are reversible and idempotent.
		wantStatus := func(k *ingestgatev1.IngestKey, c codes.Code, s ingestgatev1.KeyStatus) {
			t.Helper()
			if c != codes.OK || k.GetStatus() != s {
				t.Fatalf("got %v %v, want OK %v", c, k.GetStatus(), s)
			}
		}
		k2, c := api.deactivate(ws, k.GetId())
		wantStatus(k2, c, ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE)
		k2, c = api.deactivate(ws, k.GetId())
		wantStatus(k2, c, ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE)
		k2, c = api.activate(ws, k.GetId())
		wantStatus(k2, c, ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE)

		// Rotation returns a new secret once and keeps the old one for the
		// grace period.
		rot := must(api.rotate(ws, k.GetId(), time.Hour)).of(t)
		if rot.GetSecret() == secret || !strings.HasPrefix(rot.GetSecret(), rot.GetIngestKey().GetDisplayPrefix()) {
			t.Fatalf("rotate: new secret %q, prefix %q", rot.GetSecret(), rot.GetIngestKey().GetDisplayPrefix())
		}
		if rot.GetIngestKey().GetPreviousDisplayPrefix() != k.GetDisplayPrefix() || rot.GetIngestKey().GetPreviousSecretExpireTime() == nil {
			t.Fatalf("rotate: previous secret not kept: %v", rot.GetIngestKey())
		}
		rot0 := must(api.rotate(ws, k.GetId(), 0)).of(t)
		if rot0.GetIngestKey().GetPreviousSecretExpireTime() != nil {
			t.Fatalf("rotate with zero grace kept a previous secret: %v", rot0.GetIngestKey())
		}

		// Revoke is final.
		k2, c = api.revoke(ws, k.GetId(), "device stolen")
		wantStatus(k2, c, ingestgatev1.KeyStatus_KEY_STATUS_REVOKED)
		if k2.GetRevokeReason() != "device stolen" || k2.GetRevokeTime() == nil {
			t.Fatalf("revoke: %v", k2)
		}
		for name, call := range map[string]func() codes.Code{
			"activate revoked":   func() codes.Code { _, c := api.activate(ws, k.GetId()); return c },
			"deactivate revoked": func() codes.Code { _, c := api.deactivate(ws, k.GetId()); return c },
			"rotate revoked":     func() codes.Code { _, c := api.rotate(ws, k.GetId(), 0); return c },
			"revoke revoked":     func() codes.Code { _, c := api.revoke(ws, k.GetId(), "again"); return c },
			"update revoked": func() codes.Code {
				_, c := api.update(&ingestgatev1.IngestKey{WorkspaceId: ws, Id: k.GetId(), Name: "x"}, "name")
				return c
			},
		} {
			wantCode(t, name, call(), codes.FailedPrecondition)
		}

		wantCode(t, "delete", api.delete(ws, k.GetId()), codes.OK)
		_, c = api.get(ws, k.GetId())
		wantCode(t, "get deleted", c, codes.NotFound)
		wantCode(t, "delete again", api.delete(ws, k.GetId()), codes.NotFound)
	})
}

func TestIngestKeyValidation(t *testing.T) {
	transports(t, func(t *testing.T, n *servertest.Node, api keysAPI) {
		past := timestamppb.New(time.Now().Add(-time.Hour))
		for name, k := range map[string]*ingestgatev1.IngestKey{
			"no name":           {},
			"long name":         {Name: strings.Repeat("n", 201)},
			"control char":      {Name: "a\x07b"},
			"bad label key":     {Name: "k", Labels: map[string]string{"Bad Key": "v"}},
			"empty scope":       {Name: "k", Scope: &ingestgatev1.KeyScope{}},
			"all plus ids":      {Name: "k", Scope: &ingestgatev1.KeyScope{AllDevices: true, DeviceIds: []string{"d"}}},
			"bad tag":           {Name: "k", Scope: &ingestgatev1.KeyScope{Tags: []string{"no-equals"}}},
			"bad device id":     {Name: "k", Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"has space"}}},
			"expiry in past":    {Name: "k", ExpireTime: past},
			"rate beyond bound": {Name: "k", Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 2_000_000}},
		} {
			_, c := api.create(ws, k)
			wantCode(t, name, c, codes.InvalidArgument)
		}
		_, c := api.create("no-such-ws", &ingestgatev1.IngestKey{Name: "k"})
		wantCode(t, "missing workspace", c, codes.NotFound)
		_, c = api.create("Bad_WS", &ingestgatev1.IngestKey{Name: "k"})
		wantCode(t, "malformed workspace", c, codes.InvalidArgument)
		_, c = api.get(ws, "not-an-id")
		wantCode(t, "malformed id", c, codes.InvalidArgument)
		_, c = api.get(ws, "ik_00000000000000000000000000")
		wantCode(t, "unknown id", c, codes.NotFound)

		k := must(api.create(ws, &ingestgatev1.IngestKey{Name: "k"})).of(t).GetIngestKey()
		if !k.GetScope().GetAllDevices() {
			t.Fatalf("default scope must be all devices: %v", k.GetScope())
		}
		_, c = api.update(&ingestgatev1.IngestKey{WorkspaceId: ws, Id: k.GetId(), Status: ingestgatev1.KeyStatus_KEY_STATUS_REVOKED}, "status")
		wantCode(t, "update status through mask", c, codes.InvalidArgument)
	})
}

func TestIngestKeyUpdateScopeAndExpiry(t *testing.T) {
	transports(t, func(t *testing.T, n *servertest.Node, api keysAPI) {
		k := must(api.create(ws, &ingestgatev1.IngestKey{Name: "k", Description: "keep me"})).of(t).GetIngestKey()
		exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		up := must(api.update(&ingestgatev1.IngestKey{
			WorkspaceId: ws, Id: k.GetId(), Name: "renamed",
			Scope:      &ingestgatev1.KeyScope{DeviceIds: []string{"d2", "d1", "d1"}, Tags: []string{"fleet=a"}},
			ExpireTime: timestamppb.New(exp),
		}, "name", "scope", "expire_time")).of(t)
		if up.GetName() != "renamed" || up.GetDescription() != "keep me" {
			t.Fatalf("fields outside the mask changed: %v", up)
		}
		if s := up.GetScope(); s.GetAllDevices() || strings.Join(s.GetDeviceIds(), ",") != "d1,d2" || s.GetTags()[0] != "fleet=a" {
			t.Fatalf("scope not normalised: %v", s)
		}
		if !up.GetExpireTime().AsTime().Equal(exp) || up.GetExpired() {
			t.Fatalf("expiry: %v expired=%v", up.GetExpireTime(), up.GetExpired())
		}
		// Clearing the expiry.
		up = must(api.update(&ingestgatev1.IngestKey{WorkspaceId: ws, Id: k.GetId()}, "expire_time")).of(t)
		if up.GetExpireTime() != nil {
			t.Fatalf("expiry not cleared: %v", up.GetExpireTime())
		}
	})
}

// An ingest key about to expire reports expired once the time has passed.
func TestIngestKeyExpiry(t *testing.T) {
	n := servertest.Start(t)
	api := newGRPCKeys(n, n.AdminKey)
	k := must(api.create(ws, &ingestgatev1.IngestKey{Name: "short", ExpireTime: timestamppb.New(time.Now().Add(time.Second))})).of(t).GetIngestKey()
	if k.GetExpired() {
		t.Fatal("expired at creation")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !must(api.get(ws, k.GetId())).of(t).GetExpired() {
		if time.Now().After(deadline) {
			t.Fatal("key never reported expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIngestKeyListPagingAndFilters(t *testing.T) {
	transports(t, func(t *testing.T, n *servertest.Node, api keysAPI) {
		var ids []string
		for i := range 7 {
			labels := map[string]string{"env": "prod"}
			if i%2 == 1 {
				labels["env"] = "dev"
			}
			k := must(api.create(ws, &ingestgatev1.IngestKey{Name: fmt.Sprintf("Sensor Key %d", i), Labels: labels})).of(t).GetIngestKey()
			ids = append(ids, k.GetId())
		}
		must(api.deactivate(ws, ids[0])).of(t)

		// Pages of 3, newest first, no gaps or repeats.
		var seen []string
		tok := ""
		for page := 0; ; page++ {
			r := must(api.list(&ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws, PageSize: 3, PageToken: tok})).of(t)
			if len(r.GetIngestKeys()) > 3 {
				t.Fatalf("page of %d", len(r.GetIngestKeys()))
			}
			for _, k := range r.GetIngestKeys() {
				seen = append(seen, k.GetId())
			}
			if tok = r.GetNextPageToken(); tok == "" {
				break
			}
			if page > 5 {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != 7 {
			t.Fatalf("paged through %d keys, want 7", len(seen))
		}
		for i, id := range seen {
			if id != ids[6-i] {
				t.Fatalf("order: got %v, want newest first %v", seen, ids)
			}
		}

		count := func(req *ingestgatev1.ListIngestKeysRequest) int {
			req.WorkspaceId = ws
			return len(must(api.list(req)).of(t).GetIngestKeys())
		}
		if got := count(&ingestgatev1.ListIngestKeysRequest{Status: ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE}); got != 1 {
			t.Errorf("status filter: %d", got)
		}
		if got := count(&ingestgatev1.ListIngestKeysRequest{NameContains: "key 3"}); got != 1 {
			t.Errorf("name filter (case-insensitive): %d", got)
		}
		if got := count(&ingestgatev1.ListIngestKeysRequest{Label: "env=dev"}); got != 3 {
			t.Errorf("label filter: %d", got)
		}
		_, c := api.list(&ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws, PageToken: "garbage!"})
		wantCode(t, "bad page token", c, codes.InvalidArgument)
	})
}

// The secret is returned by create and rotate only: never by get, list or
// the audit log, never logged, and never stored in the database file.
func TestSecretShownOnce(t *testing.T) {
	n := servertest.Start(t)
	api := newGRPCKeys(n, n.AdminKey)
	created := must(api.create(ws, &ingestgatev1.IngestKey{Name: "k"})).of(t)
	rotated := must(api.rotate(ws, created.GetIngestKey().GetId(), time.Hour)).of(t)
	secrets := []string{created.GetSecret(), rotated.GetSecret()}

	rest := newRESTKeys(t, n, n.AdminKey)
	var seen []string
	for _, a := range []keysAPI{api, rest} {
		seen = append(seen, fmt.Sprint(must(a.get(ws, created.GetIngestKey().GetId())).of(t)))
		seen = append(seen, fmt.Sprint(must(a.list(&ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})).of(t)))
	}
	_, events := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/events", map[string]string{"X-API-Key": n.AdminKey}, nil)
	seen = append(seen, string(events), n.Logs.String())

	n.Stop() // flush the store so the files on disk are complete
	files, _ := filepath.Glob(filepath.Join(n.DataDir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, string(b))
	}
	for _, s := range secrets {
		body := s[len("ig_ikv1_"):] // the random part alone must not appear either
		for i, out := range seen {
			if strings.Contains(out, body) {
				t.Fatalf("secret found in output %d", i)
			}
		}
	}
}
