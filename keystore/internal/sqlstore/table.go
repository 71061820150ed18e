package sqlstore

import (
	"strconv"
	"strings"
)

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

// statements are a table's statements, rendered for one dialect.
type statements struct {
	// sel selects every column (usage last) of every row; get adds the
	// key condition, whose arguments are the key columns.
	sel, get string
	// insert and update take every column of cols; delete the keys.
	insert, update, delete string
	// find is the lookup by a unique value other than the key: by hash for
	// credentials and refresh tokens (see findByHashSQL), by email for
	// users.
	find string
}

func (t table) statements(d Dialect) statements {
	sel := "SELECT " + strings.Join(concat(t.cols, t.usage), ", ") + " FROM " + t.name
	return statements{
		sel:    sel,
		get:    render(d, sel+" WHERE "+t.keyCond()),
		insert: render(d, t.insertSQL()),
		update: render(d, t.updateSQL()),
		delete: render(d, "DELETE FROM "+t.name+" WHERE "+t.keyCond()),
	}
}

// keyCond matches the key columns to the first arguments.
func (t table) keyCond() string {
	where := make([]string, t.keys)
	for i := range t.keys {
		where[i] = t.cols[i] + " = " + param(i+1)
	}
	return strings.Join(where, " AND ")
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
	return "UPDATE " + t.name + " SET " + strings.Join(set, ", ") + " WHERE " + t.keyCond()
}

// param is the nth placeholder as this package writes it; render turns it
// into the dialect's.
func param(n int) string { return "$" + strconv.Itoa(n) }

// render replaces the $n placeholders of query with d's. Statements here
// have no other '$' (no dollar quoting, no '$' in literals).
func render(d Dialect, query string) string {
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			b.WriteByte(query[i])
			continue
		}
		j := i + 1
		for j < len(query) && '0' <= query[j] && query[j] <= '9' {
			j++
		}
		if j == i+1 { // a '$' that is no placeholder
			b.WriteByte('$')
			continue
		}
		n, _ := strconv.Atoi(query[i+1 : j])
		b.WriteString(d.Placeholder(n))
		i = j - 1
	}
	return b.String()
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
