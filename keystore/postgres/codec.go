package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The column codecs PostgreSQL's stored forms need; the others are
// sqlstore's. Columns are scanned through adapter types that implement
// pgx's typed scanner interfaces (no reflection, NULL handled in one
// place).

// TimeArg stores t as timestamptz, which keeps microseconds (pgx drops the
// rest); the zero time is NULL, so no real time is mistaken for "unset".
func (dialect) TimeArg(t time.Time) any { return timeArg(t) }

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (dialect) TimeDest(t *time.Time) any { return timeCol{t} }

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

// CounterDest scans a bigint counter straight into the uint64: pgx does
// that without reflection, and fails on a negative value.
func (dialect) CounterDest(n *uint64) any { return n }
