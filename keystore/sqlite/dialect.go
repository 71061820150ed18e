package sqlite

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

// dialect is SQLite's sqlstore.Dialect; its codecs are in codec.go and its
// error classification in errors.go.
type dialect struct{}

// queries is the keystore's SQL for SQLite.
var queries = sqlstore.New(dialect{})

func (dialect) Name() string { return "sqlite" }

// Placeholder is ?NNN, SQLite's numbered parameter: one may appear several
// times, in any order.
func (dialect) Placeholder(n int) string { return "?" + strconv.Itoa(n) }

// HasPair uses json_each rather than a JSON path: any key is safe, no
// quoting.
func (dialect) HasPair(col, key, value string) string {
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE key = " + key + " AND value = " + value + ")"
}

func (dialect) HasPrefix(col, prefix string) string {
	return "substr(" + col + ", 1, length(" + prefix + ")) = " + prefix
}

// ContainsFold uses instr, not LIKE, so '%' and '_' are literal. lower()
// folds ASCII only.
func (dialect) ContainsFold(col, s string) string {
	return "instr(lower(" + col + "), lower(" + s + ")) > 0"
}

// In takes the strings as one JSON array.
func (dialect) In(col, list string) string {
	return col + " IN (SELECT value FROM json_each(" + list + "))"
}

func (dialect) ListArg(l []string) (any, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}
