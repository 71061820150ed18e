package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

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
