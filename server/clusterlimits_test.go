package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// A key's and a device's stream limits hold across the cluster: with one
// stream on A and one on B, a key limited to 2 has no seat left on C, and
// closing A's stream frees it. A device limited to 1 stream gets none on a
// second node.
func TestClusterStreamLimits(t *testing.T) {
	nodes := startCluster(t, 3, servertest.RedisURL(t), func(c *server.Config) { c.MaxStreamsPerDevice = 1 })
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{MaxStreams: 2}})
	onA := openStream(t, a, "dev-a", secret)
	openStream(t, b, "dev-b", secret)
	d := dial(t, c, "dev-c", secret)
	if _, st := d.waitEnd(); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "across the cluster") {
		t.Fatalf("third stream of a key limited to 2, on C: %v %q, want RESOURCE_EXHAUSTED across the cluster", st.Code(), st.Message())
	}
	onA.cancel()
	<-onA.done
	// The seat is given back when A's handler ends, just after the client
	// saw its stream end.
	var st *status.Status
	for deadline := time.Now().Add(waitFor); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d := dial(t, c, "dev-c", secret)
		d.send(1, record("boot", 1))
		d.until("an ack or the end", func() bool { return len(d.acks) > 0 || d.end != nil })
		if d.ackCount() > 0 {
			st = nil
			break
		}
		_, st = d.waitEnd()
	}
	if st != nil {
		t.Fatalf("C still refused after A's stream closed: %v", st)
	}

	_, other := newIngestKey(t, a, &ingestgatev1.IngestKey{})
	openStream(t, a, "one-stream-device", other)
	d = dial(t, b, "one-stream-device", other)
	if _, st := d.waitEnd(); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "device one-stream-device") {
		t.Fatalf("second stream of a device limited to 1, on B: %v %q", st.Code(), st.Message())
	}
}

// A key's records per second is one budget across the cluster: what a
// device spends through A, another cannot spend again through B.
func TestClusterRateLimit(t *testing.T) {
	nodes := startCluster(t, 2, servertest.RedisURL(t), func(c *server.Config) { c.MaxRecordsPerBatch = 5 })
	a, b := nodes[0], nodes[1]
	_, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 1}})
	publish := func(n *servertest.Node, device string) error {
		_, err := ingestgatev1.NewTelemetryServiceClient(n.Conn).Publish(deviceCtx(t.Context(), device, secret), &ingestgatev1.PublishRequest{Records: records("r", 5)})
		return err
	}
	check(t, "the burst through A", publish(a, "dev-1"))
	err := publish(b, "dev-2")
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("5 more records through B right after A spent the burst (1/s, burst 5): %v, want RESOURCE_EXHAUSTED", err)
	}
	var wait time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			wait = ri.GetRetryDelay().AsDuration()
		}
	}
	// 5 records at 1/s: the bucket is full again in about 5 s.
	if wait < 3*time.Second || wait > 6*time.Second {
		t.Fatalf("RetryInfo %v, want about 5s", wait)
	}
	if got := len(readAll(t, b, "dev-2")); got != 0 {
		t.Fatalf("B stored %d refused records", got)
	}
	t.Logf("B told to retry after %v", wait)
}
