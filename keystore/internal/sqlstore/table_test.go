package sqlstore

import (
	"strconv"
	"testing"
)

// numbered renders placeholders as SQLite's ?NNN; nothing else is used.
type numbered struct{ Dialect }

func (numbered) Placeholder(n int) string { return "?" + strconv.Itoa(n) }

func TestRender(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"WHERE a = $1 AND b = $2 OR c = $1", "WHERE a = ?1 AND b = ?2 OR c = ?1"},
		{"VALUES ($9, $10, $11)", "VALUES (?9, ?10, ?11)"},
		{"x = $1", "x = ?1"},
		{"$ $a $", "$ $a $"},
	} {
		if got := render(numbered{}, tc.in); got != tc.want {
			t.Errorf("render(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// INSERT and UPDATE take the same arguments, the table's columns in order.
func TestTableStatements(t *testing.T) {
	tb := table{name: "t", keys: 2, cols: []string{"a", "b", "c", "d"}, usage: []string{"u"}}
	got := tb.statements(numbered{})
	want := statements{
		sel:    "SELECT a, b, c, d, u FROM t",
		get:    "SELECT a, b, c, d, u FROM t WHERE a = ?1 AND b = ?2",
		insert: "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)",
		update: "UPDATE t SET c = ?3, d = ?4 WHERE a = ?1 AND b = ?2",
		delete: "DELETE FROM t WHERE a = ?1 AND b = ?2",
	}
	if got != want {
		t.Errorf("statements:\n got %+v\nwant %+v", got, want)
	}
}
