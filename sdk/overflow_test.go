package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
)

// TestOverflowDropOldest: offline with a full buffer, Send keeps accepting
// and the oldest unsent records make room; what survives is delivered once
// the server is back.
func TestOverflowDropOldest(t *testing.T) {
	n, secret := stoppedNode(t)
	c := dial(t, n.GRPCAddr, "lossy", secret,
		sdk.WithBufferLimit(10), sdk.WithBatchSize(5), sdk.WithOverflow(sdk.OverflowDropOldest))
	ctx := timeout(t)
	for i := range 20 {
		if err := c.Send(ctx, sdk.Number("n", float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	// One call larger than the room left drops older records first, then
	// the oldest of its own.
	batch := []float64{20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	if err := c.Send(ctx, numberRecords(batch...)...); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.RecordsDropped != 22 || st.Buffered != 10 || st.RecordsSent != 0 {
		t.Fatalf("stats %+v; want 22 dropped, 10 buffered, none sent", st)
	}
	n2 := restart(t, n)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := numbers(readAll(t, n2, "lossy"))
	want := []float64{22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored %v, want %v", got, want)
		}
	}
	if st := c.Stats(); st.RecordsDropped != 22 || st.RecordsAcked != 10 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOverflowBlock: offline with a full buffer, Send waits for room until
// its context ends, drops nothing, and resumes once acks free room.
func TestOverflowBlock(t *testing.T) {
	n, secret := stoppedNode(t)
	c := dial(t, n.GRPCAddr, "patient", secret, sdk.WithBufferLimit(10), sdk.WithBatchSize(5))
	ctx := timeout(t)
	for i := range 10 {
		if err := c.Send(ctx, sdk.Number("n", float64(i))); err != nil {
			t.Fatal(err)
		}
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.Send(short, sdk.Number("n", 10)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send into a full buffer: %v, want DeadlineExceeded", err)
	}
	if err := c.Send(ctx, numberRecords(make([]float64, 11)...)...); err == nil {
		t.Fatal("a Send larger than the buffer was accepted")
	}
	if st := c.Stats(); st.Buffered != 10 || st.RecordsDropped != 0 {
		t.Fatalf("stats %+v; want 10 buffered, none dropped", st)
	}

	// A blocked Send completes once the server is back and acks free room.
	blocked := make(chan error, 1)
	go func() { blocked <- c.Send(ctx, numberRecords(10, 11, 12)...) }()
	select {
	case err := <-blocked:
		t.Fatalf("Send returned %v while the buffer was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	n2 := restart(t, n)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked send: %v", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, readAll(t, n2, "patient"), 13)
}

// TestCloseUnblocksSend: Close ends a Send waiting for room.
func TestCloseUnblocksSend(t *testing.T) {
	n, secret := stoppedNode(t)
	c := dial(t, n.GRPCAddr, "closing", secret, sdk.WithBufferLimit(1), sdk.WithBatchSize(1))
	ctx := timeout(t)
	if err := c.Send(ctx, sdk.Number("n", 0)); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- c.Send(ctx, sdk.Number("n", 1)) }()
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("blocked Send: %v, want ErrClosed", err)
	}
	if err := <-flushed; !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("Flush: %v, want ErrClosed", err)
	}
}

func numberRecords(vs ...float64) []*ingestgatev1.Record {
	out := make([]*ingestgatev1.Record, len(vs))
	for i, v := range vs {
		out[i] = sdk.Number("n", v)
	}
	return out
}
