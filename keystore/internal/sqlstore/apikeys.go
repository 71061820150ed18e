package sqlstore

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var apiKeys = table{name: "api_keys", keys: 1, cols: concat(
	[]string{"id", "name", "description", "permissions", "workspace_ids"},
	credentialCols,
	[]string{"last_used_time", "create_time", "update_time"},
)}

func apiKeyArgs(d Dialect, k *keystore.APIKey) ([]any, error) {
	perms, err := listArg(k.Permissions)
	if err != nil {
		return nil, err
	}
	wss, err := listArg(k.WorkspaceIDs)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, len(apiKeys.cols))
	args = append(args, k.ID, k.Name, k.Description, perms, wss)
	args = append(args, credentialArgs(d, &k.Credential)...)
	return append(args, d.TimeArg(k.LastUsedTime), d.TimeArg(k.CreateTime), d.TimeArg(k.UpdateTime)), nil
}

func scanAPIKey(d Dialect, sc Row) (keystore.APIKey, error) {
	var k keystore.APIKey
	dest := make([]any, 0, len(apiKeys.cols))
	dest = append(dest, &k.ID, &k.Name, &k.Description, listCol[keystore.Permission]{&k.Permissions}, listCol[string]{&k.WorkspaceIDs})
	dest = append(dest, credentialDest(d, &k.Credential)...)
	dest = append(dest, d.TimeDest(&k.LastUsedTime), d.TimeDest(&k.CreateTime), d.TimeDest(&k.UpdateTime))
	err := sc.Scan(dest...)
	return k, err
}

func (r Reader) GetAPIKey(ctx context.Context, id string) (keystore.APIKey, error) {
	k, err := scanAPIKey(r.sql.d, r.db.QueryRow(ctx, r.sql.apiKeys.get, id))
	if err != nil {
		return keystore.APIKey{}, r.sql.rowError("API key", id, err)
	}
	return k, nil
}

func (r Reader) FindAPIKeyByHash(ctx context.Context, h keystore.Hash) (keystore.APIKey, error) {
	if h.IsZero() {
		return keystore.APIKey{}, fmt.Errorf("%s: find API key: zero hash: %w", r.sql.name, keystore.ErrNotFound)
	}
	k, err := scanAPIKey(r.sql.d, r.db.QueryRow(ctx, r.sql.apiKeys.find, h[:]))
	if err != nil {
		return keystore.APIKey{}, r.sql.rowError("API key", "by hash", err)
	}
	return k, nil
}

func (r Reader) ListAPIKeys(ctx context.Context, q keystore.APIKeyQuery) ([]keystore.APIKey, error) {
	f := r.filter()
	if q.Status != 0 {
		f.where("status = " + f.arg(int64(q.Status)))
	}
	if q.After != "" {
		f.where("id < " + f.arg(q.After))
	}
	query, args := f.build(r.sql.apiKeys.sel, "id DESC", q.Limit)
	return queryAll(ctx, r, "API keys", scanAPIKey, query, args...)
}

func (t *Tx) CreateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(t.sql.d, &k)
	if err != nil {
		return fmt.Errorf("%s: create API key %q: %w", t.sql.name, k.ID, err)
	}
	if _, err := t.db.Exec(ctx, t.sql.apiKeys.insert, args...); err != nil {
		return t.sql.DBError(fmt.Sprintf("create API key %q", k.ID), err)
	}
	return nil
}

func (t *Tx) UpdateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(t.sql.d, &k)
	if err != nil {
		return fmt.Errorf("%s: update API key %q: %w", t.sql.name, k.ID, err)
	}
	n, err := t.db.Exec(ctx, t.sql.apiKeys.update, args...)
	return t.sql.affectedOne(n, err, "update", "API key", k.ID)
}

func (t *Tx) DeleteAPIKey(ctx context.Context, id string) error {
	n, err := t.db.Exec(ctx, t.sql.apiKeys.delete, id)
	return t.sql.affectedOne(n, err, "delete", "API key", id)
}
