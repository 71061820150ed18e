package postgres

import (
	"context"
	"strconv"
	"strings"
)

// scanner is pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// table describes a table whose first keys columns identify a row, so the
// INSERT, UPDATE and SELECT statements are derived from one column list and
// cannot drift apart from the argument and scan lists, which use the same
// order. INSERT and UPDATE take the same arguments: $n is the nth column.
type table struct {
	name string
	cols []string
	keys int
	// usage columns are selected after cols but never inserted or updated:
	// they start at their defaults and only RecordUsage writes them.
	usage []string
}

func (t table) selectSQL() string {
	return "SELECT " + strings.Join(concat(t.cols, t.usage), ", ") + " FROM " + t.name
}

func (t table) insertSQL() string {
	ps := make([]string, len(t.cols))
	for i := range t.cols {
		ps[i] = param(i + 1)
	}
	return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (" + strings.Join(ps, ", ") + ")"
}

// updateSQL sets every non-key column of the row its key columns name.
func (t table) updateSQL() string {
	set := make([]string, 0, len(t.cols)-t.keys)
	for i := t.keys; i < len(t.cols); i++ {
		set = append(set, t.cols[i]+" = "+param(i+1))
	}
	where := make([]string, t.keys)
	for i := range t.keys {
		where[i] = t.cols[i] + " = " + param(i+1)
	}
	return "UPDATE " + t.name + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
}

func param(n int) string { return "$" + strconv.Itoa(n) }

// filter accumulates WHERE conditions and their arguments; arg numbers
// the placeholders.
type filter struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return param(len(f.args))
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
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError("list "+what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbError("scan "+what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list "+what, err)
	}
	return out, nil
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
