package sinktest

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

// zone is deliberately not UTC: sinks must hand times back in UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// at returns distinct times with a nanosecond part, so a backend that
// keeps only micro- or milliseconds fails.
func at(n int) time.Time {
	base := time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, zone)
	return base.Add(time.Duration(n) * (time.Minute + 7*time.Nanosecond))
}

func batch(ws, device string, recs ...*ingestgatev1.Record) sink.Batch {
	return sink.Batch{
		WorkspaceID: ws, DeviceID: device, IngestKeyID: "ik-" + device,
		ReceiveTime: at(0), Records: recs,
	}
}

// tagged is a small record whose name identifies it in order checks.
func tagged(tag string) *ingestgatev1.Record {
	return &ingestgatev1.Record{
		Time:  timestamppb.New(at(1)),
		Name:  tag,
		Value: &ingestgatev1.Record_NumberValue{NumberValue: 1},
	}
}

func taggedf(format string, args ...any) *ingestgatev1.Record {
	return tagged(fmt.Sprintf(format, args...))
}

// names lists the record names of es, in order.
func names(es []sink.Entry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Record.GetName())
	}
	return out
}

func wantNames(t *testing.T, what string, es []sink.Entry, want ...string) {
	t.Helper()
	if got := names(es); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("%s: got records %q, want %q", what, got, want)
	}
}

// jsonValue builds a structpb.Value from a Go value or fails.
func jsonValue(v any) *structpb.Value {
	jv, err := structpb.NewValue(v)
	if err != nil {
		panic(err)
	}
	return jv
}

// EveryKind has a record of each value kind, and the edge cases of each:
// no value, no time, NaN and infinities, empty bytes and text, nested
// JSON, attributes with characters that need escaping.
func EveryKind() []*ingestgatev1.Record {
	ts := func(n int) *timestamppb.Timestamp { return timestamppb.New(at(n)) }
	return []*ingestgatev1.Record{
		{Time: ts(1), Name: "temp.celsius", Value: &ingestgatev1.Record_NumberValue{NumberValue: 21.375}},
		{Time: ts(2), Name: "num.tiny", Value: &ingestgatev1.Record_NumberValue{NumberValue: math.SmallestNonzeroFloat64}},
		{Time: ts(3), Name: "num.max", Value: &ingestgatev1.Record_NumberValue{NumberValue: math.MaxFloat64}},
		{Time: ts(4), Name: "num.nan", Value: &ingestgatev1.Record_NumberValue{NumberValue: math.NaN()}},
		{Time: ts(5), Name: "num.inf", Value: &ingestgatev1.Record_NumberValue{NumberValue: math.Inf(-1)}},
		{Time: ts(6), Name: "num.int", Value: &ingestgatev1.Record_NumberValue{NumberValue: 1 << 53}},
		{Time: ts(7), Name: "log", Value: &ingestgatev1.Record_TextValue{TextValue: "héllo \"wörld\"\n\t<&> 日本 \x00 end"}},
		{Time: ts(8), Name: "text.empty", Value: &ingestgatev1.Record_TextValue{TextValue: ""}},
		{Time: ts(9), Name: "door.open", Value: &ingestgatev1.Record_BoolValue{BoolValue: true}},
		{Time: ts(10), Name: "door.locked", Value: &ingestgatev1.Record_BoolValue{BoolValue: false}},
		{Time: ts(11), Name: "frame", Value: &ingestgatev1.Record_BytesValue{BytesValue: []byte{0, 1, 2, 0xfe, 0xff, 0}}},
		{Time: ts(12), Name: "bytes.empty", Value: &ingestgatev1.Record_BytesValue{BytesValue: []byte{}}},
		{Time: ts(13), Name: "gps", Value: &ingestgatev1.Record_JsonValue{JsonValue: jsonValue(map[string]any{
			"lat": 52.520008, "lon": 13.404954, "fix": true, "sats": []any{3.0, 7.0, "x", nil, map[string]any{}},
			"name": "ünïcode \"quoted\"", "none": nil, "nested": map[string]any{"a": map[string]any{"b": []any{}}},
		})}},
		{Time: ts(14), Name: "json.null", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewNullValue()}},
		{Time: ts(15), Name: "json.string", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewStringValue("just text")}},
		{Time: ts(16), Name: "json.number", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewNumberValue(-0.000123e-200)}},
		{Time: ts(17), Name: "no.value"},
		{Time: ts(18), Name: "attrs", Value: &ingestgatev1.Record_NumberValue{NumberValue: -3},
			Attributes: map[string]string{"unit": "°C", "quote\"key": "back\\slash", "empty": "", "nl": "a\nb"}},
		// No time: it reads back with the batch's ReceiveTime.
		{Name: "no.time", Value: &ingestgatev1.Record_TextValue{TextValue: "late"}},
		{Time: timestamppb.New(time.Unix(0, 0)), Name: "epoch", Value: &ingestgatev1.Record_BoolValue{BoolValue: true}},
		{Time: &timestamppb.Timestamp{Seconds: -86400 * 365, Nanos: 999_999_999}, Name: "before.epoch",
			Value: &ingestgatev1.Record_NumberValue{NumberValue: 0}},
	}
}

// WithTime returns a copy of r whose unset time is recv, as it reads back.
func WithTime(r *ingestgatev1.Record, recv time.Time) *ingestgatev1.Record {
	r = proto.Clone(r).(*ingestgatev1.Record)
	if r.Time == nil {
		r.Time = timestamppb.New(recv)
	}
	return r
}

// WantRecords compares the records of es with want under proto.Equal.
func WantRecords(t *testing.T, what string, es []sink.Entry, want []*ingestgatev1.Record) {
	t.Helper()
	if len(es) != len(want) {
		t.Fatalf("%s: got %d entries %q, want %d", what, len(es), names(es), len(want))
	}
	for i, e := range es {
		if !proto.Equal(e.Record, want[i]) {
			t.Errorf("%s: entry %d:\n  got  %s\n  want %s", what, i, show(e.Record), show(want[i]))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func show(r *ingestgatev1.Record) string {
	b, err := protojson.Marshal(r)
	if err != nil {
		return fmt.Sprintf("%v (%v)", r, err)
	}
	return string(b)
}

// wantTime fails unless got is want's instant in UTC.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s: got %s (%v), want %s in UTC", what, got.Format(time.RFC3339Nano), got.Location(), want.UTC().Format(time.RFC3339Nano))
	}
}
