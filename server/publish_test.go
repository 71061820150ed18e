package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

const publishBody = `{"records": [{"name": "temp", "number_value": 21.5, "attributes": {"unit": "C"}}, {"name": "door", "bool_value": true}]}`

// POST /v1/telemetry takes the key in each documented header form; a bad or
// missing key is 401 and stores nothing; out of scope is 403; a body over
// the limit is 413; an idempotency key makes a retry safe.
func TestHTTPPublish(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.MaxRequestBytes = 4096 })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	_, narrow := newIngestKey(t, n, &ingestgatev1.IngestKey{Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"only-me"}}})

	stored := 0
	for _, h := range []map[string]string{
		{"Authorization": "Bearer " + secret},
		{"Authorization": secret},
		{"X-API-Key": secret},
	} {
		h["X-Device-Id"] = "http-dev"
		code, body := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, publishBody)
		if code != http.StatusOK || !strings.Contains(string(body), `"accepted_records":2`) {
			t.Fatalf("publish with %v: %d %s", keysOf(h), code, body)
		}
		stored += 2
	}
	if got := len(readAll(t, n, "http-dev")); got != stored {
		t.Fatalf("stored %d records, want %d", got, stored)
	}

	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		msg     string
	}{
		{"no key", map[string]string{"X-Device-Id": "http-dev"}, publishBody, 401, "Invalid credentials"},
		{"wrong key", map[string]string{"X-Device-Id": "http-dev", "Authorization": "Bearer ig_ikv1_0000000000000000000000000000000000000000000AAAAAA"}, publishBody, 401, "Invalid credentials"},
		{"no device", map[string]string{"Authorization": "Bearer " + secret}, publishBody, 400, "x-device-id is required"},
		{"out of scope", map[string]string{"X-Device-Id": "http-dev", "Authorization": "Bearer " + narrow}, publishBody, 403, "does not admit"},
		{"too large", map[string]string{"X-Device-Id": "http-dev", "Authorization": "Bearer " + secret}, `{"records": [{"name": "blob", "text_value": "` + strings.Repeat("x", 5000) + `"}]}`, 413, "too large"},
		{"bad record", map[string]string{"X-Device-Id": "http-dev", "Authorization": "Bearer " + secret}, `{"records": [{"name": "novalue"}]}`, 400, "has no value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", tc.headers, tc.body)
			if code != tc.status || !strings.Contains(string(body), tc.msg) {
				t.Fatalf("%d %s, want %d with %q", code, body, tc.status, tc.msg)
			}
		})
	}
	if got := len(readAll(t, n, "http-dev")); got != stored {
		t.Fatalf("refused publishes stored records: %d, want %d", got, stored)
	}

	// Retries with one idempotency key (body or header) store once.
	h := map[string]string{"X-Device-Id": "http-dev", "Authorization": "Bearer " + secret}
	withKey := `{"idempotency_key": "upload-42", ` + publishBody[1:]
	for i := range 3 {
		code, body := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, withKey)
		if code != 200 || strings.Contains(string(body), `"duplicate":true`) != (i > 0) {
			t.Fatalf("retry %d: %d %s", i, code, body)
		}
	}
	h["Idempotency-Key"] = "upload-43"
	for i := range 2 {
		code, body := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, publishBody)
		if code != 200 || strings.Contains(string(body), `"duplicate":true`) != (i > 0) {
			t.Fatalf("header retry %d: %d %s", i, code, body)
		}
	}
	if got := len(readAll(t, n, "http-dev")); got != stored+4 {
		t.Fatalf("after idempotent retries %d records, want %d", got, stored+4)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Publish over its key's rate answers 429 with Retry-After (gRPC:
// RESOURCE_EXHAUSTED with RetryInfo) and stores nothing of that request.
func TestPublishRateLimit(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.MaxRecordsPerBatch = 2 })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 1}})
	h := map[string]string{"X-Device-Id": "dev", "Authorization": "Bearer " + secret}
	code, _ := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, publishBody) // the burst
	if code != 200 {
		t.Fatalf("first publish: %d", code)
	}
	req, _ := http.NewRequest("POST", n.BaseURL()+"/v1/telemetry", strings.NewReader(publishBody))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := servertest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := len(readAll(t, n, "dev")); got != 2 {
		t.Fatalf("stored %d records, want 2", got)
	}
	// A refused request reserves nothing: a client that waits as told is
	// admitted, instead of being told to wait again forever.
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	check(t, "Retry-After", err)
	time.Sleep(time.Duration(wait) * time.Second)
	if code, body := restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, publishBody); code != 200 {
		t.Fatalf("after waiting Retry-After (%ds): %d %s", wait, code, body)
	}
}

