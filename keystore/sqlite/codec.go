package sqlite

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// Conversions between keystore values and column values. Arguments are
// built with the *Arg functions; columns are scanned through the adapter
// types, which implement sql.Scanner.

// timeArg stores t as unix microseconds; the zero time is NULL, so no real
// time (not even the Unix epoch) is mistaken for "unset".
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

// counterArg stores a usage counter; INTEGER is signed, so it saturates at
// math.MaxInt64.
func counterArg(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// counterCol scans a usage counter without the reflection (and string
// conversion) database/sql uses for unsigned destinations.
type counterCol struct{ n *uint64 }

func (c counterCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok || v < 0 {
		return fmt.Errorf("counter column: unexpected %T %v", src, src)
	}
	*c.n = uint64(v)
	return nil
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
		*c.h = keystore.Hash{}
	case []byte:
		if len(v) == 0 {
			*c.h = keystore.Hash{}
			return nil
		}
		if len(v) != len(c.h) {
			return fmt.Errorf("hash column: %d bytes, want %d", len(v), len(c.h))
		}
		copy(c.h[:], v)
	default:
		return fmt.Errorf("hash column: unexpected %T", src)
	}
	return nil
}

// jsonArg stores v as JSON TEXT, or NULL when empty is set: empty maps and
// slices are stored as NULL, so they read back as nil.
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

// jsonCol decodes a JSON TEXT column into *T; NULL leaves the zero value.
type jsonCol[T any] struct{ v *T }

func (c jsonCol[T]) Scan(src any) error {
	var zero T
	*c.v = zero
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("json column: unexpected %T", src)
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
	*c.s = keystore.Scope{AllDevices: j.AllDevices, DeviceIDs: nilIfEmpty(j.DeviceIDs)}
	for _, t := range j.Tags {
		c.s.Tags = append(c.s.Tags, keystore.Tag(t))
	}
	return nil
}

// mapCol scans labels and tags; an empty object comes back nil.
type mapCol struct{ m *map[string]string }

func (c mapCol) Scan(src any) error {
	if err := (jsonCol[map[string]string]{c.m}).Scan(src); err != nil {
		return err
	}
	if len(*c.m) == 0 {
		*c.m = nil
	}
	return nil
}

// listCol scans a JSON array; an empty one comes back nil.
type listCol[T any] struct{ l *[]T }

func (c listCol[T]) Scan(src any) error {
	if err := (jsonCol[[]T]{c.l}).Scan(src); err != nil {
		return err
	}
	*c.l = nilIfEmpty(*c.l)
	return nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func mapArg(m map[string]string) (any, error) { return jsonArg(m, len(m) == 0) }

func listArg[T any](l []T) (any, error) { return jsonArg(l, len(l) == 0) }
