package sqlite

import (
	"fmt"
	"time"
)

// The column codecs SQLite's stored forms and database/sql need; the
// others are sqlstore's. Columns are scanned through adapter types, which
// implement sql.Scanner.

// TimeArg stores t as unix microseconds; the zero time is NULL, so no real
// time (not even the Unix epoch) is mistaken for "unset".
func (dialect) TimeArg(t time.Time) any { return timeArg(t) }

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func (dialect) TimeDest(t *time.Time) any { return timeCol{t} }

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

func (dialect) CounterDest(n *uint64) any { return counterCol{n} }

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
