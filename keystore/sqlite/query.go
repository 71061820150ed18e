package sqlite

import (
	"context"
	"strings"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// table describes a table whose first keys columns identify a row, so the
// INSERT, UPDATE and SELECT statements are derived from one column list and
// cannot drift apart from the argument and scan lists, which use the same
// order.
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
	return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(t.cols)-1) + ")"
}

// updateSQL sets every non-key column; its arguments are updateArgs(args).
func (t table) updateSQL() string {
	return "UPDATE " + t.name + " SET " + strings.Join(t.cols[t.keys:], " = ?, ") + " = ? WHERE " + strings.Join(t.cols[:t.keys], " = ? AND ") + " = ?"
}

// updateArgs reorders insert arguments for updateSQL: values, then keys.
func (t table) updateArgs(args []any) []any {
	return append(append([]any{}, args[t.keys:]...), args[:t.keys]...)
}

// filter accumulates WHERE conditions and their arguments.
type filter struct {
	conds []string
	args  []any
}

func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

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
	args := f.args
	if limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, limit)
	}
	return b.String(), args
}

// queryAll runs a list query and scans every row.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
