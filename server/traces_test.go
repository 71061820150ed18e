package server_test

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// otlpReceiver is an OTLP/gRPC trace collector in the test.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   strings.Builder // every request as JSON, to scan for secrets
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw.WriteString(protojson.Format(req))
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func startOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "listen", err)
	r := &otlpReceiver{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, r)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return r, l.Addr().String()
}

// With the standard OTEL_* variables pointing at an OTLP receiver, a node
// sends a span for every RPC, with the store, bus and sink calls below it:
// Connect carries the workspace and the key's display prefix, and nothing
// exported holds the secret.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	rec, addr := startOTLPReceiver(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_SERVICE_NAME", "ingestgate-under-test")
	n := servertest.Start(t)
	key, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "traced", secret)
	d.send(2, records("r", 3)...)
	d.waitAcks(2)
	d.cancel()
	<-d.done
	_, err := ingestgatev1.NewTelemetryServiceClient(n.Conn).Publish(deviceCtx(context.Background(), "traced", secret), &ingestgatev1.PublishRequest{Records: records("p", 2)})
	check(t, "publish", err)
	n.Stop() // flushes the exporter

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var connect *tracepb.Span
	for _, s := range rec.spans {
		if s.GetName() == "ingestgate.v1.TelemetryService/Connect" {
			connect = s
		}
	}
	if connect == nil {
		t.Fatalf("no Connect span among %d spans", len(rec.spans))
	}
	attrs := map[string]string{}
	for _, a := range connect.GetAttributes() {
		attrs[a.GetKey()] = a.GetValue().GetStringValue()
	}
	if attrs["ingestgate.workspace_id"] != ws || attrs["ingestgate.key_prefix"] != key.GetDisplayPrefix() {
		t.Fatalf("Connect span attributes %v, want the workspace and the key prefix", attrs)
	}
	// The node's log lines inside the call carry its trace id.
	if id := hex.EncodeToString(connect.GetTraceId()); !strings.Contains(n.Logs.String(), "trace_id="+id) {
		t.Errorf("no log line with the Connect span's trace_id=%s", id)
	}

	// Below the RPCs: the store's SQL statements (otelsql on SQLite), the
	// key event's broadcast, the Publish's sink append; and a consumer
	// span where the node applied the event the bus brought back.
	byName := map[string][]*tracepb.Span{}
	byID := map[string]*tracepb.Span{}
	for _, s := range rec.spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
		byID[string(s.GetSpanId())] = s
	}
	parentName := func(s *tracepb.Span) string { return byID[string(s.GetParentSpanId())].GetName() }
	childOf := func(name, parent string) *tracepb.Span {
		for _, s := range byName[name] {
			if parentName(s) == parent {
				return s
			}
		}
		return nil
	}
	if childOf("key_event publish", "ingestgate.v1.IngestKeyService/CreateIngestKey") == nil {
		t.Error("no key_event publish span under CreateIngestKey")
	}
	if sp := childOf("sink append", "ingestgate.v1.TelemetryService/Publish"); sp == nil {
		t.Error("no sink append span under Publish")
	}
	sql := 0
	for _, s := range rec.spans {
		for _, a := range s.GetAttributes() {
			if a.GetKey() == "db.system.name" && a.GetValue().GetStringValue() == "sqlite" && strings.HasPrefix(parentName(s), "ingestgate.v1.") {
				sql++
			}
		}
	}
	if sql == 0 {
		t.Error("no SQL statement spans under the RPCs")
	}
	consumed := false
	for _, s := range byName["key_event receive"] {
		consumed = consumed || (len(s.GetParentSpanId()) == 0 && s.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER)
	}
	if !consumed {
		t.Error("no root consumer span for a key event received from the bus")
	}
	if t.Failed() {
		for _, s := range rec.spans {
			t.Logf("span %q under %q", s.GetName(), parentName(s))
		}
	}
	raw := rec.raw.String()
	if !strings.Contains(raw, "ingestgate-under-test") {
		t.Error("OTEL_SERVICE_NAME did not name the service")
	}
	if strings.Contains(raw, secret) || strings.Contains(raw, n.AdminKey) {
		t.Fatal("an exported span holds a secret")
	}
}
