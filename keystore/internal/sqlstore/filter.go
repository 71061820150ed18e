package sqlstore

import (
	"context"
	"strings"
)

// filter accumulates WHERE conditions and their arguments; arg numbers
// the placeholders in the dialect's style.
type filter struct {
	d     Dialect
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return f.d.Placeholder(len(f.args))
}

func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// build returns base + WHERE + order + LIMIT and the arguments.
func (f *filter) build(base, order string, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString(base)
	if len(f.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(f.conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(order)
	if limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(f.arg(limit))
	}
	return b.String(), f.args
}

// queryAll runs a list query and scans every row.
func queryAll[T any](ctx context.Context, r Reader, what string, scan func(Dialect, Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := r.db.Query(ctx, query, args...)
	if err != nil {
		return nil, r.sql.DBError("list "+what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(r.sql.d, rows)
		if err != nil {
			return nil, r.sql.DBError("scan "+what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, r.sql.DBError("list "+what, err)
	}
	return out, nil
}
