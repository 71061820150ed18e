package server_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// The discard sink (the benchmarks' ceiling) is refused unless asked for
// explicitly; asked for, it acks batches, stores nothing and says so.
func TestDiscardSinkOnlyWhenAskedFor(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DataDir, cfg.Sink = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), server.SinkDiscard
	if _, err := server.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "benchmarks only") {
		t.Fatalf("discard sink without the flag: %v, want a refusal", err)
	}
	n := servertest.Start(t, func(c *server.Config) { c.Sink, c.AllowDiscardSink = server.SinkDiscard, true })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "bench", secret)
	d.send(2, records("r", 10)...)
	d.waitAcks(2)
	if got := readAll(t, n, "bench"); len(got) != 0 {
		t.Fatalf("the discard sink stored %d entries", len(got))
	}
	if !strings.Contains(n.Logs.String(), "BENCHMARK MODE") {
		t.Error("no warning that telemetry is not stored")
	}
}

// Profiles are served on their own loopback listener when asked for, and
// never beyond loopback.
func TestPprofOnLoopbackOnly(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DataDir, cfg.PprofAddr = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), "0.0.0.0:6060"
	if _, err := server.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("pprof beyond loopback: %v, want a refusal", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "listen", err)
	addr := l.Addr().String()
	l.Close()
	n := servertest.Start(t, func(c *server.Config) { c.PprofAddr = addr })
	resp, err := servertest.HTTPClient.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	check(t, "GET a profile", err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	if resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/debug/pprof/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the API port serves profiles")
		}
	}
}

// A stream that keeps sending outlives the idle timeout; one that stops is
// closed (UNAVAILABLE, no Goodbye: reconnecting with data is fine) about a
// timeout after its last batch.
func TestIdleStreamsAreClosed(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n := servertest.Start(t, func(c *server.Config) { c.StreamIdleTimeout = timeout })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	d := openStream(t, n, "chatty", secret)
	for seq := uint64(2); seq <= 8; seq++ { // 700ms of batches, every 100ms
		time.Sleep(100 * time.Millisecond)
		check(t, "send", d.send(seq, record("r", 1)))
	}
	d.waitAcks(8)
	if d.ended() {
		t.Fatalf("a stream sending every 100ms was closed as idle: %v", d.end)
	}
	last := time.Now()
	gb, st := d.waitEnd()
	if gb != nil || st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "idle") {
		t.Fatalf("idle stream ended with goodbye %v, status %v", gb, st)
	}
	if idle := time.Since(last); idle < timeout-50*time.Millisecond {
		t.Fatalf("closed %v after its last batch, before the %v idle timeout", idle, timeout)
	}
}
