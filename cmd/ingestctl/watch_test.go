package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// events watch replays the log after --after, then follows it live; one
// event per line, JSON lines with -o json.
func TestCLIEventsWatch(t *testing.T) {
	s := newSession(t)
	replay := s.ok("events", "watch", "--count", "1")
	if !strings.Contains(replay, "workspace_created") || strings.Count(replay, "\n") != 1 {
		t.Fatalf("replay of the first event:\n%s", replay)
	}
	// Live: the watch waits for the next event, which a key creation makes.
	type out struct {
		code           int
		stdout, stderr string
	}
	done := make(chan out, 1)
	go func() {
		var o, e bytes.Buffer
		code := run(context.Background(), []string{"events", "watch", "--after", "1", "--count", "1", "-o", "json"}, &o, &e, func(k string) string { return s.env[k] })
		done <- out{code, o.String(), e.String()}
	}()
	time.Sleep(200 * time.Millisecond)
	s.ok("keys", "create", "--name", "watched")
	select {
	case r := <-done:
		var ev map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil || ev["type"] != "KEY_EVENT_TYPE_INGEST_KEY_CREATED" || strings.Count(r.stdout, "\n") != 1 {
			t.Fatalf("live watch: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events watch did not print the live event")
	}
}

// telemetry tail prints stored records, one per line.
func TestCLITelemetryTail(t *testing.T) {
	s := newSession(t)
	var created ingestgatev1.CreateIngestKeyResponse
	s.json(&created, "keys", "create", "--name", "tailed")
	pub := ingestgatev1.NewTelemetryServiceClient(s.node.Conn)
	for _, v := range []float64{21.5, 22.5} {
		ctx := deviceContext(created.GetSecret(), "sensor-9")
		if _, err := pub.Publish(ctx, &ingestgatev1.PublishRequest{Records: []*ingestgatev1.Record{{Name: "temp", Value: &ingestgatev1.Record_NumberValue{NumberValue: v}, Attributes: map[string]string{"unit": "C"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	out := s.ok("telemetry", "tail", "--from-start", "--count", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "sensor-9") || !strings.Contains(lines[0], "21.5") || !strings.Contains(lines[1], "22.5") || !strings.Contains(lines[1], "unit=C") {
		t.Fatalf("telemetry tail:\n%s", out)
	}
	js := s.ok("telemetry", "tail", "--from-start", "--count", "1", "--device", "sensor-9", "-o", "json")
	var e map[string]any
	if json.Unmarshal([]byte(js), &e) != nil || e["cursor"] == "" || e["device_id"] != "sensor-9" {
		t.Fatalf("telemetry tail -o json: %q", js)
	}
	s.checkSecrets(created.GetSecret())
}

// deviceContext carries a device's credentials, as the SDK sends them.
func deviceContext(secret, device string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+secret, "x-device-id", device)
}
