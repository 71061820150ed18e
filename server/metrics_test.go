package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// scrape reads /metrics and returns each sample line's value by its series
// (name and labels as printed).
func scrape(t *testing.T, n *servertest.Node) (map[string]float64, string) {
	t.Helper()
	resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/metrics")
	check(t, "GET /metrics", err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, raw)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, string(raw)
}

// series finds the one series of name whose labels include every want
// label (k="v"), ignoring the others (otel scope, service).
func series(t *testing.T, m map[string]float64, raw, name string, want ...string) float64 {
	t.Helper()
	var found []float64
	for s, v := range m {
		if !strings.HasPrefix(s, name+"{") && s != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d series %s%v in /metrics:\n%s", len(found), name, want, raw)
	}
	return found[0]
}

// After a stream session /metrics holds what happened, with the expected
// values: streams opened, closed by reason and live, records and batches
// by transport, an ack latency per acked batch, refused credentials by
// kind, key events, the revocation's propagation; and no secret or id.
func TestMetricsAfterAStreamSession(t *testing.T) {
	n := servertest.Start(t)
	key, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "metered", secret) // batch 1: 1 record
	d.send(2, records("r", 5)...)
	d.send(3, records("r", 5)...)
	d.waitAcks(3)
	_, err := ingestgatev1.NewTelemetryServiceClient(n.Conn).Publish(deviceCtx(context.Background(), "metered", secret), &ingestgatev1.PublishRequest{Records: records("p", 4)})
	check(t, "publish", err)
	bad := dial(t, n, "metered", strings.Replace(secret, secret[10:14], "zzzz", 1))
	if _, st := bad.waitEnd(); st.Code() != codes.Unauthenticated {
		t.Fatalf("bad key: %v", st)
	}
	_, err = keysClient(n).RevokeIngestKey(adminCtx(n), &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: key.GetId(), Reason: "metrics"})
	check(t, "revoke", err)
	d.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, codes.Unauthenticated)

	_, err = healthpb.NewHealthClient(n.Conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	check(t, "health check", err)

	m, raw := scrape(t, n)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ingestgate_streams_opened_total", nil, 1},
		{"ingestgate_streams_closed_total", []string{`reason="key_revoked"`}, 1},
		{"ingestgate_streams_live", nil, 0},
		{"ingestgate_records_ingested_total", []string{`transport="stream"`}, 11},
		{"ingestgate_batches_ingested_total", []string{`transport="stream"`}, 3},
		{"ingestgate_records_ingested_total", []string{`transport="publish"`}, 4},
		{"ingestgate_batches_ingested_total", []string{`transport="publish"`}, 1},
		{"ingestgate_ack_latency_seconds_count", nil, 3},
		{"ingestgate_auth_failures_total", []string{`credential="ingest_key"`}, 1},
		{"ingestgate_revocation_propagation_seconds_count", nil, 1},
		// The sink stored the 3 stream batches and the publish, in as many
		// commits as it took.
		{"ingestgate_sink_commit_batches_sum", nil, 4},
		// The ingest key was read from the store once (the stream's
		// connect), then found in the cache (the publish); the bad key
		// was malformed, which never reaches the cache.
		{"ingestgate_auth_cache_lookups_total", []string{`credential="ingest_key"`, `result="miss"`}, 1},
		{"ingestgate_auth_cache_lookups_total", []string{`credential="ingest_key"`, `result="hit"`}, 1},
		{"ingestgate_auth_cache_lookups_total", []string{`credential="ingest_key"`, `result="negative_hit"`}, 0},
		{"ingestgate_dependency_up", []string{`dependency="store"`}, 1},
	} {
		if got := series(t, m, raw, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	commits := series(t, m, raw, "ingestgate_sink_commit_duration_seconds_count", `outcome="ok"`)
	if n := series(t, m, raw, "ingestgate_sink_commit_batches_count"); commits < 1 || commits > 4 || n != commits {
		t.Errorf("%v sink commits timed, %v sized; want the same number, 1 to 4", commits, n)
	}
	if series(t, m, raw, "ingestgate_auth_cache_lookups_total", `credential="api_key"`, `result="hit"`) < 1 {
		t.Error("the admin key's cached checks are not counted")
	}
	if strings.Contains(raw, `outcome="error"`) {
		t.Error("a sink commit failed")
	}
	if strings.Contains(raw, `dependency="redis"`) {
		t.Error("a node without Redis reports Redis availability")
	}
	// Every committed change was broadcast: the key's creation, the
	// device's registration, the revocation.
	if got := series(t, m, raw, "ingestgate_key_events_published_total"); got < 3 {
		t.Errorf("key events published = %v, want at least 3", got)
	}
	if !strings.Contains(raw, `rpc_server_call_duration_seconds`) && !strings.Contains(raw, `rpc_server_duration`) {
		t.Errorf("no gRPC server metrics from otelgrpc in /metrics")
	}
	for what, s := range map[string]string{"secret": secret, "key id": key.GetId(), "device id": "metered", "display prefix": key.GetDisplayPrefix()} {
		if strings.Contains(raw, s) {
			t.Errorf("the %s appears in /metrics", what)
		}
	}
	if strings.Contains(raw, "grpc.health.v1") {
		t.Error("health checks are measured; they should be left out")
	}
	checkDashboard(t, raw)
}

// checkDashboard finds every metric the Grafana dashboard in deploy/
// queries among the series a node exported after a session, so the
// dashboard cannot drift from the metrics.
func checkDashboard(t *testing.T, raw string) {
	t.Helper()
	file, err := os.ReadFile("../deploy/grafana/dashboards/ingestgate.json")
	check(t, "read the dashboard", err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	check(t, "parse the dashboard", json.Unmarshal(file, &dash))
	names := regexp.MustCompile(`\b(ingestgate|rpc_server)_[a-z_]+\b`)
	queries := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			queries++
			for _, m := range names.FindAllString(q.Expr, -1) {
				if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(raw) {
					t.Errorf("dashboard panel %q queries %s, which /metrics does not have", p.Title, m)
				}
			}
		}
	}
	if queries < 10 {
		t.Fatalf("the dashboard has %d queries", queries)
	}
}

// /readyz says whether the store and Redis answer.
func TestReadyz(t *testing.T) {
	redis := startOwnRedis(t, false)
	n := servertest.Start(t, func(c *server.Config) { c.Redis, c.RedisPrefix = redis.url(), servertest.RedisPrefix(t) })
	get := func() (int, string) {
		resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/readyz")
		check(t, "GET /readyz", err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	up := func(dep string) float64 {
		m, raw := scrape(t, n)
		return series(t, m, raw, "ingestgate_dependency_up", `dependency="`+dep+`"`)
	}
	if code, body := get(); code != 200 || !strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("healthy node: %d %s", code, body)
	}
	if up("redis") != 1 || up("store") != 1 {
		t.Fatal("/metrics: a dependency of a healthy node is down")
	}
	redis.stop()
	if code, body := get(); code != 503 || !strings.Contains(body, `"redis":"unavailable"`) {
		t.Fatalf("without Redis: %d %s", code, body)
	}
	if up("redis") != 0 || up("store") != 1 {
		t.Fatal("/metrics: want redis down and the store up")
	}
	// Liveness does not depend on Redis.
	resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/healthz")
	check(t, "GET /healthz", err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz without Redis: %d", resp.StatusCode)
	}
}
