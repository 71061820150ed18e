package postgres

import (
	"strconv"

	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

// dialect is PostgreSQL's sqlstore.Dialect; its codecs are in codec.go and
// its error classification in errors.go.
type dialect struct{}

// queries is the keystore's SQL for PostgreSQL.
var queries = sqlstore.New(dialect{})

func (dialect) Name() string { return "postgres" }

func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// HasPair is containment of a one-pair object: any key is safe, no quoting
// or JSON path syntax.
func (dialect) HasPair(col, key, value string) string {
	return col + " @> jsonb_build_object(" + key + "::text, " + value + "::text)"
}

func (dialect) HasPrefix(col, prefix string) string {
	return "starts_with(" + col + ", " + prefix + ")"
}

// ContainsFold uses strpos, not LIKE, so '%' and '_' are literal. lower()
// under the "C" collation folds ASCII only, as SQLite's does.
func (dialect) ContainsFold(col, s string) string {
	return `strpos(lower(` + col + ` COLLATE "C"), lower(` + s + `::text COLLATE "C")) > 0`
}

// In takes one array argument.
func (dialect) In(col, list string) string { return col + " = ANY(" + list + ")" }

func (dialect) ListArg(l []string) (any, error) { return l, nil }
