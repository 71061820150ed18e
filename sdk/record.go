package sdk

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// RecordOption sets an optional field of a record built by Number, Text,
// Bool, Bytes or JSON.
type RecordOption func(*ingestgatev1.Record)

// At sets when the device observed the value. Records are stamped with the
// time they were built unless At says otherwise, so a record buffered while
// offline keeps its observation time.
func At(t time.Time) RecordOption {
	return func(r *ingestgatev1.Record) { r.Time = timestamppb.New(t) }
}

// Attr adds one attribute.
func Attr(key, value string) RecordOption {
	return func(r *ingestgatev1.Record) {
		if r.Attributes == nil {
			r.Attributes = make(map[string]string)
		}
		r.Attributes[key] = value
	}
}

// Attrs adds attributes; m is copied.
func Attrs(m map[string]string) RecordOption {
	return func(r *ingestgatev1.Record) {
		if len(m) == 0 {
			return
		}
		if r.Attributes == nil {
			r.Attributes = make(map[string]string, len(m))
		}
		maps.Copy(r.Attributes, m)
	}
}

// Number builds a numeric reading.
func Number(name string, v float64, opts ...RecordOption) *ingestgatev1.Record {
	return build(&ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_NumberValue{NumberValue: v}}, opts)
}

// Text builds a text message.
func Text(name, v string, opts ...RecordOption) *ingestgatev1.Record {
	return build(&ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_TextValue{TextValue: v}}, opts)
}

// Bool builds a boolean reading.
func Bool(name string, v bool, opts ...RecordOption) *ingestgatev1.Record {
	return build(&ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_BoolValue{BoolValue: v}}, opts)
}

// Bytes builds a binary payload; v is not copied, so do not modify it
// until the record has been acknowledged.
func Bytes(name string, v []byte, opts ...RecordOption) *ingestgatev1.Record {
	return build(&ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_BytesValue{BytesValue: v}}, opts)
}

// JSON builds a structured value. v may be a *structpb.Value, a
// json.RawMessage holding JSON text, or any value encoding/json can
// marshal (maps, slices, structs, numbers, strings, bools, nil).
func JSON(name string, v any, opts ...RecordOption) (*ingestgatev1.Record, error) {
	val, err := jsonValue(v)
	if err != nil {
		return nil, fmt.Errorf("sdk: JSON record %q: %w", clip(name), err)
	}
	return build(&ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_JsonValue{JsonValue: val}}, opts), nil
}

func jsonValue(v any) (*structpb.Value, error) {
	switch v := v.(type) {
	case *structpb.Value:
		if v == nil {
			return structpb.NewNullValue(), nil
		}
		return v, nil
	case json.RawMessage:
		return parseJSON(v)
	}
	text, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return parseJSON(text)
}

func parseJSON(text []byte) (*structpb.Value, error) {
	val := &structpb.Value{}
	if err := protojson.Unmarshal(text, val); err != nil {
		return nil, err
	}
	return val, nil
}

// build stamps r with the current time and applies opts.
func build(r *ingestgatev1.Record, opts []RecordOption) *ingestgatev1.Record {
	r.Time = timestamppb.Now()
	for _, o := range opts {
		o(r)
	}
	return r
}
