package postgres

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var ingestKeys = table{
	name: "ingest_keys", keys: 2,
	cols: concat(
		[]string{"id", "workspace_id", "name", "description", "labels", "scope", "records_per_second", "max_streams"},
		credentialCols,
		[]string{"create_time", "update_time"},
	),
	usage: []string{"last_used_time", "records_received", "batches_received"},
}

var (
	ingestKeySelect = ingestKeys.selectSQL()
	ingestKeyInsert = ingestKeys.insertSQL()
	ingestKeyUpdate = ingestKeys.updateSQL()
	ingestKeyFind   = findByHashSQL(ingestKeySelect)
)

func ingestKeyArgs(k *keystore.IngestKey) ([]any, error) {
	labels, err := mapArg(k.Labels)
	if err != nil {
		return nil, err
	}
	scope, err := scopeArg(k.Scope)
	if err != nil {
		return nil, err
	}
	args := []any{k.ID, k.WorkspaceID, k.Name, k.Description, labels, scope, int64(k.Limits.RecordsPerSecond), int64(k.Limits.MaxStreams)}
	args = append(args, credentialArgs(&k.Credential)...)
	return append(args, timeArg(k.CreateTime), timeArg(k.UpdateTime)), nil
}

func scanIngestKey(sc scanner) (keystore.IngestKey, error) {
	var k keystore.IngestKey
	dest := []any{&k.ID, &k.WorkspaceID, &k.Name, &k.Description, mapCol{&k.Labels}, scopeCol{&k.Scope}, &k.Limits.RecordsPerSecond, &k.Limits.MaxStreams}
	dest = append(dest, credentialDest(&k.Credential)...)
	dest = append(dest, timeCol{&k.CreateTime}, timeCol{&k.UpdateTime},
		timeCol{&k.LastUsedTime}, &k.RecordsReceived, &k.BatchesReceived)
	err := sc.Scan(dest...)
	return k, err
}

func (r reader) GetIngestKey(ctx context.Context, workspaceID, id string) (keystore.IngestKey, error) {
	k, err := scanIngestKey(r.q.QueryRow(ctx, ingestKeySelect+" WHERE id = $1 AND workspace_id = $2", id, workspaceID))
	if err != nil {
		return keystore.IngestKey{}, rowError("ingest key", id, err)
	}
	return k, nil
}

func (r reader) FindIngestKeyByHash(ctx context.Context, h keystore.Hash) (keystore.IngestKey, error) {
	if h.IsZero() {
		return keystore.IngestKey{}, fmt.Errorf("postgres: find ingest key: zero hash: %w", keystore.ErrNotFound)
	}
	k, err := scanIngestKey(r.q.QueryRow(ctx, ingestKeyFind, h[:]))
	if err != nil {
		// The hash is a secret's digest: keep it out of error messages.
		return keystore.IngestKey{}, rowError("ingest key", "by hash", err)
	}
	return k, nil
}

func (r reader) ListIngestKeys(ctx context.Context, q keystore.IngestKeyQuery) ([]keystore.IngestKey, error) {
	var f filter
	if q.WorkspaceID != "" {
		f.where("workspace_id = " + f.arg(q.WorkspaceID))
	}
	if q.Status != 0 {
		f.where("status = " + f.arg(int64(q.Status)))
	}
	if q.NameContains != "" {
		// strpos, not LIKE: '%' and '_' in the query are literal. lower()
		// under the "C" collation folds ASCII only, as SQLite's does.
		f.where(`strpos(lower(name COLLATE "C"), lower(` + f.arg(q.NameContains) + `::text COLLATE "C")) > 0`)
	}
	if q.Label != nil {
		// Containment of a one-pair object: any key is safe, no quoting
		// or JSON path syntax.
		f.where("labels @> jsonb_build_object(" + f.arg(q.Label.Key) + "::text, " + f.arg(q.Label.Value) + "::text)")
	}
	if q.After != "" {
		f.where("id < " + f.arg(q.After))
	}
	query, args := f.build(ingestKeySelect, "id DESC", q.Limit)
	return queryAll(ctx, r.q, "ingest keys", scanIngestKey, query, args...)
}

func (t *tx) CreateIngestKey(ctx context.Context, k keystore.IngestKey) error {
	args, err := ingestKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("postgres: create ingest key %q: %w", k.ID, err)
	}
	if _, err := t.q.Exec(ctx, ingestKeyInsert, args...); err != nil {
		if isForeignKey(err) {
			return notFound("workspace", k.WorkspaceID)
		}
		return dbError(fmt.Sprintf("create ingest key %q", k.ID), err)
	}
	return nil
}

func (t *tx) UpdateIngestKey(ctx context.Context, k keystore.IngestKey) error {
	args, err := ingestKeyArgs(&k)
	if err != nil {
		return fmt.Errorf("postgres: update ingest key %q: %w", k.ID, err)
	}
	tag, err := t.q.Exec(ctx, ingestKeyUpdate, args...)
	return affectedOne(tag, err, "update", "ingest key", k.ID)
}

func (t *tx) DeleteIngestKey(ctx context.Context, workspaceID, id string) error {
	tag, err := t.q.Exec(ctx, "DELETE FROM ingest_keys WHERE id = $1 AND workspace_id = $2", id, workspaceID)
	return affectedOne(tag, err, "delete", "ingest key", id)
}
