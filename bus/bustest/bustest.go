// Package bustest is the conformance suite for bus.Bus backends. A
// backend's test calls Run with a factory that returns a fresh bus; for a
// backend shared between nodes the factory may return two handles onto one
// channel (publisher and subscriber side) through NewPair.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/keystore"
)

// Factory returns two handles onto one fresh bus: what is published on
// either reaches subscribers of both. A single-process backend returns the
// same bus twice.
type Factory func(t *testing.T) (a, b bus.Bus)

// deliveryTimeout bounds how long a test waits for an event that must come.
const deliveryTimeout = 10 * time.Second

// Run runs every conformance test.
func Run(t *testing.T, newPair Factory) {
	t.Run("DeliversToEverySubscriber", func(t *testing.T) { testFanOut(t, newPair) })
	t.Run("KeepsPublishOrder", func(t *testing.T) { testOrder(t, newPair) })
	t.Run("RoundTripsEvents", func(t *testing.T) { testRoundTrip(t, newPair) })
	t.Run("StopEndsDelivery", func(t *testing.T) { testStop(t, newPair) })
	t.Run("SlowHandlerDoesNotBlockPublish", func(t *testing.T) { testSlowHandler(t, newPair) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, newPair) })
	t.Run("ResubscribeHookRunsOnStart", func(t *testing.T) { testResubscribeHook(t, newPair) })
}

// collector records what a handler receives.
type collector struct {
	mu  sync.Mutex
	got []keystore.Event
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1<<16)} }

func (c *collector) handle(e keystore.Event) {
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait returns the first n events, failing if they do not arrive in time.
func (c *collector) wait(t *testing.T, n int) []keystore.Event {
	t.Helper()
	deadline := time.After(deliveryTimeout)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]keystore.Event(nil), c.got[:n]...)
			c.mu.Unlock()
			return out
		}
		have := len(c.got)
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("got %d events, want %d", have, n)
		}
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func subscribe(t *testing.T, b bus.Bus, h bus.Handler) func() {
	t.Helper()
	stop, err := b.Subscribe(h)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(stop)
	return stop
}

func publish(t *testing.T, b bus.Bus, e keystore.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func event(seq uint64) keystore.Event {
	return keystore.Event{
		WorkspaceID: "ws", Sequence: seq,
		Type:        keystore.EventType(15), // INGEST_KEY_REVOKED
		IngestKeyID: fmt.Sprintf("ik_%d", seq),
		Time:        time.Date(2026, 11, 25, 10, 0, 0, int(seq)*1000, time.UTC),
	}
}

func testFanOut(t *testing.T, newPair Factory) {
	a, b := newPair(t)
	c1, c2, c3 := newCollector(), newCollector(), newCollector()
	subscribe(t, a, c1.handle)
	subscribe(t, a, c2.handle)
	subscribe(t, b, c3.handle)
	publish(t, a, event(1))
	publish(t, b, event(2))
	for i, c := range []*collector{c1, c2, c3} {
		got := c.wait(t, 2)
		seqs := map[uint64]bool{got[0].Sequence: true, got[1].Sequence: true}
		if !seqs[1] || !seqs[2] {
			t.Errorf("subscriber %d got sequences %v, want 1 and 2", i, seqs)
		}
	}
}

func testOrder(t *testing.T, newPair Factory) {
	a, b := newPair(t)
	c := newCollector()
	subscribe(t, b, c.handle)
	const n = 500
	for i := 1; i <= n; i++ {
		publish(t, a, event(uint64(i)))
	}
	for i, e := range c.wait(t, n) {
		if e.Sequence != uint64(i+1) {
			t.Fatalf("event %d has sequence %d: order not kept", i, e.Sequence)
		}
	}
}

func testRoundTrip(t *testing.T, newPair Factory) {
	a, b := newPair(t)
	c := newCollector()
	subscribe(t, b, c.handle)
	want := keystore.Event{
		WorkspaceID: "ws-1", Sequence: 42, Type: keystore.EventType(21),
		Time:  time.Date(2026, 11, 25, 10, 11, 12, 345678000, time.UTC),
		Actor: "api_key:ak_1", IngestKeyID: "ik_1", DeviceID: "dev-1", APIKeyID: "ak_2",
		DisplayPrefix: "ig_ikv1_Abc", Reason: "device stolen", ChangedFields: []string{"tags", "display_name"},
	}
	publish(t, a, want)
	got := c.wait(t, 1)[0]
	if fmt.Sprint(got) != fmt.Sprint(want) || !got.Time.Equal(want.Time) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func testStop(t *testing.T, newPair Factory) {
	a, b := newPair(t)
	kept, stopped := newCollector(), newCollector()
	subscribe(t, b, kept.handle)
	stop := subscribe(t, b, stopped.handle)
	publish(t, a, event(1))
	stopped.wait(t, 1)
	stop()
	stop() // idempotent
	publish(t, a, event(2))
	kept.wait(t, 2)
	if n := stopped.count(); n != 1 {
		t.Errorf("a stopped subscription received %d events, want 1", n)
	}
}

func testSlowHandler(t *testing.T, newPair Factory) {
	a, b := newPair(t)
	release := make(chan struct{})
	var once sync.Once
	subscribe(t, b, func(keystore.Event) { <-release })
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	fast := newCollector()
	subscribe(t, b, fast.handle)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 100; i++ {
			if err := a.Publish(context.Background(), event(uint64(i))); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(deliveryTimeout):
		t.Fatal("Publish blocked behind a slow handler")
	}
	fast.wait(t, 100)
	once.Do(func() { close(release) })
}

func testClosed(t *testing.T, newPair Factory) {
	a, _ := newPair(t)
	c := newCollector()
	subscribe(t, a, c.handle)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Publish(context.Background(), event(1)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := a.Subscribe(c.handle); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// testResubscribeHook checks the optional bus.Resubscriber capability: a
// hook registered on a subscribed bus runs once, standing in for the first
// subscription. Backends without the capability pass trivially.
func testResubscribeHook(t *testing.T, newPair Factory) {
	a, _ := newPair(t)
	r, ok := a.(bus.Resubscriber)
	if !ok {
		return
	}
	called := make(chan struct{}, 16)
	r.OnResubscribe(func() { called <- struct{}{} })
	select {
	case <-called:
	case <-time.After(deliveryTimeout):
		t.Fatal("OnResubscribe hook did not run on a subscribed bus")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r.OnResubscribe(func() {}) // must neither block nor panic after Close
}
