package server_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// startCluster starts n nodes sharing one fresh PostgreSQL database and one
// Redis channel, each with its own ports and data directory (embedded
// sink). The first node bootstraps the store; the others share its admin
// key.
func startCluster(t testing.TB, n int, redisURL string, opts ...servertest.Option) []*servertest.Node {
	t.Helper()
	store := servertest.PostgresDB(t)
	prefix := servertest.RedisPrefix(t)
	var nodes []*servertest.Node
	admin := ""
	for range n {
		o := append([]servertest.Option{func(c *server.Config) {
			c.Store, c.Redis, c.RedisPrefix = store, redisURL, prefix
			if admin != "" {
				c.BootstrapAPIKey = admin
			}
		}}, opts...)
		node := servertest.Start(t, o...)
		admin = node.AdminKey
		nodes = append(nodes, node)
	}
	return nodes
}

// openStreams opens perNode streams of secret on every node, concurrently.
func openStreams(t *testing.T, nodes []*servertest.Node, secret, name string, perNode int) [][]*devStream {
	t.Helper()
	out := make([][]*devStream, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range nodes {
		for j := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := openStream(t, n, fmt.Sprintf("%s-%d-%d", name, i, j), secret)
				mu.Lock()
				out[i] = append(out[i], d)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// Three nodes, one PostgreSQL, one Redis: a key revoked through node A
// closes its streams on A, B and C with the documented Goodbye and status;
// another key's streams on every node keep flowing.
func TestClusterRevocationReachesEveryNode(t *testing.T) {
	nodes := startCluster(t, 3, servertest.RedisURL(t))
	a := nodes[0]
	doomed, doomedSecret := newIngestKey(t, a, &ingestgatev1.IngestKey{Name: "doomed"})
	_, keptSecret := newIngestKey(t, nodes[1], &ingestgatev1.IngestKey{Name: "kept"}) // created through B: one store
	hit := openStreams(t, nodes, doomedSecret, "hit", 10)
	kept := openStreams(t, nodes, keptSecret, "kept", 10)

	_, err := keysClient(a).RevokeIngestKey(adminCtx(a), &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: doomed.GetId(), Reason: "stolen"})
	returned := time.Now()
	check(t, "revoke through A", err)
	for i, streams := range hit {
		var last time.Time
		for _, d := range streams {
			d.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, codes.Unauthenticated)
			if now := time.Now(); now.After(last) {
				last = now
			}
		}
		t.Logf("node %c: its 10 streams ended within %v of the revoke returning on A (upper bound: includes the test's own checking)", 'A'+i, last.Sub(returned).Round(time.Microsecond))
	}
	for _, streams := range kept {
		for _, d := range streams {
			d.send(2, record("after", 1))
		}
		for _, d := range streams {
			d.waitAcks(2)
		}
	}
	// The key is refused at connect on every node (no stale cache).
	for _, n := range nodes {
		d := dial(t, n, "late", doomedSecret)
		if _, st := d.waitEnd(); st.Code() != codes.Unauthenticated {
			t.Fatalf("revoked key at connect on %s: %v", n.GRPCAddr, st)
		}
	}
}

// ownRedis runs a redis-server of the test's own on a free port, so the
// test can stop and restart it. It returns its URL and the control.
type ownRedis struct {
	t    *testing.T
	port int
	dir  string
	aof  bool // persist with an fsync per write
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T, aof bool) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run scripts/test, which installs it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "pick a port", err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &ownRedis{t: t, port: port, dir: t.TempDir(), aof: aof}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	args := []string{"--bind", "127.0.0.1", "--port", fmt.Sprint(r.port), "--save", "", "--dir", r.dir}
	if r.aof {
		// As scripts/services and the cluster docs run it: every write
		// is on disk before Redis answers it.
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	r.cmd = exec.Command("redis-server", args...)
	check(r.t, "start redis-server", r.cmd.Start())
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *ownRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// Redis goes down while streams are open and a key is revoked through A:
// A closes its streams at once; B and C, which could not hear of it, close
// theirs as soon as Redis is back (every resubscription rechecks every
// stream against PostgreSQL), or at the latest after one sweep interval
// even while Redis stays down.
func TestClusterRevocationDuringRedisOutage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sweep time.Duration
		back  bool // Redis returns
	}{
		{"redis returns", 0, true},
		{"redis stays down, sweep", 2 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redis := startOwnRedis(t, false)
			nodes := startCluster(t, 3, redis.url(), func(c *server.Config) { c.SweepInterval = tc.sweep })
			a := nodes[0]
			doomed, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{})
			hit := openStreams(t, nodes, secret, "hit", 3)
			_, spare := newIngestKey(t, a, &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{MaxStreams: 5, RecordsPerSecond: 1000}})

			redis.stop()
			// Without Redis the cluster-wide limits fall back to per-node
			// ones: devices still connect and stream.
			t0 := time.Now()
			d := openStream(t, nodes[1], "during-outage", spare)
			d.send(2, records("r", 10)...)
			d.waitAcks(2)
			t.Logf("outage connect+2 batches: %v", time.Since(t0))
			_, err := keysClient(a).RevokeIngestKey(adminCtx(a), &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: doomed.GetId(), Reason: "during outage"})
			check(t, "revoke through A while Redis is down", err)
			changed := time.Now()
			for _, d := range hit[0] {
				d.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, codes.Unauthenticated)
			}
			if tc.back {
				time.Sleep(300 * time.Millisecond)
				for _, streams := range hit[1:] {
					for _, d := range streams {
						if d.ended() {
							t.Fatal("a stream on B or C closed without a bus and without a sweep: the test proves nothing")
						}
					}
				}
				redis.start()
			}
			for i, streams := range hit[1:] {
				for _, d := range streams {
					d.wantClosed(ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, codes.Unauthenticated)
				}
				t.Logf("node %c closed its streams %v after the revocation", 'B'+i, time.Since(changed).Round(time.Millisecond))
			}
		})
	}
}

