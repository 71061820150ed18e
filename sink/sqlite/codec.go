package sqlite

import (
	"fmt"
	"math"
	"time"

	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/internal/jsonenc"
)

// A batch is stored as one row of telemetry_batches whose records column
// is a JSON array with one object per record (see recordjson.go). One row
// per batch, not per record, is what makes the embedded sink fast: the
// writer's cost is per batch (a few B-tree inserts), and the records are
// encoded in the appenders' goroutines, in parallel. The telemetry view
// expands the arrays back into one row per record for sqlite3 users.

// cursorShift splits a cursor into its batch id (high bits) and the
// record's index in the batch (low bits): cursor = id<<cursorShift | index.
// Cursors keep increasing with storage order, and a record's cursor never
// changes.
const (
	cursorShift   = 20
	maxBatchCount = 1 << cursorShift // records in one stored batch
)

// batch is a sink.Batch ready for the writer.
type batch struct {
	workspaceID, deviceID, ingestKeyID, dedupeKey string
	receiveTime                                   int64
	count                                         int
	records                                       string // the JSON array; empty when count is 0
	// duplicate is set by the writer inside the commit.
	duplicate bool
}

// Times are stored as int64 unix nanoseconds, so only this range fits.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encodeBatch checks and encodes b. A zero ReceiveTime becomes now.
func encodeBatch(b sink.Batch, now time.Time) (batch, error) {
	if b.ReceiveTime.IsZero() {
		b.ReceiveTime = now
	}
	recv, err := nanos(b.ReceiveTime)
	if err != nil {
		return batch{}, fmt.Errorf("sink/sqlite: receive time: %w", err)
	}
	if len(b.Records) >= maxBatchCount {
		return batch{}, fmt.Errorf("sink/sqlite: a batch of %d records: at most %d", len(b.Records), maxBatchCount-1)
	}
	out := batch{
		workspaceID: b.WorkspaceID, deviceID: b.DeviceID, ingestKeyID: b.IngestKeyID,
		dedupeKey: b.DedupeKey, receiveTime: recv, count: len(b.Records),
	}
	if len(b.Records) == 0 {
		return out, nil
	}
	// About 60 bytes for a typical number record: one allocation for most
	// batches.
	buf := make([]byte, 0, 64*len(b.Records)+2)
	buf = append(buf, '[')
	for i, r := range b.Records {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = appendRecord(buf, r, recv); err != nil {
			return batch{}, fmt.Errorf("sink/sqlite: record %d: %w", i, err)
		}
	}
	out.records = jsonenc.Seal(append(buf, ']'))
	return out, nil
}

// nanos converts t to unix nanoseconds, refusing times int64 cannot hold.
func nanos(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: %s is outside %d-%d, the range this sink stores",
			sink.ErrInvalidRecord, t.UTC().Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	return t.UnixNano(), nil
}
