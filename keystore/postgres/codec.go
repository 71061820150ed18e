package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ingestgate/ingestgate/keystore"
)

// Conversions between keystore values and column values. Arguments are
// built with the *Arg functions; columns are scanned through the adapter
// types, which implement pgx's typed scanner interfaces (no reflection,
// NULL handled in one place).

// timeArg stores t as timestamptz, which keeps microseconds (pgx drops the
// rest); the zero time is NULL, so no real time is mistaken for "unset".
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// storedTime is t as a read returns it: microseconds, UTC.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// timeCol scans timestamptz; pgx returns local time, the contract wants
// UTC.
type timeCol struct{ t *time.Time }

func (c timeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*c.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("time column: infinite timestamp")
	default:
		*c.t = v.Time.UTC()
	}
	return nil
}

// counterArg stores a usage counter; bigint is signed, so it saturates at
// math.MaxInt64.
func counterArg(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// hashArg stores an unset hash as NULL so it can never be looked up.
func hashArg(h keystore.Hash) any {
	if h.IsZero() {
		return nil
	}
	return h[:]
}

type hashCol struct{ h *keystore.Hash }

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

// jsonArg stores v as jsonb, or NULL when empty is set: empty maps and
// slices are stored as NULL, so they read back as nil. The encoded bytes
// go to the server as they are.
func jsonArg(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b, nil
}

// jsonCol decodes a jsonb column into *T; NULL leaves the zero value.
type jsonCol[T any] struct{ v *T }

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
// of the schema, independent of Go field names, and the same as SQLite's.
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

func (c scopeCol) ScanBytes(b []byte) error {
	var j scopeJSON
	if err := (jsonCol[scopeJSON]{&j}).ScanBytes(b); err != nil {
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

func (c mapCol) ScanBytes(b []byte) error {
	if err := (jsonCol[map[string]string]{c.m}).ScanBytes(b); err != nil {
		return err
	}
	if len(*c.m) == 0 {
		*c.m = nil
	}
	return nil
}

// listCol scans a jsonb array; an empty one comes back nil.
type listCol[T any] struct{ l *[]T }

func (c listCol[T]) ScanBytes(b []byte) error {
	if err := (jsonCol[[]T]{c.l}).ScanBytes(b); err != nil {
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
