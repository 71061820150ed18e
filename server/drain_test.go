package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// A node stopped (as on SIGTERM) while an SDK streams through it tells the
// stream SERVER_SHUTDOWN, acks what it took, and the SDK carries on through
// the second node of the cluster: every record sent is stored exactly
// once (the nodes share the Redis sink).
func TestDrainMovesDevicesToAnotherNode(t *testing.T) {
	nodes := startCluster(t, 2, servertest.RedisURL(t), func(c *server.Config) { c.Sink = "redis" })
	a, b := nodes[0], nodes[1]
	_, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{})

	// One target, both nodes, tried in order: A first.
	r := manual.NewBuilderWithScheme("drain")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a.GRPCAddr}, {Addr: b.GRPCAddr}}})
	c, err := sdk.Dial(context.Background(), "drain:///nodes", "drained", secret, sdk.WithPlaintext(),
		sdk.WithDialOptions(grpc.WithResolvers(r)), sdk.WithBackoff(20*time.Millisecond, 200*time.Millisecond), sdk.WithLinger(time.Millisecond))
	check(t, "dial", err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	const total = 600
	for i := range total {
		check(t, "send", c.Send(ctx, record(fmt.Sprint("r-", i), float64(i))))
		if i == total/3 {
			check(t, "flush before the drain", c.Flush(ctx))
			a.Stop() // graceful: Goodbye SERVER_SHUTDOWN, acks, then close
		}
	}
	check(t, "flush after the drain", c.Flush(ctx))
	st := c.Stats()
	if st.RecordsAcked < total || st.Reconnects == 0 {
		t.Fatalf("stats %+v: want every record acked after at least one reconnect", st)
	}
	seen := map[string]int{}
	for _, e := range readAll(t, b, "drained") {
		seen[e.GetRecord().GetName()]++
	}
	for i := range total {
		if name := fmt.Sprint("r-", i); seen[name] != 1 {
			t.Fatalf("record %s stored %d times, want 1", name, seen[name])
		}
	}
	t.Logf("%d records acked, %d reconnects, %d resent", st.RecordsAcked, st.Reconnects, st.RecordsResent)
}

// With a drain delay a stopping node first says it is not ready (/readyz
// 503, gRPC health NOT_SERVING) and keeps serving meanwhile: a stream
// open during the delay still has its batches acked, and a device may
// still connect. After the delay the streams are told SERVER_SHUTDOWN.
func TestDrainDelayTurnsNotReadyFirst(t *testing.T) {
	const delay = 2 * time.Second
	n := servertest.Start(t, func(c *server.Config) { c.DrainDelay = delay })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	// The node's own test connection closes when Stop begins; the device
	// and the prober have theirs.
	cc, err := grpc.NewClient(n.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	check(t, "dial", err)
	defer cc.Close()
	d := dialOn(t, cc, "draining", secret)
	d.send(1, record("before", 1))
	d.waitAcks(1)

	stopped := make(chan struct{})
	start := time.Now()
	go func() { n.Stop(); close(stopped) }()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/readyz")
		check(t, "GET /readyz while draining", err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if !strings.Contains(string(body), "shutting down") {
				t.Fatalf("/readyz while draining: %s", body)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("/readyz still %d after Stop", resp.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("gRPC health while draining: %v %v, want NOT_SERVING", h.GetStatus(), err)
	}
	check(t, "send while draining", d.send(2, record("during", 2)))
	d.waitAcks(2)
	late := dialOn(t, cc, "late", secret)
	late.send(1, record("late", 1))
	late.waitAcks(1)
	if d.ended() || time.Since(start) >= delay {
		t.Fatalf("stream ended=%v after %v: the checks above took longer than the delay", d.ended(), time.Since(start))
	}

	d.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_SERVER_SHUTDOWN, codes.Unavailable)
	late.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_SERVER_SHUTDOWN, codes.Unavailable)
	if waited := time.Since(start); waited < delay {
		t.Fatalf("streams told to leave %v after Stop, before the %v drain delay", waited, delay)
	}
	<-stopped
}
