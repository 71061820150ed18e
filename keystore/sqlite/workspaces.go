package sqlite

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
	w, err := scanWorkspace(r.q.QueryRowContext(ctx, workspaceSelect+" WHERE id = ?", id))
	if err != nil {
		return keystore.Workspace{}, rowError("workspace", id, err)
	}
	return w, nil
}

func (r reader) ListWorkspaces(ctx context.Context, q keystore.WorkspaceQuery) ([]keystore.Workspace, error) {
	var f filter
	if q.After != "" {
		f.add("id > ?", q.After)
	}
	if len(q.IDs) > 0 {
		// One JSON argument instead of one placeholder per id: no limit on
		// the number of ids.
		ids, err := listArg(q.IDs)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list workspaces: %w", err)
		}
		f.add("id IN (SELECT value FROM json_each(?))", ids)
	}
	query, args := f.build(workspaceSelect, "id", q.Limit)
	return queryAll(ctx, r.q, "workspaces", scanWorkspace, query, args...)
}

func (t *tx) CreateWorkspace(ctx context.Context, w keystore.Workspace) error {
	if _, err := t.q.ExecContext(ctx, workspaceInsert, workspaceArgs(w)...); err != nil {
		return dbError(fmt.Sprintf("create workspace %q", w.ID), err)
	}
	return nil
}

func (t *tx) UpdateWorkspace(ctx context.Context, w keystore.Workspace) error {
	res, err := t.q.ExecContext(ctx, workspaceUpdate, workspaces.updateArgs(workspaceArgs(w))...)
	return affectedOne(res, err, "update", "workspace", w.ID)
}

// DeleteWorkspace also deletes the workspace's audit log when it is empty
// and deleted without cascade: the log belongs to the workspace, and a
// workspace re-created with the same id starts with an empty log either
// way. The log's sequence counter stays, so sequences are not reused.
func (t *tx) DeleteWorkspace(ctx context.Context, id string, cascade bool) error {
	if _, err := t.GetWorkspace(ctx, id); err != nil {
		return err
	}
	if !cascade {
		var inUse bool
		err := t.q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM ingest_keys WHERE workspace_id = ?1)
			OR EXISTS (SELECT 1 FROM devices WHERE workspace_id = ?1)`, id).Scan(&inUse)
		if err != nil {
			return dbError(fmt.Sprintf("delete workspace %q", id), err)
		}
		if inUse {
			return fmt.Errorf("sqlite: delete workspace %q: %w", id, keystore.ErrNotEmpty)
		}
	}
	// The audit log stays: it is history (see keystore.Tx.DeleteWorkspace).
	stmts := []string{
		"DELETE FROM ingest_keys WHERE workspace_id = ?",
		"DELETE FROM devices WHERE workspace_id = ?",
		"DELETE FROM workspaces WHERE id = ?",
	}
	for _, stmt := range stmts {
		if _, err := t.q.ExecContext(ctx, stmt, id); err != nil {
			return dbError(fmt.Sprintf("delete workspace %q", id), err)
		}
	}
	return nil
}
