package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
)

// Migrations are numbered files, NNNN_name.sql, applied in order. A file is
// never edited once released: changes go in a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate brings the schema up to date and returns how many migrations it
// applied.
func migrate(ctx context.Context, db *sql.DB) (int, error) {
	n, err := sqlitefile.Migrate(ctx, db, migrationFS, "migrations")
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}
