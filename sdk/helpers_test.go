package sdk_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// ws is the workspace every fresh node has.
const ws = "default"

// waitFor bounds how long a test waits for something that must happen. It
// is generous because CI machines are small and noisy; tests never assert
// that anything happens quickly.
const waitFor = 60 * time.Second

func adminCtx(n *servertest.Node) context.Context {
	return servertest.WithKey(context.Background(), n.AdminKey)
}

// newKey creates an ingest key (all devices unless k says otherwise) and
// returns its id and secret.
func newKey(t testing.TB, n *servertest.Node, k *ingestgatev1.IngestKey) (string, string) {
	t.Helper()
	if k == nil {
		k = &ingestgatev1.IngestKey{}
	}
	if k.Name == "" {
		k.Name = "sdk test"
	}
	r, err := ingestgatev1.NewIngestKeyServiceClient(n.Conn).CreateIngestKey(adminCtx(n), &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: ws, IngestKey: k})
	if err != nil {
		t.Fatalf("create ingest key: %v", err)
	}
	return r.GetIngestKey().GetId(), r.GetSecret()
}

// readAll reads every stored entry of a device, oldest first.
func readAll(t testing.TB, n *servertest.Node, device string) []*ingestgatev1.TelemetryEntry {
	t.Helper()
	return n.ReadTelemetry(t, ws, device)
}

// restart stops n and starts a node on the same data directory and gRPC
// address, as an operator restarting the server would.
func restart(t testing.TB, n *servertest.Node) *servertest.Node {
	t.Helper()
	n.Stop()
	return servertest.Start(t, func(c *server.Config) {
		c.DataDir = n.DataDir
		c.GRPCAddr = n.GRPCAddr
		c.BootstrapAPIKey = n.AdminKey // the store is not empty: no new bootstrap
	})
}

// stoppedNode starts a node, creates a key on it, and stops it: the device
// then starts offline against an address where nothing listens.
func stoppedNode(t testing.TB) (*servertest.Node, string) {
	t.Helper()
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	n.Stop()
	return n, secret
}

// dial connects a device over plaintext with short backoffs, logging to a
// buffer that is checked for the secret when the test ends and printed if
// the test failed.
func dial(t testing.TB, addr, device, secret string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	logs := &servertest.SyncBuffer{}
	base := []sdk.Option{
		sdk.WithPlaintext(),
		sdk.WithBackoff(20*time.Millisecond, time.Second),
		sdk.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	c, err := sdk.Dial(context.Background(), addr, device, secret, append(base, opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the SDK logged the ingest key")
		}
		if t.Failed() {
			t.Logf("client log:\n%s", logs)
		}
	})
	return c
}

// countStreams is a dial option counting the client's Connect attempts.
func countStreams(n *atomic.Int64) sdk.Option {
	return sdk.WithDialOptions(grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		n.Add(1)
		return streamer(ctx, desc, cc, method, opts...)
	}))
}

func timeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// numbers returns the number values of entries.
func numbers(entries []*ingestgatev1.TelemetryEntry) []float64 {
	out := make([]float64, len(entries))
	for i, e := range entries {
		out[i] = e.GetRecord().GetNumberValue()
	}
	return out
}

// exactlyOnce fails unless entries hold the numbers 0..n-1, each once.
func exactlyOnce(t testing.TB, entries []*ingestgatev1.TelemetryEntry, n int) {
	t.Helper()
	seen := make(map[float64]int, n)
	for _, v := range numbers(entries) {
		seen[v]++
	}
	for i := range n {
		if c := seen[float64(i)]; c != 1 {
			t.Errorf("record %d stored %d times", i, c)
		}
	}
	if len(entries) != n {
		t.Errorf("stored %d records, want %d", len(entries), n)
	}
}
