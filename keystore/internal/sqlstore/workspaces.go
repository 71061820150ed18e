package sqlstore

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var workspaces = table{name: "workspaces", keys: 1, cols: []string{"id", "display_name", "create_time", "update_time"}}

// workspaceInUseSQL reports whether a workspace holds keys or devices;
// memberships do not count.
const workspaceInUseSQL = `SELECT EXISTS (SELECT 1 FROM ingest_keys WHERE workspace_id = $1)
	OR EXISTS (SELECT 1 FROM devices WHERE workspace_id = $1)`

// deleteWorkspaceSQL deletes a workspace and what it holds, memberships
// included (the users stay). The audit log and its counter stay: they are
// history (see keystore.Tx.DeleteWorkspace).
var deleteWorkspaceSQL = []string{
	"DELETE FROM ingest_keys WHERE workspace_id = $1",
	"DELETE FROM devices WHERE workspace_id = $1",
	"DELETE FROM memberships WHERE workspace_id = $1",
	"DELETE FROM workspaces WHERE id = $1",
}

func workspaceArgs(d Dialect, w *keystore.Workspace) []any {
	return []any{w.ID, w.DisplayName, d.TimeArg(w.CreateTime), d.TimeArg(w.UpdateTime)}
}

func scanWorkspace(d Dialect, sc Row) (keystore.Workspace, error) {
	var w keystore.Workspace
	err := sc.Scan(&w.ID, &w.DisplayName, d.TimeDest(&w.CreateTime), d.TimeDest(&w.UpdateTime))
	return w, err
}

func (r Reader) GetWorkspace(ctx context.Context, id string) (keystore.Workspace, error) {
	w, err := scanWorkspace(r.sql.d, r.db.QueryRow(ctx, r.sql.workspaces.get, id))
	if err != nil {
		return keystore.Workspace{}, r.sql.rowError("workspace", id, err)
	}
	return w, nil
}

func (r Reader) ListWorkspaces(ctx context.Context, q keystore.WorkspaceQuery) ([]keystore.Workspace, error) {
	f := r.filter()
	if q.After != "" {
		f.where("id > " + f.arg(q.After))
	}
	if len(q.IDs) > 0 {
		// One argument instead of one placeholder per id: no limit on the
		// number of ids.
		ids, err := r.sql.d.ListArg(q.IDs)
		if err != nil {
			return nil, fmt.Errorf("%s: list workspaces: %w", r.sql.name, err)
		}
		f.where(r.sql.d.In("id", f.arg(ids)))
	}
	query, args := f.build(r.sql.workspaces.sel, "id", q.Limit)
	return queryAll(ctx, r, "workspaces", scanWorkspace, query, args...)
}

func (t *Tx) CreateWorkspace(ctx context.Context, w keystore.Workspace) error {
	if _, err := t.db.Exec(ctx, t.sql.workspaces.insert, workspaceArgs(t.sql.d, &w)...); err != nil {
		return t.sql.DBError(fmt.Sprintf("create workspace %q", w.ID), err)
	}
	return nil
}

func (t *Tx) UpdateWorkspace(ctx context.Context, w keystore.Workspace) error {
	n, err := t.db.Exec(ctx, t.sql.workspaces.update, workspaceArgs(t.sql.d, &w)...)
	return t.sql.affectedOne(n, err, "update", "workspace", w.ID)
}

// DeleteWorkspace checks for keys and devices before deleting, rather than
// relying on the foreign keys, so the caller gets ErrNotEmpty and not a
// constraint error. A key created concurrently (PostgreSQL; SQLite has one
// writer) is caught by SERIALIZABLE or, failing that, the foreign key,
// never left orphaned.
func (t *Tx) DeleteWorkspace(ctx context.Context, id string, cascade bool) error {
	if _, err := t.GetWorkspace(ctx, id); err != nil {
		return err
	}
	if !cascade {
		var inUse bool
		if err := t.db.QueryRow(ctx, t.sql.workspaceInUse, id).Scan(&inUse); err != nil {
			return t.sql.DBError(fmt.Sprintf("delete workspace %q", id), err)
		}
		if inUse {
			return fmt.Errorf("%s: delete workspace %q: %w", t.sql.name, id, keystore.ErrNotEmpty)
		}
	}
	for _, stmt := range t.sql.deleteWorkspace {
		if _, err := t.db.Exec(ctx, stmt, id); err != nil {
			return t.sql.DBError(fmt.Sprintf("delete workspace %q", id), err)
		}
	}
	return nil
}
