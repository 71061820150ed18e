package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	busredis "github.com/ingestgate/ingestgate/bus/redis"
	"github.com/ingestgate/ingestgate/keystore"
)

// TestForeignPublisher publishes hand-written JSON with a plain client, as
// a service in another language would: valid events are understood in both
// protojson spellings, and garbage is logged and skipped.
func TestForeignPublisher(t *testing.T) {
	logs := &lockedBuffer{}
	prefix := uniquePrefix(t)
	node := newBusWithOptions(t, newClient(t, "node"), busredis.Options{
		Prefix: prefix, PingInterval: testPingInterval,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	got := make(chan keystore.Event, 16)
	stop, err := node.Subscribe(func(e keystore.Event) { got <- e })
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer stop()

	foreign := newClient(t, "foreign")
	payloads := []string{
		`not json`,
		`{"type":"KEY_EVENT_TYPE_INGEST_KEY_REVOKED"`,
		`{}`, // no type: nothing to act on
		`{"type":"NO_SUCH_TYPE"}`,
		`{"sequence":"-1","type":15}`,
		// Proto field names, enum by name, 64-bit integer as a string, and
		// a field from a future release.
		`{"workspace_id":"ws_1","sequence":"7","type":"KEY_EVENT_TYPE_INGEST_KEY_REVOKED",
		  "time":"2026-11-25T10:11:12.345678Z","actor":"api_key:ak_1","ingest_key_id":"ik_1",
		  "display_prefix":"ig_ikv1_Abc","reason":"device stolen","changed_fields":["tags"],"future_field":{"x":1}}`,
		// lowerCamel names, enum and integer as numbers.
		`{"workspaceId":"ws_2","sequence":8,"type":21,"deviceId":"dev-1","apiKeyId":"ak_2"}`,
	}
	for _, p := range payloads {
		if err := foreign.Publish(context.Background(), node.Channel(), p).Err(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
	}

	want := []keystore.Event{
		{
			WorkspaceID: "ws_1", Sequence: 7, Type: keystore.EventType(15),
			Time:  time.Date(2026, 11, 25, 10, 11, 12, 345678000, time.UTC),
			Actor: "api_key:ak_1", IngestKeyID: "ik_1", DisplayPrefix: "ig_ikv1_Abc",
			Reason: "device stolen", ChangedFields: []string{"tags"},
		},
		{WorkspaceID: "ws_2", Sequence: 8, Type: keystore.EventType(21), DeviceID: "dev-1", APIKeyID: "ak_2"},
	}
	for i, w := range want {
		select {
		case e := <-got:
			if fmt.Sprint(e) != fmt.Sprint(w) || !e.Time.Equal(w.Time) {
				t.Errorf("event %d:\ngot  %+v\nwant %+v", i, e, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
	if n := strings.Count(logs.String(), "skipping malformed event"); n != 5 {
		t.Errorf("logged %d malformed payloads, want 5; logs:\n%s", n, logs.String())
	}
}

// TestForeignSubscriber reads what the bus publishes with a plain client,
// pinning the documented wire format.
func TestForeignSubscriber(t *testing.T) {
	prefix := uniquePrefix(t)
	node := newBus(t, newClient(t, "node"), prefix)
	sub := newClient(t, "foreign").Subscribe(context.Background(), prefix+"key-events")
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil { // the subscribe confirmation
		t.Fatalf("SUBSCRIBE: %v", err)
	}

	e := keystore.Event{
		WorkspaceID: "ws_1", Sequence: 42, Type: keystore.EventType(15),
		Time:        time.Date(2026, 11, 25, 10, 11, 12, 345678000, time.UTC),
		IngestKeyID: "ik_1", Reason: "device stolen",
	}
	if err := node.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(msg.Payload), &got); err != nil {
		t.Fatalf("payload is not JSON: %v: %s", err, msg.Payload)
	}
	want := map[string]any{
		"workspace_id": "ws_1", "sequence": "42", "type": "KEY_EVENT_TYPE_INGEST_KEY_REVOKED",
		"time": "2026-11-25T10:11:12.345678Z", "ingest_key_id": "ik_1", "reason": "device stolen",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("payload %s\ngot  %v\nwant %v", msg.Payload, got, want)
	}
}

// lockedBuffer is an io.Writer the bus's goroutines and the test can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
