package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs the store maps to sentinels.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func (dialect) IsNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func (dialect) IsUniqueViolation(err error) bool { return pgCode(err) == uniqueViolation }

func (dialect) IsForeignKeyViolation(err error) bool { return pgCode(err) == foreignKeyViolation }
