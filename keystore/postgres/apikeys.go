package postgres

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
	k, err := scanAPIKey(r.q.QueryRow(ctx, apiKeySelect+" WHERE id = $1", id))
	if err != nil {
		return keystore.APIKey{}, rowError("API key", id, err)
	}
	return k, nil
}

func (r reader) FindAPIKeyByHash(ctx context.Context, h keystore.Hash) (keystore.APIKey, error) {
	if h.IsZero() {
		return keystore.APIKey{}, fmt.Errorf("postgres: find API key: zero hash: %w", keystore.ErrNotFound)
	}
	k, err := scanAPIKey(r.q.QueryRow(ctx, apiKeyFind, h[:]))
	if err != nil {
		return keystore.APIKey{}, rowError("API key", "by hash", err)
	}
	return k, nil
}

func (r reader) ListAPIKeys(ctx context.Context, q keystore.APIKeyQuery) ([]keystore.APIKey, error) {
	var f filter
	if q.Status != 0 {
		f.where("status = " + f.arg(int64(q.Status)))
	}
	if q.After != "" {
		f.where("id < " + f.arg(q.After))
	}
	query, args := f.build(apiKeySelect, "id DESC", q.Limit)
	return queryAll(ctx, r.q, "API keys", scanAPIKey, query, args...)
}

func (t *tx) CreateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("postgres: create API key %q: %w", k.ID, err)
	}
	if _, err := t.q.Exec(ctx, apiKeyInsert, args...); err != nil {
		return dbError(fmt.Sprintf("create API key %q", k.ID), err)
	}
	return nil
}

func (t *tx) UpdateAPIKey(ctx context.Context, k keystore.APIKey) error {
	args, err := apiKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("postgres: update API key %q: %w", k.ID, err)
	}
	tag, err := t.q.Exec(ctx, apiKeyUpdate, args...)
	return affectedOne(tag, err, "update", "API key", k.ID)
}

func (t *tx) DeleteAPIKey(ctx context.Context, id string) error {
	tag, err := t.q.Exec(ctx, "DELETE FROM api_keys WHERE id = $1", id)
	return affectedOne(tag, err, "delete", "API key", id)
}
