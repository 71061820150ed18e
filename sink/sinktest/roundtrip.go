package sinktest

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

func testRoundTrip(t *testing.T, newSink Factory) {
	t.Run("EveryKind", func(t *testing.T) {
		s := newSink(t)
		recs := EveryKind()
		b := sink.Batch{
			WorkspaceID: "ws-1", DeviceID: "dev-1", IngestKeyID: "ik-1", DedupeKey: "s:1",
			ReceiveTime: at(100), Records: recs,
		}
		store(t, s, b)
		es := read(t, s, sink.Query{WorkspaceID: "ws-1"})
		want := make([]*ingestgatev1.Record, len(recs))
		for i, r := range recs {
			want[i] = WithTime(r, b.ReceiveTime)
		}
		WantRecords(t, "read back", es, want)
		for i, e := range es {
			if e.WorkspaceID != "ws-1" || e.DeviceID != "dev-1" || e.IngestKeyID != "ik-1" {
				t.Fatalf("entry %d comes from %q/%q/%q, want ws-1/dev-1/ik-1", i, e.WorkspaceID, e.DeviceID, e.IngestKeyID)
			}
			if e.Cursor == "" {
				t.Fatalf("entry %d has no cursor", i)
			}
			wantTime(t, "ReceiveTime", e.ReceiveTime, b.ReceiveTime)
		}
	})

	t.Run("CallerKeepsRecords", func(t *testing.T) {
		// What Read returns is not what was appended: changing a read
		// record changes neither the caller's copy nor the next read.
		s := newSink(t)
		r := tagged("orig")
		store(t, s, batch("ws-1", "dev-1", r))
		es := read(t, s, sink.Query{WorkspaceID: "ws-1"})
		wantNames(t, "first read", es, "orig")
		es[0].Record.Name = "changed"
		if r.Name != "orig" {
			t.Fatal("changing a read record changed the appended one")
		}
		wantNames(t, "second read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "orig")
	})

	t.Run("ZeroReceiveTime", func(t *testing.T) {
		s := newSink(t)
		b := batch("ws-1", "dev-1", &ingestgatev1.Record{Name: "untimed"})
		b.ReceiveTime = time.Time{}
		before := time.Now()
		store(t, s, b)
		after := time.Now()
		es := read(t, s, sink.Query{WorkspaceID: "ws-1"})
		wantNames(t, "read", es, "untimed")
		got := es[0].ReceiveTime
		if got.Before(before.Add(-time.Microsecond)) || got.After(after.Add(time.Microsecond)) || got.Location() != time.UTC {
			t.Fatalf("ReceiveTime %v, want the time of Append (%v..%v) in UTC", got, before, after)
		}
		if rt := es[0].Record.GetTime().AsTime(); !rt.Equal(got) {
			t.Fatalf("record time %v, want the receive time %v", rt, got)
		}
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		s := newSink(t)
		store(t, s, batch("ws-1", "dev-1"))
		wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}))
		end, err := s.EndCursor(t.Context(), "ws-1")
		noErr(t, "EndCursor", err)
		if end != "" {
			t.Fatalf("EndCursor after an empty batch = %q, want \"\"", end)
		}
	})
}

func testInvalidRecords(t *testing.T, newSink Factory) {
	deep := structpb.NewNullValue()
	for range sink.MaxJSONDepth {
		deep = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{deep}})
	}
	for _, tc := range []struct {
		name string
		rec  *ingestgatev1.Record
	}{
		{"Nil", nil},
		{"NegativeNanos", &ingestgatev1.Record{Name: "x", Time: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}},
		{"TooManyNanos", &ingestgatev1.Record{Name: "x", Time: &timestamppb.Timestamp{Seconds: 1, Nanos: 1e9}}},
		{"Year10000", &ingestgatev1.Record{Name: "x", Time: &timestamppb.Timestamp{Seconds: 253402300800}}},
		{"NameNotUTF8", &ingestgatev1.Record{Name: "bad\xff"}},
		{"TextNotUTF8", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_TextValue{TextValue: "bad\xc3"}}},
		{"AttributeNotUTF8", &ingestgatev1.Record{Name: "x", Attributes: map[string]string{"k": "\xff"}}},
		{"JSONMissing", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{}}},
		{"JSONNoKind", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: &structpb.Value{}}}},
		{"JSONNaN", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewNumberValue(math.NaN())}}},
		{"JSONNestedInf", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewListValue(
			&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(math.Inf(1))}})}}},
		{"JSONKeyNotUTF8", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewStructValue(
			&structpb.Struct{Fields: map[string]*structpb.Value{"\xff": structpb.NewNullValue()}})}}},
		{"JSONTooDeep", &ingestgatev1.Record{Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: deep}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CheckRecord", sink.CheckRecord(tc.rec), sink.ErrInvalidRecord)
			s := newSink(t)
			b := batch("ws-1", "dev-1", tagged("valid"), tc.rec)
			b.DedupeKey = "s:1"
			r := result(t, s.Append(t.Context(), b))
			wantErr(t, "Append", r.Err, sink.ErrInvalidRecord)
			wantNames(t, "read after a refused batch", read(t, s, sink.Query{WorkspaceID: "ws-1"}))
			// The refused batch did not claim its dedupe key.
			store(t, s, batch("ws-1", "dev-1", tagged("fixed")))
			b = batch("ws-1", "dev-1", tagged("resent"))
			b.DedupeKey = "s:1"
			store(t, s, b)
			wantNames(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), "fixed", "resent")
		})
	}
	t.Run("DeepestAllowed", func(t *testing.T) {
		s := newSink(t)
		v := structpb.NewNullValue()
		for range sink.MaxJSONDepth - 1 {
			v = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{v}})
		}
		r := &ingestgatev1.Record{Name: "deep", Time: timestamppb.New(at(1)), Value: &ingestgatev1.Record_JsonValue{JsonValue: v}}
		store(t, s, batch("ws-1", "dev-1", r))
		WantRecords(t, "read", read(t, s, sink.Query{WorkspaceID: "ws-1"}), []*ingestgatev1.Record{r})
	})
}
