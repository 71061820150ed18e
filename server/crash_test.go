package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// crashChildEnv switches the test binary into a server process for
// TestCrashKeepsAckedRecords: it serves the data directory named by the
// variable and prints its gRPC address.
const crashChildEnv = "INGESTGATE_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func runCrashChild(dir string) {
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.BootstrapAPIKey = os.Getenv("INGESTGATE_BOOTSTRAP_API_KEY")
	cfg.BootstrapOut = io.Discard
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	fmt.Println("GRPC", srv.GRPCAddr())
	if err := srv.Serve(context.Background()); err != nil {
		os.Exit(1)
	}
}

// startChild runs a node in a separate process (so it can be killed with
// SIGKILL) and returns a connection to it.
func startChild(t *testing.T, dir, admin string) (*exec.Cmd, *grpc.ClientConn) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "INGESTGATE_BOOTSTRAP_API_KEY="+admin)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "GRPC ") {
		t.Fatalf("child did not start: %q %v", line, err)
	}
	conn, err := grpc.NewClient(strings.TrimSpace(strings.TrimPrefix(line, "GRPC ")), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cmd, conn
}

// SIGKILL the server mid-stream: every record acked before the kill reads
// back after a restart, exactly once.
func TestCrashKeepsAckedRecords(t *testing.T) {
	dir := t.TempDir()
	admin, err := keystore.MustTokenFormat(keystore.DefaultAPIKeyPrefix).Generate()
	if err != nil {
		t.Fatal(err)
	}
	cmd, conn := startChild(t, dir, admin)
	adm := servertest.WithKey(context.Background(), admin)
	created, err := ingestgatev1.NewIngestKeyServiceClient(conn).CreateIngestKey(adm, &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: ws, IngestKey: &ingestgatev1.IngestKey{Name: "crash"}})
	check(t, "create key", err)

	ctx, cancel := context.WithCancel(deviceCtx(context.Background(), "crash-dev", created.GetSecret()))
	defer cancel()
	stream, err := ingestgatev1.NewTelemetryServiceClient(conn).Connect(ctx)
	check(t, "connect", err)
	go func() {
		for seq := uint64(1); ; seq++ {
			recs := []*ingestgatev1.Record{record(fmt.Sprintf("seq-%d.a", seq), 1), record(fmt.Sprintf("seq-%d.b", seq), 2)}
			if stream.Send(&ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: &ingestgatev1.TelemetryBatch{Seq: seq, Records: recs}}}) != nil {
				return
			}
		}
	}()
	acked := map[uint64]bool{}
	for len(acked) < 300 {
		m, err := stream.Recv()
		check(t, "recv ack", err)
		acked[m.GetAck().GetSeq()] = true
	}
	// Kill while batches are still flowing, then count what was acked
	// before the connection died.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			break
		}
		acked[m.GetAck().GetSeq()] = true
	}
	cmd.Wait()

	_, conn = startChild(t, dir, admin)
	c := ingestgatev1.NewTelemetryServiceClient(conn)
	seen := map[string]int{}
	cursor := ""
	for {
		r, err := c.ReadTelemetry(adm, &ingestgatev1.ReadTelemetryRequest{WorkspaceId: ws, AfterCursor: cursor, PageSize: 1000})
		check(t, "read back", err)
		if len(r.GetEntries()) == 0 {
			break
		}
		for _, e := range r.GetEntries() {
			seen[e.GetRecord().GetName()]++
		}
		cursor = r.GetNextCursor()
	}
	for seq := range acked {
		for _, part := range []string{"a", "b"} {
			name := fmt.Sprintf("seq-%d.%s", seq, part)
			if seen[name] != 1 {
				t.Fatalf("acked record %s read back %d times, want 1", name, seen[name])
			}
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("record %s stored %d times", name, n)
		}
	}
	t.Logf("%d batches acked before SIGKILL, %d records stored", len(acked), len(seen))
}
