package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// Conversions between keystore values and column values that are the same
// in every dialect (times and counters are not: see Dialect). Arguments are
// built with the *Arg functions; columns are scanned through the adapter
// types, which implement both database/sql's Scanner (Scan) and pgx's
// BytesScanner (ScanBytes). pgx prefers ScanBytes: no reflection, and NULL
// handled in one place (nil bytes).

// CounterArg stores a usage counter; SQL integers are signed, so it
// saturates at math.MaxInt64.
func CounterArg(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// storedTime is t as a read returns it: microseconds, UTC.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// hashArg stores an unset hash as NULL so it can never be looked up.
func hashArg(h keystore.Hash) any {
	if h.IsZero() {
		return nil
	}
	return h[:]
}

type hashCol struct{ h *keystore.Hash }

func (c hashCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return c.ScanBytes(nil)
	case []byte:
		return c.ScanBytes(v)
	default:
		return fmt.Errorf("hash column: unexpected %T", src)
	}
}

func (c hashCol) ScanBytes(v []byte) error {
	switch {
	case len(v) == 0: // NULL
		*c.h = keystore.Hash{}
	case len(v) != len(c.h):
		return fmt.Errorf("hash column: %d bytes, want %d", len(v), len(c.h))
	default:
		copy(c.h[:], v)
	}
	return nil
}

// bytesArg stores empty bytes as NULL, so nil and empty read back alike
// (nil).
func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// bytesCol scans a BLOB or bytea into a copy (the driver owns the buffer
// it hands over); NULL or empty comes back nil.
type bytesCol struct{ b *[]byte }

func (c bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return c.ScanBytes(nil)
	case []byte:
		return c.ScanBytes(v)
	default:
		return fmt.Errorf("bytes column: unexpected %T", src)
	}
}

func (c bytesCol) ScanBytes(v []byte) error {
	*c.b = nil
	if len(v) > 0 {
		*c.b = bytes.Clone(v)
	}
	return nil
}

// jsonArg stores v as JSON text, or NULL when empty is set: empty maps and
// slices are stored as NULL, so they read back as nil. Text, not bytes:
// SQLite stores a string as TEXT (bytes would be a BLOB), and PostgreSQL
// parses either into jsonb.
func jsonArg(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// jsonCol decodes a JSON column into *T; NULL leaves the zero value.
type jsonCol[T any] struct{ v *T }

func (c jsonCol[T]) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return c.ScanBytes(nil)
	case string:
		return c.ScanBytes([]byte(v))
	case []byte:
		return c.ScanBytes(v)
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
}

func (c jsonCol[T]) ScanBytes(b []byte) error {
	var zero T
	*c.v = zero
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, c.v); err != nil {
		return fmt.Errorf("json column: %w", err)
	}
	return nil
}

// scopeJSON is the stored form of keystore.Scope; the JSON names are part
// of the schema, independent of Go field names.
type scopeJSON struct {
	AllDevices bool      `json:"all_devices,omitempty"`
	DeviceIDs  []string  `json:"device_ids,omitempty"`
	Tags       []tagJSON `json:"tags,omitempty"`
}

type tagJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func scopeArg(s keystore.Scope) (any, error) {
	j := scopeJSON{AllDevices: s.AllDevices, DeviceIDs: s.DeviceIDs}
	for _, t := range s.Tags {
		j.Tags = append(j.Tags, tagJSON(t))
	}
	return jsonArg(j, !j.AllDevices && len(j.DeviceIDs) == 0 && len(j.Tags) == 0)
}

// scopeCol scans the scope column; empty lists come back nil.
type scopeCol struct{ s *keystore.Scope }

func (c scopeCol) Scan(src any) error {
	var j scopeJSON
	if err := (jsonCol[scopeJSON]{&j}).Scan(src); err != nil {
		return err
	}
	c.set(j)
	return nil
}

func (c scopeCol) ScanBytes(b []byte) error {
	var j scopeJSON
	if err := (jsonCol[scopeJSON]{&j}).ScanBytes(b); err != nil {
		return err
	}
	c.set(j)
	return nil
}

func (c scopeCol) set(j scopeJSON) {
	*c.s = keystore.Scope{AllDevices: j.AllDevices, DeviceIDs: nilIfEmpty(j.DeviceIDs)}
	for _, t := range j.Tags {
		c.s.Tags = append(c.s.Tags, keystore.Tag(t))
	}
}

// mapCol scans labels and tags; an empty object comes back nil.
type mapCol struct{ m *map[string]string }

func (c mapCol) Scan(src any) error {
	return c.nilIfEmpty((jsonCol[map[string]string]{c.m}).Scan(src))
}

func (c mapCol) ScanBytes(b []byte) error {
	return c.nilIfEmpty((jsonCol[map[string]string]{c.m}).ScanBytes(b))
}

func (c mapCol) nilIfEmpty(err error) error {
	if err == nil && len(*c.m) == 0 {
		*c.m = nil
	}
	return err
}

// listCol scans a JSON array; an empty one comes back nil.
type listCol[T any] struct{ l *[]T }

func (c listCol[T]) Scan(src any) error {
	return c.nilIfEmpty((jsonCol[[]T]{c.l}).Scan(src))
}

func (c listCol[T]) ScanBytes(b []byte) error {
	return c.nilIfEmpty((jsonCol[[]T]{c.l}).ScanBytes(b))
}

func (c listCol[T]) nilIfEmpty(err error) error {
	if err == nil {
		*c.l = nilIfEmpty(*c.l)
	}
	return err
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func mapArg(m map[string]string) (any, error) { return jsonArg(m, len(m) == 0) }

func listArg[T any](l []T) (any, error) { return jsonArg(l, len(l) == 0) }
