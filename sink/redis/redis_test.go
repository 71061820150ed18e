package redis_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/sink"
	sinkredis "github.com/ingestgate/ingestgate/sink/redis"
	"github.com/ingestgate/ingestgate/sink/sinktest"
)

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sink.Sink {
		return newSink(t, testservices.RedisClient(t), sinkredis.Options{Prefix: uniquePrefix(t)})
	})
}

// TestConsumerGroup reads what the sink stored the way a downstream
// service does: a consumer group on its own client, decoding the
// documented entry format without this package.
func TestConsumerGroup(t *testing.T) {
	ctx := t.Context()
	prefix := uniquePrefix(t)
	s := newSink(t, testservices.RedisClient(t), sinkredis.Options{Prefix: prefix})
	recv := time.Date(2026, 11, 25, 10, 11, 12, 123456789, time.FixedZone("CET", 3600))
	recs := []*ingestgatev1.Record{
		{Time: timestamppb.New(recv.Add(-time.Second)), Name: "temp.celsius", Value: &ingestgatev1.Record_NumberValue{NumberValue: 21.5}},
		{Name: "door.open", Value: &ingestgatev1.Record_BoolValue{BoolValue: true}, Attributes: map[string]string{"side": "left"}},
	}
	b := sink.Batch{WorkspaceID: "ws_1", DeviceID: "dev_1", IngestKeyID: "ik_1", DedupeKey: "s:1", ReceiveTime: recv, Records: recs}
	if _, err := sink.Store(ctx, s, b); err != nil {
		t.Fatalf("Store: %v", err)
	}

	consumer := testservices.RedisClient(t)
	stream := prefix + "telemetry:ws_1"
	if err := consumer.XGroupCreate(ctx, stream, "downstream", "0").Err(); err != nil {
		t.Fatalf("XGROUP CREATE: %v", err)
	}
	xs, err := consumer.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group: "downstream", Consumer: "c1", Streams: []string{stream, ">"}, Count: 10, Block: time.Second,
	}).Result()
	if err != nil {
		t.Fatalf("XREADGROUP: %v", err)
	}
	if len(xs) != 1 || len(xs[0].Messages) != len(recs) {
		t.Fatalf("XREADGROUP returned %+v, want %d entries of one stream", xs, len(recs))
	}
	es, err := s.Read(ctx, sink.Query{WorkspaceID: "ws_1"})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for i, m := range xs[0].Messages {
		if len(m.Values) != 4 {
			t.Errorf("entry %d has fields %v, want exactly device_id, ingest_key_id, receive_time, record", i, m.Values)
		}
		for field, want := range map[string]string{
			"device_id": "dev_1", "ingest_key_id": "ik_1", "receive_time": "2026-11-25T09:11:12.123456789Z",
		} {
			if got := m.Values[field]; got != want {
				t.Errorf("entry %d: %s = %q, want %q", i, field, got, want)
			}
		}
		js, _ := m.Values["record"].(string)
		var got ingestgatev1.Record
		if err := protojson.Unmarshal([]byte(js), &got); err != nil {
			t.Fatalf("entry %d: record %q: %v", i, js, err)
		}
		want := proto.CloneOf(recs[i])
		if want.Time == nil {
			want.Time = timestamppb.New(recv)
		}
		if !proto.Equal(&got, want) {
			t.Errorf("entry %d: record %s, want %s", i, js, want)
		}
		if m.ID != es[i].Cursor {
			t.Errorf("entry %d: ID %s, but Read's cursor is %s", i, m.ID, es[i].Cursor)
		}
		if err := consumer.XAck(ctx, stream, "downstream", m.ID).Err(); err != nil {
			t.Fatalf("XACK: %v", err)
		}
	}
	// Proto field names, as documented, not lowerCamel.
	if js := xs[0].Messages[0].Values["record"].(string); !strings.Contains(js, `"number_value"`) {
		t.Errorf("record %s does not use proto field names", js)
	}
}

// TestGroupCommit checks that batches appended concurrently share
// pipelines instead of taking one round trip each.
func TestGroupCommit(t *testing.T) {
	var hooked sinktest.Commits
	s := newSink(t, testservices.RedisClient(t), sinkredis.Options{Prefix: uniquePrefix(t), OnCommit: hooked.Add})
	const n = 500
	var results []<-chan sink.Result
	for i := range n {
		results = append(results, s.Append(t.Context(), sink.Batch{
			WorkspaceID: "ws", DeviceID: "d", DedupeKey: fmt.Sprintf("s:%d", i), ReceiveTime: time.Now(),
			Records: []*ingestgatev1.Record{{Name: fmt.Sprint(i)}},
		}))
	}
	for i, ch := range results {
		if r := <-ch; r.Err != nil || r.Duplicate {
			t.Fatalf("batch %d: %+v", i, r)
		}
	}
	st := s.Stats()
	if st.Batches != n || st.Records != n || st.Duplicates != 0 {
		t.Fatalf("Stats %+v, want %d batches and records", st, n)
	}
	if st.Pipelines >= n/2 {
		t.Fatalf("%d pipelines for %d pipelined batches: no group commit", st.Pipelines, n)
	}
	// OnCommit saw each pipeline, with its batches and records.
	if got, want := hooked.Sum(), (sinktest.CommitSum{Commits: int(st.Pipelines), Batches: n, Records: n}); got != want {
		t.Fatalf("OnCommit saw %+v, want %+v", got, want)
	}
}

