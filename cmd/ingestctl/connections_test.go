package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// openDevice holds a device stream open until the test ends, once the
// server has acked its first batch (so it is registered).
func openDevice(t *testing.T, s *session, secret, device string) {
	t.Helper()
	ctx, cancel := context.WithCancel(deviceContext(secret, device))
	t.Cleanup(cancel)
	st, err := ingestgatev1.NewTelemetryServiceClient(s.node.Conn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &ingestgatev1.Record{Name: "temp", Value: &ingestgatev1.Record_NumberValue{NumberValue: 1}}
	if err := st.Send(&ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: &ingestgatev1.TelemetryBatch{Seq: 1, Records: []*ingestgatev1.Record{rec}}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := st.Recv(); err != nil || m.GetAck() == nil {
		t.Fatalf("first batch of %s: %v %v", device, m, err)
	}
}

// connections list shows live streams as a table or JSON, filtered by key
// or device, and refuses what the server refuses.
func TestCLIConnectionsList(t *testing.T) {
	s := newSession(t)
	var a, b ingestgatev1.CreateIngestKeyResponse
	s.json(&a, "keys", "create", "--name", "a")
	s.json(&b, "keys", "create", "--name", "b")
	openDevice(t, s, a.GetSecret(), "dev-a")
	openDevice(t, s, b.GetSecret(), "dev-b")

	out := s.ok("connections", "list")
	if got := tableIDs(out); !slices.Equal(got, []string{"dev-b", "dev-a"}) || !strings.HasPrefix(out, "DEVICE") ||
		!strings.Contains(out, a.GetIngestKey().GetDisplayPrefix()) {
		t.Fatalf("connections list:\n%s", out)
	}
	if got := tableIDs(s.ok("connections", "list", "--key", a.GetIngestKey().GetId())); !slices.Equal(got, []string{"dev-a"}) {
		t.Fatalf("--key: %v", got)
	}
	var resp ingestgatev1.ListConnectionsResponse
	r := s.json(&resp, "connections", "list", "--device", "dev-b")
	if len(resp.GetConnections()) != 1 || resp.GetConnections()[0].GetIngestKeyId() != b.GetIngestKey().GetId() || resp.GetConnections()[0].GetRecords() != 1 {
		t.Fatalf("--device -o json: %s", r.stdout)
	}
	// --json is -o json.
	if o := s.ok("connections", "list", "--json", "--device", "dev-b"); o != r.stdout {
		t.Fatalf("--json printed\n%s\nwant\n%s", o, r.stdout)
	}
	s.fails(1, "error: InvalidArgument: page_size must be 0-1000 (0: 100)", "connections", "list", "--page-size", "2000")
	s.checkSecrets(a.GetSecret(), b.GetSecret())
}
