// Package servertest starts a real ingestgate node in-process on free
// loopback ports for end-to-end tests, and hands back clients for it.
package servertest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server"
)

// Node is a running server.
type Node struct {
	GRPCAddr string
	HTTPAddr string
	DataDir  string
	// AdminKey is the bootstrap admin API key.
	AdminKey string
	// Conn is a plaintext gRPC connection to the node, without credentials.
	Conn *grpc.ClientConn
	// Logs holds everything the node logged or printed.
	Logs *SyncBuffer

	stop func()
}

// Option changes the config before the node starts.
type Option func(*server.Config)

// Start runs a node until the test ends. DataDir is a fresh temp directory
// unless an option sets it.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	n, err := StartE(t, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// StartE is Start returning its error instead of failing the test, so it
// may run on goroutines other than the test's.
func StartE(t testing.TB, opts ...Option) (*Node, error) {
	admin, err := keystore.MustTokenFormat(keystore.DefaultAPIKeyPrefix).Generate()
	if err != nil {
		return nil, err
	}
	logs := &SyncBuffer{}
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.BootstrapAPIKey = admin
	cfg.BootstrapOut = logs
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	n := &Node{
		GRPCAddr: srv.GRPCAddr(), HTTPAddr: srv.HTTPAddr(), DataDir: cfg.DataDir,
		AdminKey: cfg.BootstrapAPIKey, Conn: conn, Logs: logs,
	}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			conn.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(n.stop)
	return n, nil
}

// Stop shuts the node down before the test ends.
func (n *Node) Stop() { n.stop() }

// WithKey returns ctx carrying `authorization: Bearer <key>`.
func WithKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// BaseURL is the node's HTTP root, e.g. http://127.0.0.1:1234.
func (n *Node) BaseURL() string { return "http://" + n.HTTPAddr }

// HTTPClient is a client with a timeout for calls to the node.
var HTTPClient = &http.Client{Timeout: 10 * time.Second}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ReadTelemetry reads every stored telemetry entry of workspace ws (of one
// device, unless device is empty), oldest first, as the admin.
func (n *Node) ReadTelemetry(t testing.TB, ws, device string) []*ingestgatev1.TelemetryEntry {
	t.Helper()
	c := ingestgatev1.NewTelemetryServiceClient(n.Conn)
	ctx := WithKey(context.Background(), n.AdminKey)
	var out []*ingestgatev1.TelemetryEntry
	cursor := ""
	for {
		r, err := c.ReadTelemetry(ctx, &ingestgatev1.ReadTelemetryRequest{WorkspaceId: ws, DeviceId: device, AfterCursor: cursor, PageSize: 1000})
		if err != nil {
			t.Fatalf("read telemetry: %v", err)
		}
		if len(r.GetEntries()) == 0 {
			return out
		}
		out = append(out, r.GetEntries()...)
		cursor = r.GetNextCursor()
	}
}
