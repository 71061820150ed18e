package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

// The arithmetic stays in SQL, so a flush reads nothing first. Arguments:
// $1, $2 the row's keys, then the deltas and the time. GREATEST ignores
// NULL, so an unset stored time or a zero LastUsed (NULL) keeps the other.
var (
	addKeyUsageSQL = "UPDATE ingest_keys SET " +
		"records_received = " + sqlstore.SaturatingAdd("records_received", "$3::bigint") + ", " +
		"batches_received = " + sqlstore.SaturatingAdd("batches_received", "$4::bigint") + ", " +
		"last_used_time = GREATEST(last_used_time, $5::timestamptz)" +
		" WHERE workspace_id = $1 AND id = $2"
	addDeviceSeenSQL = "UPDATE devices SET last_seen_time = GREATEST(last_seen_time, $3::timestamptz)" +
		" WHERE workspace_id = $1 AND id = $2"
)

// RecordUsage sends one UPDATE per entry in a single batch (one round
// trip) inside one READ COMMITTED transaction. A missing row is an UPDATE
// that matches nothing. The updates commute, so READ COMMITTED is enough:
// a concurrent flush from another node waits for the row lock and then
// adds to the committed value instead of failing. Entries are applied in
// key order so two flushes lock rows in the same order and do not
// deadlock each other; a deadlock with a management transaction is
// retried like a serialization failure.
func (s *Store) RecordUsage(ctx context.Context, keys []keystore.KeyUsage, seen []keystore.DeviceSeen) error {
	if len(keys) == 0 && len(seen) == 0 {
		return nil
	}
	keys = slices.SortedStableFunc(slices.Values(keys), func(a, b keystore.KeyUsage) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(a.KeyID, b.KeyID))
	})
	seen = slices.SortedStableFunc(slices.Values(seen), func(a, b keystore.DeviceSeen) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(a.DeviceID, b.DeviceID))
	})
	return s.runTx(ctx, pgx.ReadCommitted, nil, func(pgTx pgx.Tx) error {
		var b pgx.Batch
		for _, k := range keys {
			b.Queue(addKeyUsageSQL, k.WorkspaceID, k.KeyID, sqlstore.CounterArg(k.Records), sqlstore.CounterArg(k.Batches), timeArg(k.LastUsed))
		}
		for _, d := range seen {
			b.Queue(addDeviceSeenSQL, d.WorkspaceID, d.DeviceID, timeArg(d.LastSeen))
		}
		br := pgTx.SendBatch(ctx, &b)
		for i := range b.Len() {
			if _, err := br.Exec(); err != nil {
				br.Close()
				if i < len(keys) {
					return queries.DBError(fmt.Sprintf("record usage of ingest key %q", keys[i].KeyID), err)
				}
				return queries.DBError(fmt.Sprintf("record device %q seen", seen[i-len(keys)].DeviceID), err)
			}
		}
		if err := br.Close(); err != nil {
			return queries.DBError("record usage", err)
		}
		return nil
	})
}
