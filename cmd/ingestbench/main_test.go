package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

func noEnv(string) string { return "" }

// benchJSON runs ingestbench with args and decodes its JSON result.
func benchJSON(t *testing.T, args ...string) result {
	t.Helper()
	var out, errs bytes.Buffer
	if rc := run(context.Background(), append(args, "--json"), &out, &errs, noEnv); rc != 0 {
		t.Fatalf("ingestbench %v: rc %d: %s", args, rc, errs.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	return r
}

// Ingest runs against a real node: what they report acked was stored,
// the counts agree, a second run's batches are new to the node (not acked
// as duplicates of the first's, which would measure the dedupe check
// instead of the sink), and the keys made for the runs are gone after.
func TestIngestAgainstANode(t *testing.T) {
	n := servertest.Start(t)
	var records int64
	var r result
	for range 2 {
		r = benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--api-key", n.AdminKey, "--devices", "3", "--conns", "2",
			"--batch", "5", "--duration", "1s", "--warmup", "200ms")
		if r.Records == 0 || r.Records != 5*r.Batches || r.Duplicates != 0 || len(r.ErrorsByCode) != 0 || r.Connections != 2 {
			t.Fatalf("result %+v: want records acked, 5 per batch, none a duplicate, on 2 connections, no errors", r)
		}
		records += r.Records
	}
	if r.LatencyMs.P50 <= 0 || r.LatencyMs.P99 < r.LatencyMs.P50 || r.LatencyMs.Max < r.LatencyMs.P99 {
		t.Fatalf("latency %+v is not ordered", r.LatencyMs)
	}
	// Warmup batches are stored but not counted: at least what was counted
	// reads back, for every device.
	stored := 0
	for _, d := range []string{"bench-0", "bench-1", "bench-2"} {
		got := len(n.ReadTelemetry(t, "default", d))
		if got == 0 {
			t.Fatalf("nothing stored for %s", d)
		}
		stored += got
	}
	if int64(stored) < records {
		t.Fatalf("%d records stored, fewer than the %d the two runs reported acked", stored, records)
	}
	keys, err := ingestgatev1.NewIngestKeyServiceClient(n.Conn).ListIngestKeys(servertest.WithKey(context.Background(), n.AdminKey), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: "default"})
	if err != nil || len(keys.GetIngestKeys()) != 0 {
		t.Fatalf("keys after the run: %v %v, want the run's key deleted", keys.GetIngestKeys(), err)
	}
}

// The unary Publish path: each batch a call, its reply the ack.
func TestIngestWithPublish(t *testing.T) {
	n := servertest.Start(t)
	r := benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--api-key", n.AdminKey, "--publish", "--devices", "2", "--batch", "3",
		"--window", "4", "--duration", "500ms", "--warmup", "100ms")
	if r.Records == 0 || r.Records != 3*r.Batches || len(r.ErrorsByCode) != 0 || !strings.HasSuffix(r.TargetAddress, "(Publish)") {
		t.Fatalf("result %+v", r)
	}
	if got := len(n.ReadTelemetry(t, "default", "bench-1")); int64(got) < r.Records/2 {
		t.Fatalf("%d records stored for bench-1", got)
	}
}

// The HTTP devices' path: each batch a POST /v1/telemetry, its 200 the
// ack; a refused key is counted by its HTTP status.
func TestIngestWithREST(t *testing.T) {
	n := servertest.Start(t)
	r := benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--api-key", n.AdminKey, "--rest", n.BaseURL(), "--devices", "2", "--batch", "3",
		"--window", "2", "--duration", "500ms", "--warmup", "100ms")
	if r.Records == 0 || r.Records != 3*r.Batches || len(r.ErrorsByCode) != 0 || !strings.HasSuffix(r.TargetAddress, "(REST)") {
		t.Fatalf("result %+v", r)
	}
	if got := len(n.ReadTelemetry(t, "default", "bench-0")); int64(got) < r.Records/2 {
		t.Fatalf("%d records stored for bench-0", got)
	}
	// One request at a time: the node holds back its answers to an
	// address once several have failed at once, and a window of them
	// could all be held past the run.
	bogus := "ig_ikv1_" + strings.Repeat("A", 43)
	bad := benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--key", bogus, "--rest", n.BaseURL(), "--devices", "1", "--window", "1",
		"--duration", "1s", "--warmup", "0s")
	if bad.Records != 0 || bad.ErrorsByCode["HTTP 401"] == 0 {
		t.Fatalf("refused key: %+v, want HTTP 401 errors only", bad)
	}
}

// ingestbench loads this machine only.
func TestLoopbackOnly(t *testing.T) {
	for _, args := range [][]string{
		{"ingest", "--addr", "192.0.2.1:50051", "--key", "k"},
		{"ingest", "--mqtt", "mqtt://u:secret-pw@192.0.2.1:1883"},
		{"ingest", "--addr", "127.0.0.1:1", "--key", "k", "--rest", "http://192.0.2.1:8080"},
		{"connect", "--addr", "192.0.2.1:50051", "--key", "k"},
		{"revoke", "--addrs", "127.0.0.1:1,192.0.2.1:50051", "--api-key", "k"},
	} {
		var stdout, stderr strings.Builder
		if rc := run(t.Context(), args, &stdout, &stderr, noEnv); rc == 0 || !strings.Contains(stderr.String(), "not a loopback address") {
			t.Errorf("%q: rc %d, stderr %q; want a refusal of the non-loopback target", args, rc, stderr.String())
		}
		if strings.Contains(stderr.String()+stdout.String(), "secret-pw") {
			t.Errorf("%q: the output shows the broker password", args)
		}
	}
}

