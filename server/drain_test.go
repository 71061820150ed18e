package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
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
