package redis

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/internal/jsonenc"
)

// appendRecord writes r, already checked by sink.CheckRecord, as the
// entry format's record field: protojson of ingestgate.v1.Record with
// the proto field names, as protojson.Marshal writes it (fields in
// declaration order, the same spellings of times, numbers and bytes),
// but by hand: protojson was 54% of a node's CPU at batch 100 with this
// sink. A record without a time gets recv. FuzzRecordJSON checks that
// protojson reads back every record exactly.
func appendRecord(buf []byte, r *ingestgatev1.Record, recv time.Time) ([]byte, error) {
	t := recv
	if r.Time != nil {
		t = r.Time.AsTime()
	}
	buf = append(buf, `{"time":`...)
	buf = appendTimestamp(buf, t)
	if r.Name != "" { // protojson omits an empty string field
		buf = append(buf, `,"name":`...)
		buf = jsonenc.AppendString(buf, r.Name)
	}
	switch v := r.Value.(type) {
	case nil:
	case *ingestgatev1.Record_NumberValue:
		buf = append(buf, `,"number_value":`...)
		buf = appendDouble(buf, v.NumberValue)
	case *ingestgatev1.Record_TextValue:
		buf = append(buf, `,"text_value":`...)
		buf = jsonenc.AppendString(buf, v.TextValue)
	case *ingestgatev1.Record_BoolValue:
		buf = append(buf, `,"bool_value":`...)
		buf = strconv.AppendBool(buf, v.BoolValue)
	case *ingestgatev1.Record_BytesValue:
		buf = append(buf, `,"bytes_value":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, v.BytesValue)
		buf = append(buf, '"')
	case *ingestgatev1.Record_JsonValue:
		j, err := protojson.Marshal(v.JsonValue)
		if err != nil {
			return nil, fmt.Errorf("%w: json value: %v", sink.ErrInvalidRecord, err)
		}
		buf = append(buf, `,"json_value":`...)
		buf = append(buf, j...)
	default:
		return nil, fmt.Errorf("%w: unknown value type %T", sink.ErrInvalidRecord, v)
	}
	if len(r.Attributes) > 0 {
		buf = append(buf, `,"attributes":`...)
		buf = jsonenc.AppendObject(buf, r.Attributes)
	}
	return append(buf, '}'), nil
}

// appendTimestamp writes t as protojson writes a Timestamp: RFC 3339 in
// UTC with 0, 3, 6 or 9 fractional digits. t is within years 1-9999
// (CheckRecord, or the receive time's own check).
func appendTimestamp(buf []byte, t time.Time) []byte {
	t = t.UTC()
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	digits := 9
	switch {
	case ns == 0:
		digits = 0
	case ns%1e6 == 0:
		digits, ns = 3, ns/1e6
	case ns%1e3 == 0:
		digits, ns = 6, ns/1e3
	}
	if digits > 0 {
		buf = append(buf, '.')
		frac := strconv.Itoa(ns)
		for range digits - len(frac) {
			buf = append(buf, '0')
		}
		buf = append(buf, frac...)
	}
	return append(buf, 'Z', '"')
}

// appendDouble writes v as protojson writes a double: the non-finite
// values as the strings "NaN", "Infinity" and "-Infinity", the others
// formatted as encoding/json formats a float64.
func appendDouble(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(buf, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, v, format, -1, 64)
	if format == 'e' {
		// "1e-07", as encoding/json writes it, becomes "1e-7".
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}