// A key the node refuses shows up as errors by code, not as throughput.
func TestIngestCountsRefusals(t *testing.T) {
	n := servertest.Start(t)
	bogus := "ig_ikv1_" + strings.Repeat("A", 43) // well formed? the node decides
	r := benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--key", bogus, "--devices", "2", "--duration", "500ms", "--warmup", "0s")
	if r.Records != 0 || r.ErrorsByCode["Unauthenticated"] == 0 {
		t.Fatalf("result %+v: want no records and Unauthenticated errors", r)
	}
}

// The same workload against Mosquitto: PUBACKs are counted as acks.
func TestIngestAgainstMosquitto(t *testing.T) {
	url := testservices.Mosquitto(t)
	r := benchJSON(t, "ingest", "--mqtt", url, "--devices", "3", "--batch", "10", "--duration", "1s", "--warmup", "200ms")
	if r.Records == 0 || r.Records != 10*r.Batches || len(r.ErrorsByCode) != 0 || !strings.HasPrefix(r.TargetAddress, "mqtt://127.0.0.1:") {
		t.Fatalf("result %+v: want acked publishes and no errors", r)
	}
	if strings.Contains(r.TargetAddress, "bench-password") {
		t.Fatal("the result shows the broker password")
	}
	bad := benchJSON(t, "ingest", "--mqtt", strings.Replace(url, "bench-password", "wrong", 1), "--devices", "1", "--duration", "300ms", "--warmup", "0s")
	if bad.Records != 0 || len(bad.ErrorsByCode) == 0 {
		t.Fatalf("wrong broker password: %+v, want errors only", bad)
	}
}

// decode runs ingestbench with args (plus --json) into v.
func decode(t *testing.T, v any, args ...string) {
	t.Helper()
	var out, errs bytes.Buffer
	if rc := run(context.Background(), append(args, "--json"), &out, &errs, noEnv); rc != 0 {
		t.Fatalf("ingestbench %v: rc %d: %s", args, rc, errs.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
}

// A revocation timed over two nodes closes every stream of the key and
// none of the other key's.
func TestRevokeAcrossNodes(t *testing.T) {
	redis, prefix := testservices.RedisURL(t), testservices.RedisPrefix(t)
	db := testservices.PostgresDB(t)
	cluster := func(c *server.Config) { c.Store, c.Redis, c.RedisPrefix = db, redis, prefix }
	a := servertest.Start(t, cluster)
	b := servertest.Start(t, cluster) // the store is bootstrapped: a.AdminKey works on both
	var r revokeResult
	decode(t, &r, "revoke", "--addrs", a.GRPCAddr+","+b.GRPCAddr, "--api-key", a.AdminKey, "--streams", "20", "--others", "6", "--reps", "2")
	if r.Nodes != 2 || r.Reps != 2 || r.WronglyClosed != 0 || r.LastClosedAfterCallMs.Max <= 0 || r.StreamClosedAfterCallMs.P50 > r.LastClosedAfterCallMs.Max {
		t.Fatalf("result %+v", r)
	}
}

// Idle streams opened with the node's metrics read: every stream opens and
// each costs the node memory and goroutines.
func TestConnectReadsTheNodesMemory(t *testing.T) {
	n := servertest.Start(t)
	var r connectResult
	decode(t, &r, "connect", "--addr", n.GRPCAddr, "--api-key", n.AdminKey, "--streams", "50", "--conns", "5",
		"--metrics", n.BaseURL()+"/metrics", "--settle", "100ms")
	if r.Opened != 50 || len(r.Errors) != 0 || r.RSSAfterBytes <= 0 || r.GoroutinesPerStream < 1 {
		t.Fatalf("result %+v", r)
	}
}

// With the node's metrics read, the result says what the node itself saw
// over the measured time: its CPU and its own ack latency, for about the
// acks the generator counted.
func TestIngestReadsTheNodesMetrics(t *testing.T) {
	n := servertest.Start(t)
	r := benchJSON(t, "ingest", "--addr", n.GRPCAddr, "--api-key", n.AdminKey, "--devices", "3", "--batch", "2",
		"--duration", "1s", "--warmup", "200ms", "--metrics", n.BaseURL()+"/metrics")
	s := r.Server
	if s == nil || s.CPUSeconds <= 0 || s.CoresBusy <= 0 || s.BatchesPerCore <= 0 {
		t.Fatalf("node's side %+v of result %+v: want its CPU", s, r)
	}
	if diff := s.StreamAcks - r.Batches; s.StreamAcks <= 0 || diff > r.Batches/2 || -diff > r.Batches/2 {
		t.Fatalf("the node acked %d batches while the generator counted %d: want about as many", s.StreamAcks, r.Batches)
	}
	if q := s.AckLatencyMs; q == nil || q.P50 <= 0 || q.P90 < q.P50 || q.P99 < q.P90 {
		t.Fatalf("node's ack latency %+v: want ordered quantiles", q)
	}
}

// An MQTT broker has no node metrics to read.
func TestIngestRefusesMetricsForMQTT(t *testing.T) {
	var out, errs bytes.Buffer
	if rc := run(context.Background(), []string{"ingest", "--mqtt", "mqtt://u:p@127.0.0.1:1", "--metrics", "http://127.0.0.1:1/metrics"}, &out, &errs, noEnv); rc != 2 || !strings.Contains(errs.String(), "--metrics") {
		t.Fatalf("rc %d, stderr %q: want a usage error naming --metrics", rc, errs.String())
	}
}
