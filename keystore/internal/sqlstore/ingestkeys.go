package sqlstore

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

func ingestKeyArgs(d Dialect, k *keystore.IngestKey) ([]any, error) {
	labels, err := mapArg(k.Labels)
	if err != nil {
		return nil, err
	}
	scope, err := scopeArg(k.Scope)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, len(ingestKeys.cols))
	args = append(args, k.ID, k.WorkspaceID, k.Name, k.Description, labels, scope, int64(k.Limits.RecordsPerSecond), int64(k.Limits.MaxStreams))
	args = append(args, credentialArgs(d, &k.Credential)...)
	return append(args, d.TimeArg(k.CreateTime), d.TimeArg(k.UpdateTime)), nil
}

// ingestKeyDests is how many columns scanIngestKey scans.
var ingestKeyDests = len(ingestKeys.cols) + len(ingestKeys.usage)

func scanIngestKey(d Dialect, sc Row) (keystore.IngestKey, error) {
	var k keystore.IngestKey
	dest := make([]any, 0, ingestKeyDests)
	dest = append(dest, &k.ID, &k.WorkspaceID, &k.Name, &k.Description, mapCol{&k.Labels}, scopeCol{&k.Scope}, &k.Limits.RecordsPerSecond, &k.Limits.MaxStreams)
	dest = append(dest, credentialDest(d, &k.Credential)...)
	dest = append(dest, d.TimeDest(&k.CreateTime), d.TimeDest(&k.UpdateTime),
		d.TimeDest(&k.LastUsedTime), d.CounterDest(&k.RecordsReceived), d.CounterDest(&k.BatchesReceived))
	err := sc.Scan(dest...)
	return k, err
}

func (r Reader) GetIngestKey(ctx context.Context, workspaceID, id string) (keystore.IngestKey, error) {
	k, err := scanIngestKey(r.sql.d, r.db.QueryRow(ctx, r.sql.ingestKeys.get, id, workspaceID))
	if err != nil {
		return keystore.IngestKey{}, r.sql.rowError("ingest key", id, err)
	}
	return k, nil
}

func (r Reader) FindIngestKeyByHash(ctx context.Context, h keystore.Hash) (keystore.IngestKey, error) {
	if h.IsZero() {
		return keystore.IngestKey{}, fmt.Errorf("%s: find ingest key: zero hash: %w", r.sql.name, keystore.ErrNotFound)
	}
	k, err := scanIngestKey(r.sql.d, r.db.QueryRow(ctx, r.sql.ingestKeys.find, h[:]))
	if err != nil {
		// The hash is a secret's digest: keep it out of error messages.
		return keystore.IngestKey{}, r.sql.rowError("ingest key", "by hash", err)
	}
	return k, nil
}

func (r Reader) ListIngestKeys(ctx context.Context, q keystore.IngestKeyQuery) ([]keystore.IngestKey, error) {
	f := r.filter()
	if q.WorkspaceID != "" {
		f.where("workspace_id = " + f.arg(q.WorkspaceID))
	}
	if q.Status != 0 {
		f.where("status = " + f.arg(int64(q.Status)))
	}
	if q.NameContains != "" {
		// Not LIKE: '%' and '_' in the query are literal.
		f.where(r.sql.d.ContainsFold("name", f.arg(q.NameContains)))
	}
	if q.Label != nil {
		f.where(r.sql.d.HasPair("labels", f.arg(q.Label.Key), f.arg(q.Label.Value)))
	}
	if q.After != "" {
		f.where("id < " + f.arg(q.After))
	}
	query, args := f.build(r.sql.ingestKeys.sel, "id DESC", q.Limit)
	return queryAll(ctx, r, "ingest keys", scanIngestKey, query, args...)
}

func (t *Tx) CreateIngestKey(ctx context.Context, k keystore.IngestKey) error {
	args, err := ingestKeyArgs(t.sql.d, &k)
	if err != nil {
		return fmt.Errorf("%s: create ingest key %q: %w", t.sql.name, k.ID, err)
	}
	if _, err := t.db.Exec(ctx, t.sql.ingestKeys.insert, args...); err != nil {
		return t.sql.insertError("ingest key", k.ID, k.WorkspaceID, err)
	}
	return nil
}

func (t *Tx) UpdateIngestKey(ctx context.Context, k keystore.IngestKey) error {
	args, err := ingestKeyArgs(t.sql.d, &k)
	if err != nil {
		return fmt.Errorf("%s: update ingest key %q: %w", t.sql.name, k.ID, err)
	}
	n, err := t.db.Exec(ctx, t.sql.ingestKeys.update, args...)
	return t.sql.affectedOne(n, err, "update", "ingest key", k.ID)
}

func (t *Tx) DeleteIngestKey(ctx context.Context, workspaceID, id string) error {
	n, err := t.db.Exec(ctx, t.sql.ingestKeys.delete, id, workspaceID)
	return t.sql.affectedOne(n, err, "delete", "ingest key", id)
}
