package sqlite

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

var (
	apiKeySelect = apiKeys.selectSQL()
	apiKeyInsert = apiKeys.insertSQL()
	apiKeyUpdate = apiKeys.updateSQL()
	apiKeyFind   = findByHashSQL(apiKeySelect)
)

func apiKeyArgs(k *keystore.APIKey) ([]any, error) {
	perms, err := listArg(k.Permissions)
	if err != nil {
		return nil, err
	}
	wss, err := listArg(k.WorkspaceIDs)
	if err != nil {
		return nil, err
	}
	args := []any{k.ID, k.Name, k.Description, perms, wss}
	args = append(args, credentialArgs(&k.Credential)...)
	return append(args, timeArg(k.LastUsedTime), timeArg(k.CreateTime), timeArg(k.UpdateTime)), nil
}

func scanAPIKey(sc scanner) (keystore.APIKey, error) {
	var k keystore.APIKey
	dest := []any{&k.ID, &k.Name, &k.Description, listCol[keystore.Permission]{&k.Permissions}, listCol[string]{&k.WorkspaceIDs}}
	dest = append(dest, credentialDest(&k.Credential)...)
	dest = append(dest, timeCol{&k.LastUsedTime}, timeCol{&k.CreateTime}, timeCol{&k.UpdateTime})
	err := sc.Scan(dest...)
	return k, err
}

func (r reader) GetAPIKey(ctx context.Context, id string) (keystore.APIKey, error) {
	k, err := scanAPIKey(r.q.QueryRowContext(ctx, apiKeySelect+" WHERE id = ?", id))
	if err != nil {
		return keystore.APIKey{}, rowError("API key", id, err)
	}
	return k, nil
}

func (r reader) FindAPIKeyByHash(ctx context.Context, h keystore.Hash) (keystore.APIKey, error) {
	if h.IsZero() {
		return keystore.APIKey{}, fmt.Errorf("sqlite: find API key: zero hash: %w", keystore.ErrNotFound)
	}
	k, err := scanAPIKey(r.queryRow(ctx, r.findAPIKey, apiKeyFind, h[:]))
	if err != nil {
		return keystore.APIKey{}, rowError("API key", "by hash", err)
	}
	return k, nil
}

func (r reader) ListAPIKeys(ctx context.Context, q keystore.APIKeyQuery) ([]keystore.APIKey, error) {
	var f filter
	if q.Status != 0 {
		f.add("status = ?", int64(q.Status))
	}
	if q.After != "" {
		f.add("id < ?", q.After)
	}
	query, args := f.build(apiKeySelect, "id DESC", q.Limit)
	return queryAll(ctx, r.q, "API keys", scanAPIKey, query, args...)
}

func (t *tx) CreateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("sqlite: create API key %q: %w", k.ID, err)
	}
	if _, err := t.q.ExecContext(ctx, apiKeyInsert, args...); err != nil {
		return dbError(fmt.Sprintf("create API key %q", k.ID), err)
	}
	return nil
}

func (t *tx) UpdateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("sqlite: update API key %q: %w", k.ID, err)
	}
	res, err := t.q.ExecContext(ctx, apiKeyUpdate, apiKeys.updateArgs(args)...)
	return affectedOne(res, err, "update", "API key", k.ID)
}

func (t *tx) DeleteAPIKey(ctx context.Context, id string) error {
	res, err := t.q.ExecContext(ctx, "DELETE FROM api_keys WHERE id = ?", id)
	return affectedOne(res, err, "delete", "API key", id)
}
