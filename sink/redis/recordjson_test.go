package redis

import (
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

// The record encoder is written by hand to protojson's format: whatever a
// record holds, protojson must read back exactly that record, and write
// the same JSON (whitespace aside) as the hand encoder.
func FuzzRecordJSON(f *testing.F) {
	f.Add("temp", "", "unit", "°C", 21.5, int64(1), int32(0), []byte{0})
	f.Add("q\"uote\\", "line\nbreak\t\x00\x1f", "k\u2028", "\x7f", math.Inf(-1), int64(-62135596800), int32(1000), []byte{})
	f.Add("", "日本", "", "", math.NaN(), int64(253402300799), int32(999999999), []byte{0xff})
	f.Add("n", "t", "k", "v", 1e-7, int64(0), int32(1000000), []byte("x"))
	f.Add("n", "t", "k", "v", 1e21, int64(5), int32(123000), []byte("xy"))
	f.Fuzz(func(t *testing.T, name, text, key, value string, number float64, sec int64, nanos int32, bytes []byte) {
		ts := &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
		if !utf8.ValidString(name) || !utf8.ValidString(text) || !utf8.ValidString(key) || !utf8.ValidString(value) || ts.CheckValid() != nil {
			t.Skip("CheckRecord refuses it")
		}
		recs := []*ingestgatev1.Record{
			{Time: ts, Name: name, Value: &ingestgatev1.Record_NumberValue{NumberValue: number}, Attributes: map[string]string{key: value, "x": text}},
			{Time: ts, Name: text, Value: &ingestgatev1.Record_TextValue{TextValue: text}},
			{Time: ts, Name: value, Value: &ingestgatev1.Record_BytesValue{BytesValue: bytes}},
			{Time: ts, Name: key, Value: &ingestgatev1.Record_BoolValue{BoolValue: len(bytes)%2 == 0}},
			{Time: ts, Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewStringValue(text)}},
			{Name: name},
		}
		recv := time.Unix(sec, int64(nanos)).UTC()
		for i, r := range recs {
			if err := sink.CheckRecord(r); err != nil {
				t.Skip(err)
			}
			js, err := appendRecord(nil, r, recv)
			if err != nil {
				t.Fatal(err)
			}
			got := &ingestgatev1.Record{}
			if err := protojson.Unmarshal(js, got); err != nil {
				t.Fatalf("record %d: protojson cannot read %s: %v", i, js, err)
			}
			want := proto.CloneOf(r)
			if want.Time == nil {
				want.Time = timestamppb.New(recv)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("record %d: read back %v, want %v (JSON %s)", i, got, want, js)
			}
			// Same text as protojson, but for the whitespace protojson
			// adds at random to keep callers from depending on it.
			pj, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if stripSpace(pj) != stripSpace(js) {
				t.Fatalf("record %d:\n  hand      %s\n  protojson %s", i, js, pj)
			}
		}
	})
}

// stripSpace drops JSON whitespace outside strings.
func stripSpace(b []byte) string {
	out := make([]byte, 0, len(b))
	in, esc := false, false
	for _, c := range b {
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
