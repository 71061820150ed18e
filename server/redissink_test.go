package server_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// Redis, holding the telemetry (AOF, fsync always), is killed with SIGKILL
// while a device streams: the stream ends UNAVAILABLE, and once Redis is
// back every batch acked before the kill reads back exactly once. The
// device then resends everything from seq 1, as an SDK that lost its acks
// would: what was stored is answered as a duplicate, the rest is stored,
// and each record is there exactly once.
func TestRedisSinkRestartKeepsAckedRecords(t *testing.T) {
	redis := startOwnRedis(t, true)
	n := servertest.Start(t, func(c *server.Config) {
		c.Redis, c.RedisPrefix, c.Sink = redis.url(), servertest.RedisPrefix(t), "redis"
	})
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	batch := func(seq uint64) []*ingestgatev1.Record {
		return []*ingestgatev1.Record{record(fmt.Sprintf("seq-%d.a", seq), 1), record(fmt.Sprintf("seq-%d.b", seq), 2)}
	}

	d := dial(t, n, "dev", secret)
	var sent atomic.Uint64
	go func() {
		for seq := uint64(1); d.send(seq, batch(seq)...) == nil; seq++ {
			sent.Store(seq)
		}
	}()
	d.waitAcks(300)
	redis.stop() // SIGKILL
	_, st := d.waitEnd()
	if st.Code() != codes.Unavailable {
		t.Fatalf("stream ended with %v after Redis died, want UNAVAILABLE", st)
	}
	acked := map[uint64]bool{}
	for _, a := range d.waitAcks(0) {
		acked[a.GetSeq()] = true
	}
	redis.start() // reloads the AOF
	stored := map[string]bool{}
	for _, e := range readAll(t, n, "dev") {
		stored[e.GetRecord().GetName()] = true
	}
	for seq := range acked {
		if !stored[fmt.Sprintf("seq-%d.a", seq)] || !stored[fmt.Sprintf("seq-%d.b", seq)] {
			t.Fatalf("batch %d was acked before Redis died and is gone after it restarted", seq)
		}
	}

	last := sent.Load() + 10
	var again *devStream
	for deadline := time.Now().Add(waitFor); ; time.Sleep(100 * time.Millisecond) {
		// The node may refuse (UNAVAILABLE) until its client reconnects.
		again = dial(t, n, "dev", secret)
		again.send(1, batch(1)...)
		again.until("an ack or the end", func() bool { return len(again.acks) > 0 || again.end != nil })
		if again.ackCount() > 0 {
			break
		}
		if time.Now().After(deadline) {
			_, st := again.waitEnd()
			t.Fatalf("no stream admitted after Redis returned: %v", st)
		}
	}
	for seq := uint64(2); seq <= last; seq++ {
		again.send(seq, batch(seq)...)
	}
	dups := 0
	for _, a := range again.waitAcks(int(last)) {
		if a.GetDuplicate() {
			dups++
			if !acked[a.GetSeq()] && a.GetSeq() > sent.Load() {
				t.Fatalf("seq %d, never sent before, acked as a duplicate", a.GetSeq())
			}
		}
	}
	seen := map[string]int{}
	for _, e := range readAll(t, n, "dev") {
		seen[e.GetRecord().GetName()]++
	}
	for seq := uint64(1); seq <= last; seq++ {
		for _, part := range []string{"a", "b"} {
			name := fmt.Sprintf("seq-%d.%s", seq, part)
			if seen[name] != 1 {
				t.Fatalf("record %s stored %d times, want 1 (acked before the kill: %v)", name, seen[name], acked[seq])
			}
		}
	}
	if len(seen) != int(2*last) {
		t.Fatalf("%d records stored, want %d", len(seen), 2*last)
	}
	if dups < len(acked) {
		t.Fatalf("%d duplicates on resend, want at least the %d acked before the kill", dups, len(acked))
	}
	t.Logf("%d batches acked before SIGKILL, %d sent; on resend %d were duplicates", len(acked), sent.Load(), dups)
}
