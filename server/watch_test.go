package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// WatchKeyEvents replays the log after a cursor and then streams live
// events, with changes committed all through the replay: every sequence
// arrives exactly once, in order, with no gap at the seam.
func TestWatchKeyEventsHasNoGapAtTheSeam(t *testing.T) {
	n := servertest.Start(t)
	devices := ingestgatev1.NewDeviceServiceClient(n.Conn)
	create := func(i int) {
		_, err := devices.CreateDevice(adminCtx(n), &ingestgatev1.CreateDeviceRequest{WorkspaceId: ws, Device: &ingestgatev1.Device{Id: fmt.Sprint("d-", i)}})
		check(t, "create device", err)
	}
	for i := range 700 { // more than one page of replay
		create(i)
	}
	ctx, cancel := context.WithTimeout(adminCtx(n), waitFor)
	defer cancel()
	w, err := ingestgatev1.NewEventServiceClient(n.Conn).WatchKeyEvents(ctx, &ingestgatev1.WatchKeyEventsRequest{WorkspaceId: ws, AfterSequence: 5})
	check(t, "watch", err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // changes during the replay and after it
		defer wg.Done()
		for i := 700; i < 900; i++ {
			create(i)
		}
	}()
	// 1 workspace event + 900 devices = sequences 1..901; after 5: 6..901.
	for want := uint64(6); want <= 901; want++ {
		m, err := w.Recv()
		check(t, "recv", err)
		if got := m.GetEvent().GetSequence(); got != want {
			t.Fatalf("got sequence %d, want %d", got, want)
		}
	}
	wg.Wait()

	// Over REST, newline-delimited JSON from the gateway.
	req, _ := http.NewRequestWithContext(ctx, "GET", n.BaseURL()+"/v1/workspaces/default/events:watch?after_sequence=899", nil)
	req.Header.Set("X-API-Key", n.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	check(t, "rest watch", err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for _, want := range []uint64{900, 901} {
		if !lines.Scan() {
			t.Fatalf("rest watch ended: %v", lines.Err())
		}
		var msg struct {
			Result struct {
				Event struct {
					Sequence string `json:"sequence"`
				} `json:"event"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			t.Fatalf("line %s: %v", lines.Bytes(), err)
		}
		if got, _ := strconv.ParseUint(msg.Result.Event.Sequence, 10, 64); got != want {
			t.Fatalf("rest watch: sequence %d, want %d", got, want)
		}
	}
}

// Watching needs events:read on the workspace; a key revoked while
// watching stops receiving.
func TestWatchKeyEventsPermissions(t *testing.T) {
	n := servertest.Start(t)
	c := ingestgatev1.NewEventServiceClient(n.Conn)
	_, keysOnly := newAPIKey(t, n, []string{"keys:read"})
	ctx, cancel := context.WithTimeout(servertest.WithKey(context.Background(), keysOnly), waitFor)
	defer cancel()
	w, err := c.WatchKeyEvents(ctx, &ingestgatev1.WatchKeyEventsRequest{WorkspaceId: ws})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("watch without events:read: %v", err)
	}

	reader, readerSecret := newAPIKey(t, n, []string{"events:read"})
	rctx, rcancel := context.WithTimeout(servertest.WithKey(context.Background(), readerSecret), waitFor)
	defer rcancel()
	w, err = c.WatchKeyEvents(rctx, &ingestgatev1.WatchKeyEventsRequest{WorkspaceId: ws})
	check(t, "watch", err)
	m, err := w.Recv() // the workspace's creation
	check(t, "recv", err)
	if m.GetEvent().GetSequence() != 1 {
		t.Fatalf("first event %v", m.GetEvent())
	}
	_, err = ingestgatev1.NewApiKeyServiceClient(n.Conn).RevokeApiKey(adminCtx(n), &ingestgatev1.RevokeApiKeyRequest{ApiKeyId: reader.GetId(), Reason: "test"})
	check(t, "revoke reader", err)
	newIngestKey(t, n, &ingestgatev1.IngestKey{}) // a workspace event wakes the watcher
	for {
		m, err := w.Recv()
		if err != nil {
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("after revocation: %v", err)
			}
			return
		}
		if m.GetEvent().GetType() == ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_CREATED {
			t.Fatal("a revoked key received an event committed after its revocation")
		}
	}
}
