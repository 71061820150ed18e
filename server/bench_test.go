package server_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// benchConns spreads bench streams over several client connections, as
// many devices would arrive.
const benchConns = 8

func benchClients(b *testing.B, n *servertest.Node) []ingestgatev1.TelemetryServiceClient {
	var out []ingestgatev1.TelemetryServiceClient
	for range benchConns {
		conn, err := grpc.NewClient(n.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		out = append(out, ingestgatev1.NewTelemetryServiceClient(conn))
	}
	return out
}

// BenchmarkConnect measures acked records/s through Connect into the
// embedded sink: b.N batches spread over the streams, each stream sending as
// fast as its window of unacked batches allows.
func BenchmarkConnect(b *testing.B) {
	for _, streams := range []int{1, 100, 1000} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("streams=%d/batch=%d", streams, batch), func(b *testing.B) {
				benchConnect(b, streams, batch)
			})
		}
	}
}

// BenchmarkConnectCluster compares, side by side, what cluster mode costs
// the ingest path: the Redis Streams sink against the embedded one, and a
// key's rate checked in Redis (one round trip per batch) against in
// process. The rate (1M records/s, the most a key may have) is above what
// this machine can do at these settings, so it never
// throttles: only the cost of checking is measured. 100 streams.
func BenchmarkConnectCluster(b *testing.B) {
	redisNode := func(c *server.Config) { c.Redis, c.RedisPrefix = servertest.RedisURL(b), servertest.RedisPrefix(b) }
	limited := &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 1_000_000}} // the most a key may have
	for _, tc := range []struct {
		name string
		key  *ingestgatev1.IngestKey
		opts []servertest.Option
	}{
		{"sink=sqlite/limit=none", &ingestgatev1.IngestKey{}, nil},
		{"sink=redis/limit=none", &ingestgatev1.IngestKey{}, []servertest.Option{redisNode, func(c *server.Config) { c.Sink = "redis" }}},
		{"sink=sqlite/limit=local", limited, nil},
		{"sink=sqlite/limit=redis", limited, []servertest.Option{redisNode}},
	} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", tc.name, batch), func(b *testing.B) {
				benchConnectWith(b, 100, batch, tc.key, tc.opts...)
			})
		}
	}
}

func benchConnect(b *testing.B, streams, batch int) {
	benchConnectWith(b, streams, batch, &ingestgatev1.IngestKey{})
}

func benchConnectWith(b *testing.B, streams, batch int, key *ingestgatev1.IngestKey, opts ...servertest.Option) {
	n := servertest.Start(b, opts...)
	_, secret := newIngestKey(b, n, key)
	clients := benchClients(b, n)
	recs := records("bench", batch)
	type dev struct {
		s ingestgatev1.TelemetryService_ConnectClient
	}
	devs := make([]dev, streams)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range devs {
		s, err := clients[i%len(clients)].Connect(deviceCtx(ctx, fmt.Sprintf("bench-%d", i), secret))
		if err != nil {
			b.Fatal(err)
		}
		// A first batch registers the device and the stream.
		if err := s.Send(batchMsg(0, recs)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		devs[i] = dev{s}
	}
	const window = 64 // the server's default stream window
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, d := range devs {
		share := b.N / streams
		if i < b.N%streams {
			share++
		}
		if share == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			credit := make(chan struct{}, window)
			go func() {
				for seq := 1; seq <= share; seq++ {
					credit <- struct{}{}
					if d.s.Send(batchMsg(uint64(seq), recs)) != nil {
						return
					}
				}
			}()
			for range share {
				if _, err := d.s.Recv(); err != nil {
					b.Error(err)
					return
				}
				<-credit
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "batches/s")
}

func batchMsg(seq uint64, recs []*ingestgatev1.Record) *ingestgatev1.ConnectRequest {
	return &ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: &ingestgatev1.TelemetryBatch{Seq: seq, Records: recs}}}
}

// BenchmarkRevoke measures, for 1000 streams of one key, the time from
// RevokeIngestKey returning to the last of them ending (the client seeing
// its final status), per revocation. p50 and max over the b.N revocations
// are reported besides the mean.
func BenchmarkRevoke(b *testing.B) {
	n := servertest.Start(b)
	clients := benchClients(b, n)
	benchRevoke(b, n, 1000, func(j int) ingestgatev1.TelemetryServiceClient { return clients[j%len(clients)] })
}

// BenchmarkClusterRevoke is BenchmarkRevoke across three nodes sharing
// PostgreSQL and Redis: 1,000 streams of one key spread over the nodes, the
// key revoked through the first, and the time from the RPC returning to
// the last stream ending anywhere (the other nodes hear of it over Redis).
func BenchmarkClusterRevoke(b *testing.B) {
	nodes := startCluster(b, 3, servertest.RedisURL(b))
	var clients [][]ingestgatev1.TelemetryServiceClient
	for _, n := range nodes {
		clients = append(clients, benchClients(b, n))
	}
	// 333 streams per node: j%3 picks the node, then one of its connections.
	benchRevoke(b, nodes[0], 999, func(j int) ingestgatev1.TelemetryServiceClient { return clients[j%3][(j/3)%benchConns] })
}

// benchRevoke opens streams of a fresh key (stream j through client(j)),
// revokes the key through via, and measures from the RPC returning to the
// last stream ending, once per iteration; it reports p50 and max.
func benchRevoke(b *testing.B, via *servertest.Node, streams int, client func(j int) ingestgatev1.TelemetryServiceClient) {
	keys := ingestgatev1.NewIngestKeyServiceClient(via.Conn)
	var delays []time.Duration
	for i := range b.N {
		b.StopTimer()
		k, secret := newIngestKey(b, via, &ingestgatev1.IngestKey{})
		ended := make(chan time.Time, streams)
		for j := range streams {
			s, err := client(j).Connect(deviceCtx(context.Background(), fmt.Sprintf("r%d-%d", i, j), secret))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Send(batchMsg(1, records("x", 1))); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				b.Fatal(err)
			}
			go func() {
				for {
					if _, err := s.Recv(); err != nil {
						ended <- time.Now()
						return
					}
				}
			}()
		}
		b.StartTimer()
		_, err := keys.RevokeIngestKey(adminCtx(via), &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: k.GetId(), Reason: "bench"})
		returned := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		var last time.Time
		for range streams {
			if t := <-ended; t.After(last) {
				last = t
			}
		}
		delays = append(delays, max(last.Sub(returned), 0))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
}
