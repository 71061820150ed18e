package sqlstore

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var signingKeys = table{name: "signing_keys", keys: 1, cols: []string{
	"id", "algorithm", "private_key", "public_key", "create_time",
}}

// signingKeyOrder is oldest first. NULLS FIRST: a zero create time is the
// oldest, and the databases' defaults differ (SQLite sorts NULL first,
// PostgreSQL last).
const signingKeyOrder = "create_time NULLS FIRST, id"

func signingKeyArgs(d Dialect, k *keystore.SigningKey) []any {
	return []any{k.ID, k.Algorithm, bytesArg(k.PrivateKey), bytesArg(k.PublicKey), d.TimeArg(k.CreateTime)}
}

func scanSigningKey(d Dialect, sc Row) (keystore.SigningKey, error) {
	var k keystore.SigningKey
	err := sc.Scan(&k.ID, &k.Algorithm, bytesCol{&k.PrivateKey}, bytesCol{&k.PublicKey}, d.TimeDest(&k.CreateTime))
	return k, err
}

func (r Reader) ListSigningKeys(ctx context.Context) ([]keystore.SigningKey, error) {
	f := r.filter()
	query, args := f.build(r.sql.signingKeys.sel, signingKeyOrder, 0)
	return queryAll(ctx, r, "signing keys", scanSigningKey, query, args...)
}

func (t *Tx) CreateSigningKey(ctx context.Context, k keystore.SigningKey) error {
	if _, err := t.db.Exec(ctx, t.sql.signingKeys.insert, signingKeyArgs(t.sql.d, &k)...); err != nil {
		return t.sql.DBError(fmt.Sprintf("create signing key %q", k.ID), err)
	}
	return nil
}
