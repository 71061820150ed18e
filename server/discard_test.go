package server_test

import (
	"context"
	"strings"
	"testing"

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
