package sqlstore

import (
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

// DBError wraps a driver error with what was being done. Constraint
// failures that mean a caller mistake become sentinels; the driver's text
// is dropped from those so it never reaches a client. Everything else
// stays wrapped (%w), so context.Canceled and serialization failures
// (which PostgreSQL's ReadWrite retries) remain detectable.
func (q *Queries) DBError(op string, err error) error {
	if q.d.IsUniqueViolation(err) {
		return fmt.Errorf("%s: %s: %w", q.name, op, keystore.ErrAlreadyExists)
	}
	return fmt.Errorf("%s: %s: %w", q.name, op, err)
}

func (q *Queries) notFound(what, id string) error {
	return fmt.Errorf("%s: %s %q: %w", q.name, what, id, keystore.ErrNotFound)
}

// rowError maps the error of a single-row read.
func (q *Queries) rowError(what, id string, err error) error {
	if q.d.IsNoRows(err) {
		return q.notFound(what, id)
	}
	return q.DBError("read "+what, err)
}

// insertError maps the error of an insert into a table whose rows belong
// to a workspace: a foreign key violation means the workspace is missing.
func (q *Queries) insertError(what, id, workspaceID string, err error) error {
	if q.d.IsForeignKeyViolation(err) {
		return q.notFound("workspace", workspaceID)
	}
	return q.DBError(fmt.Sprintf("create %s %q", what, id), err)
}

// affectedOne maps the result of an update or delete of one record: no row
// touched means it does not exist (in that workspace).
func (q *Queries) affectedOne(n int64, err error, op, what, id string) error {
	if err != nil {
		return q.DBError(op+" "+what, err)
	}
	if n == 0 {
		return q.notFound(what, id)
	}
	return nil
}
