// Command ingestctl is the admin CLI for an ingestgate server: it manages
// workspaces, ingest keys, devices and API keys, and reads the audit log,
// over the gRPC management API.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
