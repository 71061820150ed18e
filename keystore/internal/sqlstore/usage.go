package sqlstore

import (
	"fmt"
	"math"
)

// SaturatingAdd is col + n for an argument n >= 0, stopping at the largest
// BIGINT (math.MaxInt64) instead of going past it: PostgreSQL would fail
// with an out-of-range error, SQLite would compute a REAL, which a STRICT
// INTEGER column refuses. The backends' RecordUsage keep the arithmetic in
// SQL with it, so a flush reads nothing first.
func SaturatingAdd(col, n string) string {
	return fmt.Sprintf("CASE WHEN %[1]s > %[3]d - %[2]s THEN %[3]d ELSE %[1]s + %[2]s END", col, n, int64(math.MaxInt64))
}
