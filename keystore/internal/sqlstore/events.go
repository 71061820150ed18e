package sqlstore

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ingestgate/ingestgate/keystore"
)

var events = table{name: "events", keys: 2, cols: []string{
	"log", "sequence", "type", "time", "actor", "ingest_key_id", "device_id", "api_key_id",
	"display_prefix", "reason", "changed_fields", "user_id",
}}

// nextSequenceSQL bumps the log's counter row, creating it at 1.
const nextSequenceSQL = `INSERT INTO event_counters (log, seq) VALUES ($1, 1)
	ON CONFLICT (log) DO UPDATE SET seq = event_counters.seq + 1 RETURNING seq`

func scanEvent(d Dialect, sc Row) (keystore.Event, error) {
	var e keystore.Event
	err := sc.Scan(&e.WorkspaceID, &e.Sequence, &e.Type, d.TimeDest(&e.Time), &e.Actor, &e.IngestKeyID, &e.DeviceID, &e.APIKeyID,
		&e.DisplayPrefix, &e.Reason, listCol[string]{&e.ChangedFields}, &e.UserID)
	return e, err
}

// AppendEvent takes the log's next sequence from event_counters inside the
// transaction. On SQLite the single writer serializes appends. On
// PostgreSQL the counter row's lock is held until commit, so a second
// appender to the log waits for the first and then, under SERIALIZABLE,
// fails and is retried by ReadWrite with a fresh snapshot: it can only get
// a sequence once every lower one is committed, so readers never see a
// later sequence before an earlier one. Either way a rollback gives the
// number back (no gaps), and the counter row outlives the log's events (no
// reuse).
func (t *Tx) AppendEvent(ctx context.Context, e keystore.Event) (keystore.Event, error) {
	if !slices.Contains(t.logs, e.WorkspaceID) {
		t.logs = append(t.logs, e.WorkspaceID)
	}
	var seq int64
	if err := t.db.QueryRow(ctx, t.sql.nextSequence, e.WorkspaceID).Scan(&seq); err != nil {
		return keystore.Event{}, t.sql.DBError(fmt.Sprintf("next sequence of log %q", e.WorkspaceID), err)
	}
	changed, err := listArg(e.ChangedFields)
	if err != nil {
		return keystore.Event{}, fmt.Errorf("%s: append event: %w", t.sql.name, err)
	}
	_, err = t.db.Exec(ctx, t.sql.events.insert, e.WorkspaceID, seq, int64(e.Type), t.sql.d.TimeArg(e.Time), e.Actor, e.IngestKeyID,
		e.DeviceID, e.APIKeyID, e.DisplayPrefix, e.Reason, changed, e.UserID)
	if err != nil {
		return keystore.Event{}, t.sql.DBError(fmt.Sprintf("append event to log %q", e.WorkspaceID), err)
	}
	// Return what a read would: the stored precision, UTC, nil for empty.
	e.Sequence = uint64(seq)
	e.Time = storedTime(e.Time)
	e.ChangedFields = nilIfEmpty(e.ChangedFields)
	return e, nil
}

func (r Reader) ListEvents(ctx context.Context, q keystore.EventQuery) ([]keystore.Event, error) {
	f := r.filter()
	f.where("log = " + f.arg(q.WorkspaceID))
	after := int64(min(q.AfterSequence, math.MaxInt64))
	order := "sequence"
	switch {
	case q.NewestFirst:
		order = "sequence DESC"
		if after > 0 {
			f.where("sequence < " + f.arg(after))
		}
	case after > 0:
		f.where("sequence > " + f.arg(after))
	}
	if q.IngestKeyID != "" {
		f.where("ingest_key_id = " + f.arg(q.IngestKeyID))
	}
	if q.DeviceID != "" {
		f.where("device_id = " + f.arg(q.DeviceID))
	}
	query, args := f.build(r.sql.events.sel, order, q.Limit)
	return queryAll(ctx, r, "events", scanEvent, query, args...)
}