// Batches are stored with EVALSHA after a SCRIPT LOAD in the same
// pipeline, so an empty script cache (a Redis restart, SCRIPT FLUSH) costs
// nothing: the next batch is stored as if the script had always been
// there.
func TestScriptCacheFlushed(t *testing.T) {
	c := testservices.RedisClient(t)
	s := newSink(t, c, sinkredis.Options{Prefix: uniquePrefix(t)})
	for i := range 3 {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		r, err := sink.Store(t.Context(), s, sink.Batch{WorkspaceID: "ws", DeviceID: "d", DedupeKey: fmt.Sprintf("s:%d", i),
			ReceiveTime: time.Now(), Records: []*ingestgatev1.Record{{Name: fmt.Sprint(i)}}})
		if err != nil || r.Duplicate {
			t.Fatalf("batch %d after SCRIPT FLUSH: %+v %v", i, r, err)
		}
	}
	es, err := s.Read(t.Context(), sink.Query{WorkspaceID: "ws"})
	if err != nil || len(es) != 3 {
		t.Fatalf("read %d entries (%v), want 3", len(es), err)
	}
}

// TestDedupeKeys checks the documented dedupe key, its expiry, and that
// colons in IDs cannot make two devices share one.
func TestDedupeKeys(t *testing.T) {
	c := testservices.RedisClient(t)
	prefix := uniquePrefix(t)
	s := newSink(t, c, sinkredis.Options{Prefix: prefix, DedupeWindow: time.Hour})
	store := func(ws, device string) sink.Result {
		t.Helper()
		r, err := sink.Store(t.Context(), s, sink.Batch{WorkspaceID: ws, DeviceID: device, DedupeKey: "i:k", ReceiveTime: time.Now(),
			Records: []*ingestgatev1.Record{{Name: ws + "/" + device}}})
		if err != nil {
			t.Fatalf("Store(%s, %s): %v", ws, device, err)
		}
		return r
	}
	if r := store("ws_1", "dev_1"); r.Duplicate {
		t.Fatal("first batch is a duplicate")
	}
	ttl, err := c.PTTL(t.Context(), prefix+"dedupe:ws_1:dev_1:i:k").Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL of the dedupe key = %v, %v; want about 1h", ttl, err)
	}
	if r := store("a:b", "c"); r.Duplicate {
		t.Fatal("a:b/c is a duplicate")
	}
	if r := store("a", "b:c"); r.Duplicate {
		t.Fatal("a/b:c is a duplicate of a:b/c")
	}
}

func TestOptions(t *testing.T) {
	c := testservices.RedisClient(t)
	for _, tc := range []struct {
		name string
		opts sinkredis.Options
	}{
		{"MaxLenBelowUnlimited", sinkredis.Options{MaxLen: -2}},
		{"DedupeWindowNegative", sinkredis.Options{DedupeWindow: -time.Second}},
		{"DedupeWindowBelowMillisecond", sinkredis.Options{DedupeWindow: time.Microsecond}},
		{"QueueSizeNegative", sinkredis.Options{QueueSize: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := sinkredis.New(t.Context(), c, tc.opts); err == nil {
				s.Close()
				t.Fatal("New accepted invalid options")
			}
		})
	}
	t.Run("Unreachable", func(t *testing.T) {
		dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		defer dead.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if s, err := sinkredis.New(ctx, dead, sinkredis.Options{}); err == nil {
			s.Close()
			t.Fatal("New succeeded without Redis")
		}
	})
}

// TestMaxLen checks that streams are trimmed to about MaxLen, and not at
// all with Unlimited.
func TestMaxLen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxLen int64
		want   func(n int64) bool
	}{
		// MAXLEN ~ trims whole macro nodes (100 entries by default).
		{"Trimmed", 10, func(n int64) bool { return n < 1000 }},
		{"Unlimited", sinkredis.Unlimited, func(n int64) bool { return n == 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testservices.RedisClient(t)
			prefix := uniquePrefix(t)
			s := newSink(t, c, sinkredis.Options{Prefix: prefix, MaxLen: tc.maxLen})
			for i := range 10 {
				b := sink.Batch{WorkspaceID: "ws", DeviceID: "d", ReceiveTime: time.Now()}
				for j := range 100 {
					b.Records = append(b.Records, &ingestgatev1.Record{Name: fmt.Sprintf("%d.%d", i, j)})
				}
				if _, err := sink.Store(t.Context(), s, b); err != nil {
					t.Fatal(err)
				}
			}
			n, err := c.XLen(t.Context(), prefix+"telemetry:ws").Result()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(n) {
				t.Fatalf("stream holds %d entries", n)
			}
		})
	}
}

// uniquePrefix isolates a test's keys on a shared Redis server.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("ingestgate-test:%s:%s:", t.Name(), rand.Text()[:8])
}

func newSink(t *testing.T, c goredis.UniversalClient, opts sinkredis.Options) *sinkredis.Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sinkredis.New(ctx, c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
