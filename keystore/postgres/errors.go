package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ingestgate/ingestgate/keystore"
)

// SQLSTATEs the store maps to sentinels.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// dbError wraps a driver error with what was being done. Constraint
// failures that mean a caller mistake become sentinels; the server's text
// is dropped from those so it never reaches a client. Everything else
// stays wrapped (%w), so context.Canceled and serialization failures
// (which ReadWrite retries) remain detectable.
func dbError(op string, err error) error {
	if pgCode(err) == uniqueViolation {
		return fmt.Errorf("postgres: %s: %w", op, keystore.ErrAlreadyExists)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isForeignKey reports a foreign key violation: on insert, a missing
// workspace.
func isForeignKey(err error) bool { return pgCode(err) == foreignKeyViolation }

func notFound(what, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", what, id, keystore.ErrNotFound)
}

// rowError maps the error of a single-row read.
func rowError(what, id string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what, id)
	}
	return dbError("read "+what, err)
}

// affectedOne maps the result of an update or delete of one record: no row
// touched means it does not exist (in that workspace).
func affectedOne(tag pgconn.CommandTag, err error, op, what, id string) error {
	if err != nil {
		return dbError(op+" "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(what, id)
	}
	return nil
}
