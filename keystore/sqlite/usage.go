package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/internal/sqlstore"
)

// The arithmetic stays in SQL, so a flush reads nothing first. Arguments:
// ?1, ?2 the row's keys, then the deltas and the time.
var (
	addKeyUsageSQL = "UPDATE ingest_keys SET " +
		"records_received = " + sqlstore.SaturatingAdd("records_received", "?3") + ", " +
		"batches_received = " + sqlstore.SaturatingAdd("batches_received", "?4") + ", " +
		"last_used_time = " + later("last_used_time", "?5") +
		" WHERE id = ?1 AND workspace_id = ?2"
	addDeviceSeenSQL = "UPDATE devices SET last_seen_time = " + later("last_seen_time", "?3") +
		" WHERE workspace_id = ?1 AND id = ?2"
)

// later is the later of time column col and argument t, either of which
// may be NULL (unset). Multi-argument max() is NULL when any argument is.
func later(col, t string) string {
	return fmt.Sprintf("coalesce(max(%[1]s, %[2]s), %[1]s, %[2]s)", col, t)
}

// RecordUsage runs one prepared UPDATE per entry in a single transaction.
// In-process statements cost no round trip, and a missing row is simply
// an UPDATE that matches nothing.
func (s *Store) RecordUsage(ctx context.Context, keys []keystore.KeyUsage, seen []keystore.DeviceSeen) error {
	if len(keys) == 0 && len(seen) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(sqlTx *sql.Tx) error {
		if len(keys) > 0 {
			st := sqlTx.StmtContext(ctx, s.addKeyUsage)
			for _, k := range keys {
				_, err := st.ExecContext(ctx, k.KeyID, k.WorkspaceID, sqlstore.CounterArg(k.Records), sqlstore.CounterArg(k.Batches), timeArg(k.LastUsed))
				if err != nil {
					return queries.DBError(fmt.Sprintf("record usage of ingest key %q", k.KeyID), err)
				}
			}
		}
		if len(seen) > 0 {
			st := sqlTx.StmtContext(ctx, s.addDeviceSeen)
			for _, d := range seen {
				if _, err := st.ExecContext(ctx, d.WorkspaceID, d.DeviceID, timeArg(d.LastSeen)); err != nil {
					return queries.DBError(fmt.Sprintf("record device %q seen", d.DeviceID), err)
				}
			}
		}
		return nil
	})
}
