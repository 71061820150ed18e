package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func add(t *testing.T, r *Registry, ws, key, device string, maxPerKey int) *Stream {
	t.Helper()
	s := &Stream{WorkspaceID: ws, KeyID: key, DeviceID: device}
	if err := r.Add(context.Background(), s, maxPerKey); err != nil {
		t.Fatalf("add %s/%s: %v", key, device, err)
	}
	return s
}

func TestIndexes(t *testing.T) {
	r := New(0)
	a1 := add(t, r, "ws1", "ik_a", "d1", 0)
	a2 := add(t, r, "ws1", "ik_a", "d2", 0)
	b1 := add(t, r, "ws1", "ik_b", "d1", 0)
	c1 := add(t, r, "ws2", "ik_c", "d1", 0) // same device id, other workspace

	for _, tc := range []struct {
		name string
		got  []*Stream
		want []*Stream
	}{
		{"by key a", r.ByKey("ik_a"), []*Stream{a1, a2}},
		{"by key b", r.ByKey("ik_b"), []*Stream{b1}},
		{"by unknown key", r.ByKey("ik_x"), nil},
		{"by device ws1/d1", r.ByDevice("ws1", "d1"), []*Stream{a1, b1}},
		{"by device ws2/d1", r.ByDevice("ws2", "d1"), []*Stream{c1}},
		{"by workspace ws1", r.ByWorkspace("ws1"), []*Stream{a1, a2, b1}},
		{"all", r.All(), []*Stream{a1, a2, b1, c1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !sameSet(tc.got, tc.want) {
				t.Fatalf("got %d streams, want %d (or different ones)", len(tc.got), len(tc.want))
			}
		})
	}
	if r.CountKey("ik_a") != 2 || r.CountDevice("ws1", "d1") != 2 || r.Len() != 4 {
		t.Fatalf("counts: key %d device %d len %d", r.CountKey("ik_a"), r.CountDevice("ws1", "d1"), r.Len())
	}
	r.Remove(a1)
	r.Remove(a1) // idempotent
	if !sameSet(r.ByKey("ik_a"), []*Stream{a2}) || !sameSet(r.ByDevice("ws1", "d1"), []*Stream{b1}) || !sameSet(r.ByWorkspace("ws1"), []*Stream{a2, b1}) || r.Len() != 3 {
		t.Fatal("remove left the stream indexed")
	}
	if a1.Context().Err() == nil {
		t.Fatal("a removed stream's context is still live")
	}
	r.Remove(a2)
	if r.CountKey("ik_a") != 0 || len(r.byKey) != 2 {
		t.Fatal("an empty key index was kept")
	}
}

func TestLimits(t *testing.T) {
	r := New(2)
	add(t, r, "ws", "ik_a", "d1", 3)
	add(t, r, "ws", "ik_a", "d1", 3)
	if err := r.Add(context.Background(), &Stream{WorkspaceID: "ws", KeyID: "ik_a", DeviceID: "d1"}, 3); !errors.Is(err, ErrTooManyDeviceStreams) {
		t.Fatalf("third stream of a device: %v", err)
	}
	add(t, r, "ws", "ik_a", "d2", 3)
	if err := r.Add(context.Background(), &Stream{WorkspaceID: "ws", KeyID: "ik_a", DeviceID: "d3"}, 3); !errors.Is(err, ErrTooManyKeyStreams) {
		t.Fatalf("fourth stream of a key: %v", err)
	}
	add(t, r, "ws", "ik_b", "d3", 0) // other keys are not affected
	if r.Len() != 4 {
		t.Fatalf("refused streams were registered: %d", r.Len())
	}
}

func TestCloseOnce(t *testing.T) {
	r := New(0)
	s := add(t, r, "ws", "ik_a", "d1", 0)
	if s.Closure() != nil {
		t.Fatal("new stream has a closure")
	}
	first := Closure{Reason: ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, Code: codes.Unauthenticated, Message: "revoked"}
	if !s.Close(first) {
		t.Fatal("first Close reported no change")
	}
	if s.Close(Closure{Reason: ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_DELETED}) {
		t.Fatal("second Close reported a change")
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed")
	}
	if *s.Closure() != first || s.Context().Err() == nil {
		t.Fatalf("closure %v ctx %v", s.Closure(), s.Context().Err())
	}
}

func TestDeadline(t *testing.T) {
	r := New(0)
	s := add(t, r, "ws", "ik_a", "d1", 0)
	fired := make(chan struct{}, 2)
	s.SetDeadline(time.Now().Add(time.Hour), func() { fired <- struct{}{} })
	s.SetDeadline(time.Now().Add(10*time.Millisecond), func() { fired <- struct{}{} }) // replaces the first
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("deadline did not fire")
	}
	s.SetDeadline(time.Now().Add(10*time.Millisecond), func() { fired <- struct{}{} })
	s.SetDeadline(time.Time{}, nil) // cleared
	r.Remove(s)
	select {
	case <-fired:
		t.Fatal("a cleared deadline fired")
	case <-time.After(100 * time.Millisecond):
	}
}

func sameSet(a, b []*Stream) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[*Stream]bool{}
	for _, s := range a {
		in[s] = true
	}
	for _, s := range b {
		if !in[s] {
			return false
		}
	}
	return true
}

func TestAckedCounters(t *testing.T) {
	s := add(t, New(0), "ws1", "ik_a", "d1", 0)
	if s.Records() != 0 || !s.LastBatch().IsZero() {
		t.Fatalf("a new stream: %d records, last batch %v", s.Records(), s.LastBatch())
	}
	at := time.Unix(1700000000, 5)
	s.Acked(3, at.Add(-time.Second))
	s.Acked(0, at) // a duplicate: acked, nothing stored
	if s.Records() != 3 || !s.LastBatch().Equal(at) {
		t.Fatalf("after two acks: %d records, last batch %v", s.Records(), s.LastBatch())
	}
}
