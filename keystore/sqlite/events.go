package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

var events = table{name: "events", keys: 2, cols: []string{
	"log", "sequence", "type", "time", "actor", "ingest_key_id", "device_id", "api_key_id",
	"display_prefix", "reason", "changed_fields",
}}

var (
	eventSelect = events.selectSQL()
	eventInsert = events.insertSQL()
)

func scanEvent(sc scanner) (keystore.Event, error) {
	var e keystore.Event
	err := sc.Scan(&e.WorkspaceID, &e.Sequence, &e.Type, timeCol{&e.Time}, &e.Actor, &e.IngestKeyID, &e.DeviceID, &e.APIKeyID,
		&e.DisplayPrefix, &e.Reason, listCol[string]{&e.ChangedFields})
	return e, err
}

// AppendEvent takes the log's next sequence from event_counters inside the
// transaction: the write lock serializes appends, a rollback gives the
// number back (no gaps), and the counter row outlives the log's events (no
// reuse).
func (t *tx) AppendEvent(ctx context.Context, e keystore.Event) (keystore.Event, error) {
	var seq int64
	err := t.q.QueryRowContext(ctx, `INSERT INTO event_counters (log, seq) VALUES (?, 1)
		ON CONFLICT (log) DO UPDATE SET seq = seq + 1 RETURNING seq`, e.WorkspaceID).Scan(&seq)
	if err != nil {
		return keystore.Event{}, dbError(fmt.Sprintf("next sequence of log %q", e.WorkspaceID), err)
	}
	changed, err := listArg(e.ChangedFields)
	if err != nil {
		return keystore.Event{}, fmt.Errorf("sqlite: append event: %w", err)
	}
	_, err = t.q.ExecContext(ctx, eventInsert, e.WorkspaceID, seq, int64(e.Type), timeArg(e.Time), e.Actor, e.IngestKeyID,
		e.DeviceID, e.APIKeyID, e.DisplayPrefix, e.Reason, changed)
	if err != nil {
		return keystore.Event{}, dbError(fmt.Sprintf("append event to log %q", e.WorkspaceID), err)
	}
	// Return what a read would: the stored precision, UTC, nil for empty.
	e.Sequence = uint64(seq)
	if !e.Time.IsZero() {
		e.Time = time.UnixMicro(e.Time.UnixMicro()).UTC()
	}
	e.ChangedFields = nilIfEmpty(e.ChangedFields)
	return e, nil
}

func (r reader) ListEvents(ctx context.Context, q keystore.EventQuery) ([]keystore.Event, error) {
	var f filter
	f.add("log = ?", q.WorkspaceID)
	after := int64(min(q.AfterSequence, math.MaxInt64))
	order := "sequence"
	switch {
	case q.NewestFirst:
		order = "sequence DESC"
		if after > 0 {
			f.add("sequence < ?", after)
		}
	case after > 0:
		f.add("sequence > ?", after)
	}
	if q.IngestKeyID != "" {
		f.add("ingest_key_id = ?", q.IngestKeyID)
	}
	if q.DeviceID != "" {
		f.add("device_id = ?", q.DeviceID)
	}
	query, args := f.build(eventSelect, order, q.Limit)
	return queryAll(ctx, r.q, "events", scanEvent, query, args...)
}
