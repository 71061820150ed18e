package sqlstore

import "github.com/ingestgate/ingestgate/keystore"

// The credential columns are shared by ingest_keys and api_keys, in this
// order. last_used_time is not among them: it is usage for ingest keys
// (written by RecordUsage only) but an ordinary column for API keys.
var credentialCols = []string{
	"hash", "display_prefix", "status", "expire_time", "revoke_time", "revoke_reason",
	"previous_hash", "previous_display_prefix", "previous_expire_time",
}

func credentialArgs(d Dialect, c *keystore.Credential) []any {
	return []any{
		hashArg(c.Hash), c.DisplayPrefix, int64(c.Status), d.TimeArg(c.ExpireTime), d.TimeArg(c.RevokeTime), c.RevokeReason,
		hashArg(c.PreviousHash), c.PreviousDisplayPrefix, d.TimeArg(c.PreviousExpireTime),
	}
}

func credentialDest(d Dialect, c *keystore.Credential) []any {
	return []any{
		hashCol{&c.Hash}, &c.DisplayPrefix, &c.Status, d.TimeDest(&c.ExpireTime), d.TimeDest(&c.RevokeTime), &c.RevokeReason,
		hashCol{&c.PreviousHash}, &c.PreviousDisplayPrefix, d.TimeDest(&c.PreviousExpireTime),
	}
}

// findByHashSQL matches the current secret first, then the previous one;
// each arm uses its partial index and LIMIT 1 stops at the first hit. The
// LIMIT applies to the whole UNION ALL in both dialects (SQLite does not
// allow the arms in parentheses; PostgreSQL parses them the same without).
func findByHashSQL(selectSQL string) string {
	return selectSQL + " WHERE hash = $1 UNION ALL " + selectSQL + " WHERE previous_hash = $1 LIMIT 1"
}
