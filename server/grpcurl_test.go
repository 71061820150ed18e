package server_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// grpcurlPath finds the grpcurl that scripts/test builds from tools/go.mod.
// Its absence fails the test: a third-party client check that silently
// skipped would prove nothing.
func grpcurlPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("INGESTGATE_GRPCURL"); p != "" {
		return p
	}
	p, err := exec.LookPath("grpcurl")
	if err != nil {
		t.Fatal("grpcurl not found: run the tests with scripts/test, which builds it, or set INGESTGATE_GRPCURL")
	}
	return p
}

// A third-party client with nothing but server reflection lists the
// services and creates a key.
func TestGrpcurlReflection(t *testing.T) {
	bin := grpcurlPath(t)
	n := servertest.Start(t)
	out, err := exec.Command(bin, "-plaintext", n.GRPCAddr, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	for _, svc := range []string{"ingestgate.v1.IngestKeyService", "ingestgate.v1.WorkspaceService", "ingestgate.v1.DeviceService", "ingestgate.v1.ApiKeyService", "ingestgate.v1.EventService", "ingestgate.v1.ConnectionService", "grpc.health.v1.Health"} {
		if !strings.Contains(string(out), svc) {
			t.Errorf("grpcurl list lacks %s:\n%s", svc, out)
		}
	}
	out, err = exec.Command(bin, "-plaintext",
		"-H", "authorization: Bearer "+n.AdminKey,
		"-d", `{"workspace_id": "default", "ingest_key": {"name": "from grpcurl"}}`,
		n.GRPCAddr, "ingestgate.v1.IngestKeyService/CreateIngestKey").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl create: %v\n%s", err, out)
	}
	var resp struct {
		IngestKey struct{ Name string } `json:"ingestKey"`
		Secret    string                `json:"secret"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("grpcurl output %q: %v", out, err)
	}
	if resp.IngestKey.Name != "from grpcurl" || !strings.HasPrefix(resp.Secret, "ig_ikv1_") {
		t.Fatalf("grpcurl create returned %s", out)
	}
}

// A third-party client holds a device stream: grpcurl reads batches from
// stdin (-d @) and prints the acks, exactly as the README shows.
func TestGrpcurlDeviceStream(t *testing.T) {
	bin := grpcurlPath(t)
	n := servertest.Start(t)
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	cmd := exec.Command(bin, "-plaintext",
		"-H", "x-device-id: grpcurl-1", "-H", "authorization: Bearer "+secret,
		"-d", "@", n.GRPCAddr, "ingestgate.v1.TelemetryService/Connect")
	cmd.Stdin = strings.NewReader(`{"batch": {"seq": 1, "records": [{"name": "temp", "number_value": 21.5}]}}
{"batch": {"seq": 2, "records": [{"name": "door", "bool_value": true}, {"name": "note", "text_value": "hi"}]}}
`)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl connect: %v\n%s", err, out)
	}
	for _, want := range []string{`"seq": "1"`, `"seq": "2"`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("grpcurl output lacks ack %s:\n%s", want, out)
		}
	}
	if got := len(readAll(t, n, "grpcurl-1")); got != 3 {
		t.Fatalf("stored %d records, want 3", got)
	}
}
