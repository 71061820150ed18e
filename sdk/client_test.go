package sdk_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// TestSendFlushReadBack sends every kind of value in calls of varying size,
// with a batch size that leaves partial batches, and reads back each record
// exactly once, as sent.
func TestSendFlushReadBack(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "sensor-1", secret, sdk.WithBatchSize(7))
	ctx := timeout(t)

	const total = 500
	observed := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	want := make(map[string]*ingestgatev1.Record, total)
	var all []*ingestgatev1.Record
	for i := range total {
		id := sdk.Attr("i", strconv.Itoa(i))
		var r *ingestgatev1.Record
		switch i % 5 {
		case 0:
			r = sdk.Number("temp", float64(i)/4, id, sdk.Attrs(map[string]string{"unit": "C", "room": "lab"}))
		case 1:
			r = sdk.Text("log", fmt.Sprintf("line %d: größe", i), id)
		case 2:
			r = sdk.Bool("door.open", i%2 == 0, id, sdk.At(observed))
		case 3:
			r = sdk.Bytes("frame", []byte{0, byte(i), 0xff}, id)
		case 4:
			var err error
			r, err = sdk.JSON("status", map[string]any{"i": i, "ok": true, "tags": []string{"a", "b"}, "nested": map[string]any{"x": nil}}, id)
			if err != nil {
				t.Fatal(err)
			}
		}
		want[strconv.Itoa(i)] = proto.Clone(r).(*ingestgatev1.Record)
		all = append(all, r)
	}
	for i, size := 0, 1; i < total; i, size = i+size, size%13+1 {
		if err := c.Send(ctx, all[i:min(i+size, total)]...); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	st := c.Stats()
	if st.RecordsAcked != total || st.RecordsSent != total || st.Buffered != 0 || st.RecordsDropped != 0 || st.BatchesDuplicate != 0 {
		t.Fatalf("stats after flush: %+v", st)
	}
	if st.BatchesAcked < total/7 {
		t.Fatalf("%d batches acked; batches hold at most 7 records, so want at least %d", st.BatchesAcked, total/7)
	}

	got := readAll(t, n, "sensor-1")
	if len(got) != total {
		t.Fatalf("read back %d records, want %d", len(got), total)
	}
	for _, e := range got {
		r := e.GetRecord()
		w, ok := want[r.GetAttributes()["i"]]
		if !ok {
			t.Fatalf("unexpected or repeated record %v", r)
		}
		delete(want, r.GetAttributes()["i"])
		if !proto.Equal(r, w) {
			t.Fatalf("read back\n%v\nwant\n%v", r, w)
		}
		if e.GetDeviceId() != "sensor-1" {
			t.Fatalf("device id %q", e.GetDeviceId())
		}
	}
}

// TestSeqUniqueAcrossClients: a device that restarts (a new Client with the
// same device id) must not reuse the seqs of its previous run, or the
// server's dedupe would drop its new batches as duplicates. It restarts
// more often than the server's streams-per-device limit (4), which works
// only because Close ends each stream cleanly.
func TestSeqUniqueAcrossClients(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	ctx := timeout(t)
	const runs = 8
	for run := range runs {
		c := dial(t, n.GRPCAddr, "restarting-device", secret, sdk.WithBatchSize(1))
		for i := range 10 {
			if err := c.Send(ctx, sdk.Number("n", float64(run*10+i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.BatchesDuplicate != 0 || st.RecordsAcked != 10 {
			t.Fatalf("run %d: %+v", run, st)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	exactlyOnce(t, readAll(t, n, "restarting-device"), runs*10)
}

// TestLinger: a partial batch goes out after the linger without a Flush.
func TestLinger(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "slow-sensor", secret, sdk.WithLinger(10*time.Millisecond))
	ctx := timeout(t)
	if err := c.Send(ctx, sdk.Number("n", 0), sdk.Number("n", 1)); err != nil {
		t.Fatal(err)
	}
	for c.Stats().RecordsAcked != 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("partial batch never acked: %+v", c.Stats())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestThrottle: over its key's rate, the server throttles; the client
// pauses, and everything is still stored once.
func TestThrottle(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.MaxRecordsPerBatch = 50 })
	_, secret := newKey(t, n, &ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 100}})
	c := dial(t, n.GRPCAddr, "chatty", secret, sdk.WithBatchSize(50))
	ctx := timeout(t)
	const total = 300
	for i := range total {
		if err := c.Send(ctx, sdk.Number("n", float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Throttles == 0 || st.RecordsAcked != total {
		t.Fatalf("stats: %+v; want throttles and %d acked", st, total)
	}
	exactlyOnce(t, readAll(t, n, "chatty"), total)
}

// TestClose: Close stops the client for good and is idempotent.
func TestClose(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "d", secret)
	ctx := timeout(t)
	if err := c.Send(ctx, sdk.Number("n", 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err while running: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	for name, err := range map[string]error{
		"Err": c.Err(), "Send": c.Send(ctx, sdk.Number("n", 1)), "Flush": c.Flush(ctx),
	} {
		if !errors.Is(err, sdk.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	exactlyOnce(t, readAll(t, n, "d"), 1)
}
