package postgres

import (
	"context"
	"fmt"
	"math"

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

// nextSequenceSQL bumps the log's counter row, creating it at 1.
const nextSequenceSQL = `INSERT INTO event_counters (log, seq) VALUES ($1, 1)
	ON CONFLICT (log) DO UPDATE SET seq = event_counters.seq + 1 RETURNING seq`

func scanEvent(sc scanner) (keystore.Event, error) {
	var e keystore.Event
	err := sc.Scan(&e.WorkspaceID, &e.Sequence, &e.Type, timeCol{&e.Time}, &e.Actor, &e.IngestKeyID, &e.DeviceID, &e.APIKeyID,
		&e.DisplayPrefix, &e.Reason, listCol[string]{&e.ChangedFields})
	return e, err
}

// AppendEvent takes the log's next sequence from event_counters inside the
// transaction. The counter row's lock is held until commit, so a second
// appender to the log waits for the first and then, under SERIALIZABLE,
// fails and is retried by ReadWrite with a fresh snapshot: it can only get
// a sequence once every lower one is committed, so readers never see a
// later sequence before an earlier one. A rollback gives the number back
// (no gaps), and the counter row outlives the log's events (no reuse).
func (t *tx) AppendEvent(ctx context.Context, e keystore.Event) (keystore.Event, error) {
	var seq int64
	if err := t.q.QueryRow(ctx, nextSequenceSQL, e.WorkspaceID).Scan(&seq); err != nil {
		return keystore.Event{}, dbError(fmt.Sprintf("next sequence of log %q", e.WorkspaceID), err)
	}
	changed, err := listArg(e.ChangedFields)
	if err != nil {
		return keystore.Event{}, fmt.Errorf("postgres: append event: %w", err)
	}
	_, err = t.q.Exec(ctx, eventInsert, e.WorkspaceID, seq, int64(e.Type), timeArg(e.Time), e.Actor, e.IngestKeyID,
		e.DeviceID, e.APIKeyID, e.DisplayPrefix, e.Reason, changed)
	if err != nil {
		return keystore.Event{}, dbError(fmt.Sprintf("append event to log %q", e.WorkspaceID), err)
	}
	// Return what a read would: the stored precision, UTC, nil for empty.
	e.Sequence = uint64(seq)
	e.Time = storedTime(e.Time)
	e.ChangedFields = nilIfEmpty(e.ChangedFields)
	return e, nil
}

func (r reader) ListEvents(ctx context.Context, q keystore.EventQuery) ([]keystore.Event, error) {
	var f filter
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
	query, args := f.build(eventSelect, order, q.Limit)
	return queryAll(ctx, r.q, "events", scanEvent, query, args...)
}
