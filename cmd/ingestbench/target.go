package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// target is the node under load and the credential the run uses: an
// ingest key given, or one created for the run with a management key and
// deleted after it.
type target struct {
	addr, key, apiKey, workspace string
}

func (t *target) flags(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&t.addr, "addr", or(getenv("INGESTGATE_ADDR"), "127.0.0.1:50051"), "the node's gRPC address (INGESTGATE_ADDR); loopback only for load tests")
	fs.StringVar(&t.key, "key", getenv("INGESTBENCH_KEY"), "an ingest key admitting any device (INGESTBENCH_KEY); empty: create one with --api-key")
	fs.StringVar(&t.apiKey, "api-key", getenv("INGESTGATE_API_KEY"), "a management key with keys:write (INGESTGATE_API_KEY), to create the run's ingest key")
	fs.StringVar(&t.workspace, "workspace", or(getenv("INGESTGATE_WORKSPACE"), "default"), "workspace of the run's ingest key")
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func dial(addr string) (*grpc.ClientConn, error) {
	if err := loopback(addr); err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// loopback refuses a target that is not on this machine: a load tool
// pointed at a shared server by mistake is a denial of service.
func loopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("target %q: %w", hostport, err)
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		if ips, err = net.LookupIP(host); err != nil {
			return fmt.Errorf("target %q: %w", hostport, err)
		}
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("target %q is not a loopback address: ingestbench loads this machine only", hostport)
		}
	}
	return nil
}

// connections is how many connections n devices share when asked for
// want (0: one per device, as real devices; never more than devices).
func connections(want, devices int) int {
	if want == 0 || want > devices {
		return devices
	}
	return want
}

// dialAll opens n connections to addr; closeAll closes them.
func dialAll(addr string, n int) (conns []*grpc.ClientConn, closeAll func(), err error) {
	closeAll = func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for range n {
		c, err := dial(addr)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, c)
	}
	return conns, closeAll, nil
}

// errorCode names an error for the errors-by-code tally: its gRPC code,
// or (from an MQTT client, say) its text, cut short.
func errorCode(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Code().String()
	}
	code := err.Error()
	if len(code) > 80 {
		code = code[:80]
	}
	return code
}

// newFlagSet is a workload's flag set, reporting to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// ingestKey returns the key to stream with and a cleanup that deletes it
// if the run created it.
func (t *target) ingestKey(ctx context.Context) (string, func(), error) {
	if t.key != "" {
		return t.key, func() {}, nil
	}
	if t.apiKey == "" {
		return "", nil, fmt.Errorf("give an ingest key (--key) or a management key to create one (--api-key)")
	}
	conn, err := dial(t.addr)
	if err != nil {
		return "", nil, err
	}
	keys := ingestgatev1.NewIngestKeyServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.apiKey)
	r, err := keys.CreateIngestKey(actx, &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: t.workspace, IngestKey: &ingestgatev1.IngestKey{
		Name: "ingestbench " + time.Now().UTC().Format(time.RFC3339), Description: "created by ingestbench for one run; deleted after it",
	}})
	if err != nil {
		conn.Close()
		return "", nil, fmt.Errorf("create the run's ingest key: %w", err)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+t.apiKey), 10*time.Second)
		defer cancel()
		keys.DeleteIngestKey(ctx, &ingestgatev1.DeleteIngestKeyRequest{WorkspaceId: t.workspace, KeyId: r.GetIngestKey().GetId()})
		conn.Close()
	}
	return r.GetSecret(), cleanup, nil
}
