package sdk_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// TestServerRestart: the server stops under a streaming device and comes
// back on the same address and data. The client reconnects with backoff,
// resends what was not acknowledged, and every record is stored exactly
// once.
func TestServerRestart(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "survivor", secret, sdk.WithBatchSize(10), sdk.WithLinger(time.Millisecond))
	ctx := timeout(t)

	// Stream steadily through the restart.
	var sent atomic.Int64
	stop := make(chan struct{})
	sendErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				sendErr <- nil
				return
			default:
			}
			if err := c.Send(ctx, sdk.Number("n", float64(sent.Load()))); err != nil {
				sendErr <- err
				return
			}
			sent.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	waitUntil(t, ctx, "records acked before the restart", func() bool { return c.Stats().RecordsAcked >= 200 })

	n2 := restart(t, n)
	waitUntil(t, ctx, "a reconnect after the restart", func() bool { return c.Stats().Reconnects > 0 })
	acked := c.Stats().RecordsAcked
	waitUntil(t, ctx, "records acked after the restart", func() bool { return c.Stats().RecordsAcked >= acked+200 })
	close(stop)
	if err := <-sendErr; err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	st := c.Stats()
	if st.RecordsAcked != uint64(sent.Load()) || st.Buffered != 0 {
		t.Fatalf("stats %+v; sent %d", st, sent.Load())
	}
	exactlyOnce(t, readAll(t, n2, "survivor"), int(sent.Load()))
	t.Logf("sent %d records; stats %+v", sent.Load(), st)
}

// TestOfflineStart: a device that starts while the server is down buffers,
// and delivers everything once the server is up.
func TestOfflineStart(t *testing.T) {
	n, secret := stoppedNode(t)
	c := dial(t, n.GRPCAddr, "early-bird", secret)
	ctx := timeout(t)
	for i := range 100 {
		if err := c.Send(ctx, sdk.Number("n", float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	n2 := restart(t, n)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, readAll(t, n2, "early-bird"), 100)
}

// waitUntil polls cond until it holds, failing the test when ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
