package sqlite

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// The record encoder is written by hand: whatever strings and numbers a
// record holds, it must write valid JSON that decodes to the same record.
func FuzzRecordJSON(f *testing.F) {
	f.Add("temp", "", "unit", "°C", 21.5, int64(1), []byte{0})
	f.Add("q\"uote\\", "line\nbreak\t\x00\x1f", "k\u2028", "\x7f", math.Inf(-1), int64(-1), []byte{})
	f.Add("", "日本", "", "", math.NaN(), int64(math.MaxInt64), []byte{0xff})
	f.Fuzz(func(t *testing.T, name, text, key, value string, number float64, ns int64, bytes []byte) {
		if !utf8.ValidString(name) || !utf8.ValidString(text) || !utf8.ValidString(key) || !utf8.ValidString(value) {
			t.Skip("CheckRecord refuses strings that are not UTF-8")
		}
		tm := &timestamppb.Timestamp{Seconds: ns / 1e9, Nanos: int32(ns % 1e9)}
		if tm.Nanos < 0 {
			tm.Seconds, tm.Nanos = tm.Seconds-1, tm.Nanos+1e9
		}
		recs := []*ingestgatev1.Record{
			{Time: tm, Name: name, Value: &ingestgatev1.Record_NumberValue{NumberValue: number}, Attributes: map[string]string{key: value, "x": text}},
			{Time: tm, Name: text, Value: &ingestgatev1.Record_TextValue{TextValue: text}},
			{Time: tm, Name: value, Value: &ingestgatev1.Record_BytesValue{BytesValue: bytes}},
			{Time: tm, Name: key, Value: &ingestgatev1.Record_BoolValue{BoolValue: len(bytes)%2 == 0}},
		}
		buf := []byte{'['}
		for i, r := range recs {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendRecord(buf, r, 0); err != nil {
				t.Fatal(err)
			}
		}
		buf = append(buf, ']')
		if !json.Valid(buf) {
			t.Fatalf("invalid JSON: %s", buf)
		}
		got, err := decodeRecords(buf)
		if err != nil {
			t.Fatalf("decode %s: %v", buf, err)
		}
		for i := range recs {
			if !proto.Equal(got[i], recs[i]) {
				t.Fatalf("record %d: got %v, want %v (JSON %s)", i, got[i], recs[i], buf)
			}
		}
	})
}