// Subscribe streams what is stored after a cursor and then new entries, over
// gRPC and as newline-delimited JSON through the gateway; it needs
// telemetry:read in the workspace.
func TestSubscribe(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "dev", secret) // one "boot" record
	c := ingestgatev1.NewTelemetryServiceClient(n.Conn)

	ctx, cancel := context.WithTimeout(adminCtx(n), waitFor)
	defer cancel()
	fromStart, err := c.Subscribe(ctx, &ingestgatev1.SubscribeRequest{WorkspaceId: ws, FromStart: true})
	check(t, "subscribe", err)
	onlyNew, err := c.Subscribe(ctx, &ingestgatev1.SubscribeRequest{WorkspaceId: ws})
	check(t, "subscribe", err)
	first, err := fromStart.Recv()
	check(t, "recv", err)
	if e := first.GetEntries(); len(e) != 1 || e[0].GetRecord().GetName() != "boot" {
		t.Fatalf("from start: %v", e)
	}

	// REST: newline-delimited JSON, one {"result": ...} per message.
	req, _ := http.NewRequestWithContext(ctx, "GET", n.BaseURL()+"/v1/workspaces/default/telemetry:subscribe?from_start=true", nil)
	req.Header.Set("X-API-Key", n.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	check(t, "rest subscribe", err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)

	time.Sleep(100 * time.Millisecond) // let onlyNew pass its end cursor
	d.send(2, record("live", 7))
	d.waitAcks(2)
	for _, s := range []ingestgatev1.TelemetryService_SubscribeClient{fromStart, onlyNew} {
		m, err := s.Recv()
		check(t, "recv live", err)
		if e := m.GetEntries(); len(e) != 1 || e[0].GetRecord().GetName() != "live" || e[0].GetRecord().GetNumberValue() != 7 {
			t.Fatalf("live entry: %v", e)
		}
	}
	var names []string
	for len(names) < 2 && lines.Scan() {
		var msg struct {
			Result struct {
				Entries []struct {
					Cursor string `json:"cursor"`
					Record struct {
						Name string `json:"name"`
					} `json:"record"`
				} `json:"entries"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			t.Fatalf("rest line %s: %v", lines.Bytes(), err)
		}
		for _, e := range msg.Result.Entries {
			names = append(names, e.Record.Name)
		}
	}
	if fmt.Sprint(names) != "[boot live]" {
		t.Fatalf("rest subscribe saw %v", names)
	}

	// Permissions and input.
	_, devicesOnly := newAPIKey(t, n, []string{"devices:read"})
	readerCtx, cancelReader := context.WithTimeout(servertest.WithKey(context.Background(), devicesOnly), waitFor)
	defer cancelReader()
	s, err := c.Subscribe(readerCtx, &ingestgatev1.SubscribeRequest{WorkspaceId: ws})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("subscribe without telemetry:read: %v", err)
	}
	_, err = c.ReadTelemetry(adminCtx(n), &ingestgatev1.ReadTelemetryRequest{WorkspaceId: ws, AfterCursor: "not-a-cursor"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad cursor: %v", err)
	}
}

// Usage is written in the background: after a flush the key shows when it
// was last used and what it carried, and the device when it was last seen.
func TestUsageWrittenInBackground(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.UsageFlushInterval = 50 * time.Millisecond })
	k, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "dev", secret)
	d.send(2, records("r", 9)...)
	d.waitAcks(2)
	deadline := time.Now().Add(waitFor)
	for {
		got := getKey(t, n, k.GetId())
		if got.GetRecordsReceived() == 10 && got.GetBatchesReceived() == 2 && got.GetLastUsedTime() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage not written: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dev, err := ingestgatev1.NewDeviceServiceClient(n.Conn).GetDevice(adminCtx(n), &ingestgatev1.GetDeviceRequest{WorkspaceId: ws, DeviceId: "dev"})
	check(t, "get device", err)
	if dev.GetDevice().GetLastSeenTime() == nil {
		t.Fatal("device last_seen_time not written")
	}
}

// A graceful shutdown writes the usage counted since the last flush before
// it closes the store.
func TestUsageFlushedAtShutdown(t *testing.T) {
	dir := t.TempDir()
	n := servertest.Start(t, func(c *server.Config) { c.DataDir = dir; c.UsageFlushInterval = time.Hour })
	k, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	openStream(t, n, "dev", secret) // one record
	n.Stop()
	admin := n.AdminKey
	n = servertest.Start(t, func(c *server.Config) { c.DataDir = dir; c.BootstrapAPIKey = admin })
	if got := getKey(t, n, k.GetId()); got.GetRecordsReceived() != 1 || got.GetBatchesReceived() != 1 {
		t.Fatalf("usage after a graceful shutdown: %d records, %d batches; want 1 and 1", got.GetRecordsReceived(), got.GetBatchesReceived())
	}
}

// A subscription ends when the management key that opened it is revoked,
// and receives nothing stored after that.
func TestSubscribeEndsWhenItsKeyIsRevoked(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "dev", secret)
	reader, readerSecret := newAPIKey(t, n, []string{"telemetry:read"})
	ctx, cancel := context.WithTimeout(servertest.WithKey(context.Background(), readerSecret), waitFor)
	defer cancel()
	sub, err := ingestgatev1.NewTelemetryServiceClient(n.Conn).Subscribe(ctx, &ingestgatev1.SubscribeRequest{WorkspaceId: ws, FromStart: true})
	check(t, "subscribe", err)
	_, err = sub.Recv()
	check(t, "recv boot record", err)
	_, err = ingestgatev1.NewApiKeyServiceClient(n.Conn).RevokeApiKey(adminCtx(n), &ingestgatev1.RevokeApiKeyRequest{ApiKeyId: reader.GetId(), Reason: "test"})
	check(t, "revoke api key", err)
	d.send(2, record("after-revoke", 1))
	d.waitAcks(2)
	m, err := sub.Recv()
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("subscription of a revoked key: %v %v, want UNAUTHENTICATED", m, err)
	}
}

// Neither the device paths' logs (at debug level) nor anything in the data
// directory, telemetry included, ever holds an ingest key's secret: not on
// success, on refusal, or on a close.
func TestNoSecretFromDevicePaths(t *testing.T) {
	n := servertest.Start(t)
	k, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"dev"}}})
	d := openStream(t, n, "dev", secret)
	dial(t, n, "intruder", secret).waitEnd() // refused: out of scope
	for _, h := range []map[string]string{
		{"Authorization": secret, "X-Device-Id": "dev"},
		{"X-API-Key": secret, "X-Device-Id": "other"},
		{"Authorization": "Bearer " + secret[:len(secret)-1] + "x", "X-Device-Id": "dev"}, // bad checksum
	} {
		restDo(t, n.BaseURL(), "POST", "/v1/telemetry", h, publishBody)
	}
	_, err := keysClient(n).RevokeIngestKey(adminCtx(n), &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: k.GetId(), Reason: "test"})
	check(t, "revoke", err)
	d.waitEnd()
	dial(t, n, "dev", secret).waitEnd() // refused: revoked
	n.Stop()

	if strings.Contains(n.Logs.String(), secret) || strings.Contains(n.Logs.String(), secret[len(k.GetDisplayPrefix()):]) {
		t.Fatal("a secret reached the logs")
	}
	files, _ := filepath.Glob(filepath.Join(n.DataDir, "*"))
	if len(files) < 2 {
		t.Fatalf("data directory holds %v, want the store and telemetry files", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		check(t, "read "+f, err)
		if strings.Contains(string(b), secret[len(k.GetDisplayPrefix()):]) {
			t.Fatalf("%s holds the secret", f)
		}
	}
}
