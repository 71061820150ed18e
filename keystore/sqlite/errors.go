package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ingestgate/ingestgate/keystore"
)

// dbError wraps a driver error with what was being done. Constraint
// failures that mean a caller mistake become sentinels; the driver's text
// is dropped from those so it never reaches a client. Everything else
// stays wrapped (%w), so context.Canceled and friends remain detectable.
func dbError(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("sqlite: %s: %w", op, keystore.ErrAlreadyExists)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// isForeignKey reports a foreign key violation: on insert, a missing
// workspace.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func notFound(what, id string) error {
	return fmt.Errorf("sqlite: %s %q: %w", what, id, keystore.ErrNotFound)
}

// rowError maps the error of a single-row read.
func rowError(what, id string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what, id)
	}
	return dbError("read "+what, err)
}

// affectedOne maps the result of an update or delete of one record: no row
// touched means it does not exist (in that workspace).
func affectedOne(res sql.Result, err error, op, what, id string) error {
	if err != nil {
		return dbError(op+" "+what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(op+" "+what, err)
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}
