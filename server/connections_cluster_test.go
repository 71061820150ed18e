package server_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// defaultNodeName is the name a node gets without --node-name.
func defaultNodeName(t *testing.T, n *servertest.Node) string {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(n.GRPCAddr)
	return net.JoinHostPort(host, port)
}

// Two nodes sharing Redis and PostgreSQL: asking either lists both nodes'
// streams with live counters and the holding node's name; a closed stream
// and a stopped node's streams disappear; a node that does not answer makes
// the answer partial until its lease expires.
func TestClusterListConnections(t *testing.T) {
	redisURL := servertest.RedisURL(t)
	prefix := servertest.RedisPrefix(t)
	nodes := startCluster(t, 2, redisURL, func(c *server.Config) { c.RedisPrefix = prefix })
	a, b := nodes[0], nodes[1]
	key, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{})
	openStream(t, a, "on-a", secret)
	time.Sleep(2 * time.Millisecond)
	onB := openStream(t, b, "on-b", secret)

	all := &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws}
	r := waitConns(t, a, all, "on-b", "on-a")
	if r.GetPartial() {
		t.Fatal("partial with every node up")
	}
	if c := r.GetConnections()[0]; c.GetNode() != defaultNodeName(t, b) || c.GetIngestKeyId() != key.GetId() || c.GetIngestKeyDisplayPrefix() != key.GetDisplayPrefix() || c.GetRecords() != 1 {
		t.Fatalf("B's stream as A lists it: %v, want node %s", c, defaultNodeName(t, b))
	}
	if c := r.GetConnections()[1]; c.GetNode() != defaultNodeName(t, a) {
		t.Fatalf("A's stream: %v", c)
	}
	// Filters apply on every node, and counters are live.
	onB.send(2, records("more", 4)...)
	onB.waitAcks(2)
	byDev := listConns(t, a, a.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws, DeviceId: "on-b"})
	if len(byDev.GetConnections()) != 1 || byDev.GetConnections()[0].GetRecords() != 5 {
		t.Fatalf("on-b through A after 4 more records: %v", byDev)
	}
	// Another workspace's stream on B is not listed for this one.
	if _, err := ingestgatev1.NewWorkspaceServiceClient(a.Conn).CreateWorkspace(adminCtx(a), &ingestgatev1.CreateWorkspaceRequest{Workspace: &ingestgatev1.Workspace{Id: "globex"}}); err != nil {
		t.Fatal(err)
	}
	kg, err := keysClient(a).CreateIngestKey(adminCtx(a), &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: "globex", IngestKey: &ingestgatev1.IngestKey{Name: "g"}})
	check(t, "create globex key", err)
	openStream(t, b, "globex-dev", kg.GetSecret())
	waitConns(t, a, &ingestgatev1.ListConnectionsRequest{WorkspaceId: "globex"}, "globex-dev")
	waitConns(t, a, all, "on-b", "on-a")

	// A node that is a member but never answers (as one that died without
	// leaving) makes the answer partial, with what the others said, until
	// its lease runs out.
	rc := goredis.NewClient(mustParseRedis(t, redisURL))
	defer rc.Close()
	now, err := rc.Time(context.Background()).Result()
	check(t, "redis time", err)
	check(t, "add a silent member", rc.ZAdd(context.Background(), prefix+"connections:nodes", goredis.Z{Score: float64(now.Add(3 * time.Second).UnixMilli()), Member: "silent"}).Err())
	start := time.Now()
	r = listConns(t, a, a.AdminKey, all)
	if !r.GetPartial() || len(r.GetConnections()) != 2 {
		t.Fatalf("with a silent member: partial=%v %v", r.GetPartial(), connDevices(r))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the listing waited %v for a silent member", d)
	}
	time.Sleep(time.Until(now.Add(3 * time.Second)))
	if r = listConns(t, a, a.AdminKey, all); r.GetPartial() {
		t.Fatal("still partial after the silent member's lease expired")
	}

	// A closed stream on B disappears from A's listing.
	onB.cancel()
	waitConns(t, a, all, "on-a")
	// So do the streams of a node that stops, at once: it leaves the set.
	again := openStream(t, b, "on-b-again", secret)
	waitConns(t, a, all, "on-b-again", "on-a")
	_ = again
	b.Stop()
	r = listConns(t, a, a.AdminKey, all)
	if got := connDevices(r); len(got) != 1 || got[0] != "on-a" || r.GetPartial() {
		t.Fatalf("after B stopped: %v partial=%v", got, r.GetPartial())
	}
}

// With Redis down, a node lists its own streams at once and says the list
// may be incomplete; streams keep opening.
func TestClusterListConnectionsRedisDown(t *testing.T) {
	redis := startOwnRedis(t, false)
	nodes := startCluster(t, 2, redis.url())
	a := nodes[0]
	_, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{})
	openStream(t, a, "before", secret)
	openStream(t, nodes[1], "elsewhere", secret)
	waitConns(t, a, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws}, "elsewhere", "before")
	redis.stop()
	openStream(t, a, "during", secret)
	start := time.Now()
	r := listConns(t, a, a.AdminKey, &ingestgatev1.ListConnectionsRequest{WorkspaceId: ws})
	if got := connDevices(r); !r.GetPartial() || len(got) != 2 || got[0] != "during" || got[1] != "before" {
		t.Fatalf("with Redis down: %v partial=%v", got, r.GetPartial())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("listing with Redis down took %v", d)
	}
}

func mustParseRedis(t *testing.T, url string) *goredis.Options {
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
