package postgres

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var workspaces = table{name: "workspaces", keys: 1, cols: []string{"id", "display_name", "create_time", "update_time"}}

var (
	workspaceSelect = workspaces.selectSQL()
	workspaceInsert = workspaces.insertSQL()
	workspaceUpdate = workspaces.updateSQL()
)

func workspaceArgs(w keystore.Workspace) []any {
	return []any{w.ID, w.DisplayName, timeArg(w.CreateTime), timeArg(w.UpdateTime)}
}

func scanWorkspace(sc scanner) (keystore.Workspace, error) {
	var w keystore.Workspace
	err := sc.Scan(&w.ID, &w.DisplayName, timeCol{&w.CreateTime}, timeCol{&w.UpdateTime})
	return w, err
}

func (r reader) GetWorkspace(ctx context.Context, id string) (keystore.Workspace, error) {
	w, err := scanWorkspace(r.q.QueryRow(ctx, workspaceSelect+" WHERE id = $1", id))
	if err != nil {
		return keystore.Workspace{}, rowError("workspace", id, err)
	}
	return w, nil
}

func (r reader) ListWorkspaces(ctx context.Context, q keystore.WorkspaceQuery) ([]keystore.Workspace, error) {
	var f filter
	if q.After != "" {
		f.where("id > " + f.arg(q.After))
	}
	if len(q.IDs) > 0 {
		// One array argument instead of one placeholder per id.
		f.where("id = ANY(" + f.arg(q.IDs) + ")")
	}
	query, args := f.build(workspaceSelect, "id", q.Limit)
	return queryAll(ctx, r.q, "workspaces", scanWorkspace, query, args...)
}

func (t *tx) CreateWorkspace(ctx context.Context, w keystore.Workspace) error {
	if _, err := t.q.Exec(ctx, workspaceInsert, workspaceArgs(w)...); err != nil {
		return dbError(fmt.Sprintf("create workspace %q", w.ID), err)
	}
	return nil
}

func (t *tx) UpdateWorkspace(ctx context.Context, w keystore.Workspace) error {
	tag, err := t.q.Exec(ctx, workspaceUpdate, workspaceArgs(w)...)
	return affectedOne(tag, err, "update", "workspace", w.ID)
}

// DeleteWorkspace checks for keys and devices before deleting, rather than
// relying on the foreign keys, so the caller gets ErrNotEmpty and not a
// constraint error. A key created concurrently is caught by SERIALIZABLE
// (or, failing that, the foreign key), never left orphaned.
func (t *tx) DeleteWorkspace(ctx context.Context, id string, cascade bool) error {
	if _, err := t.GetWorkspace(ctx, id); err != nil {
		return err
	}
	if !cascade {
		var inUse bool
		err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ingest_keys WHERE workspace_id = $1)
			OR EXISTS (SELECT 1 FROM devices WHERE workspace_id = $1)`, id).Scan(&inUse)
		if err != nil {
			return dbError(fmt.Sprintf("delete workspace %q", id), err)
		}
		if inUse {
			return fmt.Errorf("postgres: delete workspace %q: %w", id, keystore.ErrNotEmpty)
		}
	}
	// The audit log and its counter stay: they are history (see
	// keystore.Tx.DeleteWorkspace).
	stmts := []string{
		"DELETE FROM ingest_keys WHERE workspace_id = $1",
		"DELETE FROM devices WHERE workspace_id = $1",
		"DELETE FROM workspaces WHERE id = $1",
	}
	for _, stmt := range stmts {
		if _, err := t.q.Exec(ctx, stmt, id); err != nil {
			return dbError(fmt.Sprintf("delete workspace %q", id), err)
		}
	}
	return nil
}
