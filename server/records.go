package server

import (
	"fmt"
	"unicode/utf8"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

// Bounds on what one record may carry; the message size bounds the rest.
const (
	maxRecordNameLen  = 200
	maxAttributes     = 64
	maxAttributeKey   = 128
	maxAttributeValue = 1024
)

// validateRecords checks a batch before anything of it is stored, so a bad
// batch is refused whole with a message that names the record at fault.
func validateRecords(records []*ingestgatev1.Record, maxRecords int) error {
	if len(records) == 0 {
		return fmt.Errorf("batch has no records")
	}
	if len(records) > maxRecords {
		return fmt.Errorf("batch has %d records; at most %d per batch", len(records), maxRecords)
	}
	for i, r := range records {
		if err := validateRecord(r); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

func validateRecord(r *ingestgatev1.Record) error {
	if n := utf8.RuneCountInString(r.GetName()); n == 0 || n > maxRecordNameLen {
		return fmt.Errorf("name must be 1-%d characters", maxRecordNameLen)
	}
	if r.GetValue() == nil {
		return fmt.Errorf("%q has no value; set one of number_value, text_value, bool_value, bytes_value, json_value", r.GetName())
	}
	if t := r.GetTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return fmt.Errorf("%q: time: %v", r.GetName(), err)
		}
	}
	// What the sink could not store and read back exactly (bad JSON
	// values, times out of range, invalid UTF-8) is refused here too, with
	// the same words, before any of the batch is stored.
	if err := sink.CheckRecord(r); err != nil {
		return fmt.Errorf("%q: %w", r.GetName(), err)
	}
	if len(r.GetAttributes()) > maxAttributes {
		return fmt.Errorf("%q: at most %d attributes", r.GetName(), maxAttributes)
	}
	for k, v := range r.GetAttributes() {
		if k == "" || len(k) > maxAttributeKey {
			return fmt.Errorf("%q: attribute keys must be 1-%d bytes", r.GetName(), maxAttributeKey)
		}
		if len(v) > maxAttributeValue {
			return fmt.Errorf("%q: attribute %q: value over %d bytes", r.GetName(), k, maxAttributeValue)
		}
	}
	return nil
}
