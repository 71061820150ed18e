package sdk

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// Bounds the server enforces on every record; Send checks them first so
// that a bad record never reaches the server, which would end the stream
// with INVALID_ARGUMENT.
const (
	MaxNameChars           = 200  // record name, in characters
	MaxAttributes          = 64   // per record
	MaxAttributeKeyBytes   = 128  // non-empty
	MaxAttributeValueBytes = 1024 // may be empty
	maxDeviceID            = 128
)

// batchOverhead bounds the bytes a ConnectRequest adds around its records:
// the batch field's tag and length (up to 1+5) and the seq field (up to
// 1+10).
const batchOverhead = 17

// minBatchBytes is the smallest max batch size accepted by WithMaxBatchBytes.
const minBatchBytes = 1024

// recordWireSize is what r adds to a TelemetryBatch: tag, length and body.
func recordWireSize(r *ingestgatev1.Record) int {
	return 1 + protowire.SizeBytes(proto.Size(r))
}

// checkRecord returns what r adds to a batch, or why the server would refuse
// it. maxBytes is the limit of one stream message.
func checkRecord(i int, r *ingestgatev1.Record, maxBytes int) (int, error) {
	if r == nil {
		return 0, invalidRecord(i, "nil")
	}
	name := r.GetName()
	if !utf8.ValidString(name) {
		return 0, invalidRecord(i, "name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > MaxNameChars {
		return 0, invalidRecord(i, "name %q has %d characters; want 1-%d", clip(name), n, MaxNameChars)
	}
	if t := r.GetTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return 0, invalidRecord(i, "time: %v", err)
		}
	}
	switch v := r.GetValue().(type) {
	case nil:
		return 0, invalidRecord(i, "%q has no value", clip(name))
	case *ingestgatev1.Record_TextValue:
		if !utf8.ValidString(v.TextValue) {
			return 0, invalidRecord(i, "text value is not valid UTF-8")
		}
	case *ingestgatev1.Record_JsonValue:
		if err := checkJSON(v.JsonValue); err != nil {
			return 0, invalidRecord(i, "json value: %v", err)
		}
	}
	if n := len(r.GetAttributes()); n > MaxAttributes {
		return 0, invalidRecord(i, "%q has %d attributes; at most %d are allowed", clip(name), n, MaxAttributes)
	}
	for k, v := range r.GetAttributes() {
		if k == "" || len(k) > MaxAttributeKeyBytes || !utf8.ValidString(k) {
			return 0, invalidRecord(i, "%q: attribute key %q: want 1-%d bytes of UTF-8", clip(name), clip(k), MaxAttributeKeyBytes)
		}
		if len(v) > MaxAttributeValueBytes || !utf8.ValidString(v) {
			return 0, invalidRecord(i, "%q: attribute %q: want a value of at most %d bytes of UTF-8", clip(name), clip(k), MaxAttributeValueBytes)
		}
	}
	size := recordWireSize(r)
	if size+batchOverhead > maxBytes {
		return 0, invalidRecord(i, "%q encodes to %d bytes; a stream message holds at most %d", clip(name), size, maxBytes-batchOverhead)
	}
	return size, nil
}

// checkJSON finds what proto would refuse to encode: strings and keys that
// are not valid UTF-8, and an empty Value.
func checkJSON(v *structpb.Value) error {
	switch k := v.GetKind().(type) {
	case nil:
		return fmt.Errorf("value without a kind")
	case *structpb.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return fmt.Errorf("string is not valid UTF-8")
		}
	case *structpb.Value_StructValue:
		for key, f := range k.StructValue.GetFields() {
			if !utf8.ValidString(key) {
				return fmt.Errorf("key is not valid UTF-8")
			}
			if err := checkJSON(f); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if err := checkJSON(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDeviceID mirrors the server's rule: 1-128 characters of
// [A-Za-z0-9._:-].
func checkDeviceID(id string) error {
	if id == "" || len(id) > maxDeviceID {
		return fmt.Errorf("sdk: device id %q: want 1-%d characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'", clip(id), maxDeviceID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("sdk: device id %q: want 1-%d characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'", clip(id), maxDeviceID)
		}
	}
	return nil
}

// checkKey refuses a key that cannot travel in a header. The error never
// repeats the key.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("sdk: ingest key is empty")
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return fmt.Errorf("sdk: ingest key contains whitespace or a non-printable character at byte %d", i)
		}
	}
	return nil
}

// clip shortens echoed input so an error message stays bounded.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