// With the Redis Streams sink the nodes share telemetry: what a device
// streams through B is acked once in Redis, and A and C read it back, live
// through Subscribe and paged through ReadTelemetry.
func TestClusterSharedRedisSink(t *testing.T) {
	nodes := startCluster(t, 3, servertest.RedisURL(t), func(c *server.Config) { c.Sink = "redis" })
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, secret := newIngestKey(t, a, &ingestgatev1.IngestKey{})
	ctx, cancel := context.WithTimeout(adminCtx(a), waitFor)
	defer cancel()
	sub, err := ingestgatev1.NewTelemetryServiceClient(a.Conn).Subscribe(ctx, &ingestgatev1.SubscribeRequest{WorkspaceId: ws, FromStart: true})
	check(t, "subscribe on A", err)

	d := openStream(t, b, "shared", secret)
	for seq := uint64(2); seq <= 5; seq++ {
		d.send(seq, records(fmt.Sprint("s", seq), 3)...)
	}
	d.waitAcks(5)
	got := 0
	for got < 13 { // 1 boot record + 4 batches of 3
		m, err := sub.Recv()
		check(t, "recv on A", err)
		got += len(m.GetEntries())
	}
	if got != 13 {
		t.Fatalf("A's subscriber saw %d entries, want 13", got)
	}
	if n := len(readAll(t, c, "shared")); n != 13 {
		t.Fatalf("C read back %d records, want 13", n)
	}
}

// Nodes started at the same moment on an empty database (as
// docker-compose.yml starts them) bootstrap it once: one workspace, one
// admin key, the one they were all given, and it works on every node.
func TestClusterNodesBootstrapTogether(t *testing.T) {
	store := servertest.PostgresDB(t)
	prefix, redisURL := servertest.RedisPrefix(t), servertest.RedisURL(t)
	admin, err := keystore.MustTokenFormat(keystore.DefaultAPIKeyPrefix).Generate()
	check(t, "generate admin key", err)
	nodes := make([]*servertest.Node, 3)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			n, err := servertest.StartE(t, func(c *server.Config) {
				c.Store, c.Redis, c.RedisPrefix, c.BootstrapAPIKey = store, redisURL, prefix, admin
			})
			if err != nil {
				t.Errorf("node %d: %v", i, err)
			}
			nodes[i] = n
		})
	}
	close(start)
	wg.Wait()
	for i, n := range nodes {
		if n == nil {
			t.Fatalf("node %d did not start (see the log above)", i)
		}
	}
	keys, err := ingestgatev1.NewApiKeyServiceClient(nodes[2].Conn).ListApiKeys(adminCtx(nodes[2]), &ingestgatev1.ListApiKeysRequest{})
	check(t, "list API keys on the third node with the shared admin key", err)
	if len(keys.GetApiKeys()) != 1 {
		t.Fatalf("%d API keys after three nodes bootstrapped together, want 1", len(keys.GetApiKeys()))
	}
	wss, err := ingestgatev1.NewWorkspaceServiceClient(nodes[1].Conn).ListWorkspaces(adminCtx(nodes[1]), &ingestgatev1.ListWorkspacesRequest{})
	check(t, "list workspaces", err)
	if len(wss.GetWorkspaces()) != 1 {
		t.Fatalf("%d workspaces, want 1", len(wss.GetWorkspaces()))
	}
}
