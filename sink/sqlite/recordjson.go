package sqlite

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/internal/jsonenc"
)

// A record is stored as a JSON object (documented in migration 0002):
//
//	{"time":<unix ns>,"name":"…",<value>,"attributes":{…}}
//
// <value> is absent for a record without one, or exactly one of
// "number":<number> (null for NaN, ±9e999 for the infinities, as SQLite
// writes them), "text":"…", "bool":true|false, "bytes":"<hex>" or
// "json":<the JSON value>. "attributes" is absent when there are none.
// The encoder is written out by hand: it runs for every record on the
// ingest path, and encoding/json's reflection costs several times more.

// appendRecord checks r and appends its JSON object to buf.
func appendRecord(buf []byte, r *ingestgatev1.Record, recv int64) ([]byte, error) {
	if err := sink.CheckRecord(r); err != nil {
		return nil, err
	}
	t := recv
	if r.Time != nil {
		var err error
		if t, err = nanos(r.Time.AsTime()); err != nil {
			return nil, fmt.Errorf("time: %w", err)
		}
	}
	buf = append(buf, `{"time":`...)
	buf = strconv.AppendInt(buf, t, 10)
	buf = append(buf, `,"name":`...)
	buf = jsonenc.AppendString(buf, r.Name)
	switch v := r.Value.(type) {
	case nil:
	case *ingestgatev1.Record_NumberValue:
		buf = append(buf, `,"number":`...)
		buf = appendNumber(buf, v.NumberValue)
	case *ingestgatev1.Record_TextValue:
		buf = append(buf, `,"text":`...)
		buf = jsonenc.AppendString(buf, v.TextValue)
	case *ingestgatev1.Record_BoolValue:
		buf = append(buf, `,"bool":`...)
		buf = strconv.AppendBool(buf, v.BoolValue)
	case *ingestgatev1.Record_BytesValue:
		buf = append(buf, `,"bytes":"`...)
		buf = hex.AppendEncode(buf, v.BytesValue)
		buf = append(buf, '"')
	case *ingestgatev1.Record_JsonValue:
		j, err := protojson.Marshal(v.JsonValue)
		if err != nil {
			return nil, fmt.Errorf("%w: json value: %v", sink.ErrInvalidRecord, err)
		}
		buf = append(buf, `,"json":`...)
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

// appendNumber writes v as a JSON number: JSON has no NaN (null stands
// for it) or infinities (SQLite's own spelling, ±9e999, which it reads as
// ±Inf).
func appendNumber(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "null"...)
	case math.IsInf(v, 1):
		return append(buf, "9e999"...)
	case math.IsInf(v, -1):
		return append(buf, "-9e999"...)
	}
	return strconv.AppendFloat(buf, v, 'g', -1, 64)
}

// storedRecord is a record's JSON object as decoded. Raw values keep
// "absent" (nil) apart from null.
type storedRecord struct {
	Time       int64             `json:"time"`
	Name       string            `json:"name"`
	Number     json.RawMessage   `json:"number"`
	Text       *string           `json:"text"`
	Bool       *bool             `json:"bool"`
	Bytes      *string           `json:"bytes"`
	JSON       json.RawMessage   `json:"json"`
	Attributes map[string]string `json:"attributes"`
}

// decodeRecords decodes a batch's records column.
func decodeRecords(text []byte) ([]*ingestgatev1.Record, error) {
	var stored []storedRecord
	if err := json.Unmarshal(text, &stored); err != nil {
		return nil, err
	}
	out := make([]*ingestgatev1.Record, len(stored))
	for i, s := range stored {
		r := &ingestgatev1.Record{Time: timestamppb.New(time.Unix(0, s.Time)), Name: s.Name, Attributes: s.Attributes}
		switch {
		case s.Number != nil:
			v, err := parseNumber(s.Number)
			if err != nil {
				return nil, fmt.Errorf("record %d: number: %w", i, err)
			}
			r.Value = &ingestgatev1.Record_NumberValue{NumberValue: v}
		case s.Text != nil:
			r.Value = &ingestgatev1.Record_TextValue{TextValue: *s.Text}
		case s.Bool != nil:
			r.Value = &ingestgatev1.Record_BoolValue{BoolValue: *s.Bool}
		case s.Bytes != nil:
			b, err := hex.DecodeString(*s.Bytes)
			if err != nil {
				return nil, fmt.Errorf("record %d: bytes: %w", i, err)
			}
			r.Value = &ingestgatev1.Record_BytesValue{BytesValue: b}
		case s.JSON != nil:
			v := &structpb.Value{}
			if err := protojson.Unmarshal(s.JSON, v); err != nil {
				return nil, fmt.Errorf("record %d: json value: %w", i, err)
			}
			r.Value = &ingestgatev1.Record_JsonValue{JsonValue: v}
		}
		out[i] = r
	}
	return out, nil
}

// parseNumber reads what appendNumber (or SQLite, for rows migrated from
// the old table) wrote.
func parseNumber(raw json.RawMessage) (float64, error) {
	if string(raw) == "null" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !(errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0)) {
		return 0, err
	}
	return v, nil
}
