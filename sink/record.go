package sink

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// ErrInvalidRecord is wrapped in the Result.Err of an Append whose batch
// holds a record CheckRecord rejects (or, for a backend that documents
// narrower limits, one it cannot store as sent). Nothing of such a batch
// is stored: a row that is stored but cannot be read back would break
// every subscriber that reaches it.
var ErrInvalidRecord = errors.New("sink: invalid record")

// MaxJSONDepth bounds the nesting of a record's JSON value. Deeper values
// are rejected when appended instead of failing to decode when read.
const MaxJSONDepth = 100

// CheckRecord returns an error wrapping ErrInvalidRecord when r cannot be
// stored and read back exactly: r is nil, its time is not a valid
// timestamp, a string in it (name, text value, attribute, JSON string or
// key) is not UTF-8, or its JSON value is missing, has no kind, holds a
// NaN or infinite number or nests deeper than MaxJSONDepth. Every
// backend applies it; the server may call it first to answer
// INVALID_ARGUMENT before appending.
func CheckRecord(r *ingestgatev1.Record) error {
	if r == nil {
		return invalid("nil record")
	}
	if r.Time != nil {
		if err := r.Time.CheckValid(); err != nil {
			return invalid("time: %v", err)
		}
	}
	if !utf8.ValidString(r.Name) {
		return invalid("name is not UTF-8")
	}
	switch v := r.Value.(type) {
	case *ingestgatev1.Record_TextValue:
		if !utf8.ValidString(v.TextValue) {
			return invalid("text value is not UTF-8")
		}
	case *ingestgatev1.Record_JsonValue:
		if err := checkJSON(v.JsonValue, 1); err != nil {
			return err
		}
	}
	for k, v := range r.Attributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalid("attribute %q is not UTF-8", k)
		}
	}
	return nil
}

func checkJSON(v *structpb.Value, depth int) error {
	if depth > MaxJSONDepth {
		return invalid("json value nests deeper than %d", MaxJSONDepth)
	}
	if v == nil {
		return invalid("json value is missing")
	}
	switch k := v.Kind.(type) {
	case nil:
		return invalid("json value has no kind")
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			return invalid("json number %v is not finite", k.NumberValue)
		}
	case *structpb.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return invalid("json string is not UTF-8")
		}
	case *structpb.Value_StructValue:
		for key, field := range k.StructValue.GetFields() {
			if !utf8.ValidString(key) {
				return invalid("json key is not UTF-8")
			}
			if err := checkJSON(field, depth+1); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		for _, item := range k.ListValue.GetValues() {
			if err := checkJSON(item, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRecord, fmt.Sprintf(format, args...))
}
