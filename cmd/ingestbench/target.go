package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

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
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
