package redis

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/internal/jsonenc"
)

// Conversions between batches and stream entries (see "Entry format" in
// the package doc). Batches are encoded in the appender's goroutine, so a
// bad record fails only its own batch and the writer does nothing but
// Redis.

// Stream entry field names: the format downstream consumers rely on.
const (
	fieldDeviceID    = "device_id"
	fieldIngestKeyID = "ingest_key_id"
	fieldReceiveTime = "receive_time"
	fieldRecord      = "record"
)

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// batch is a sink.Batch ready for the writer.
type batch struct {
	workspaceID, deviceID, ingestKeyID, dedupeKey string
	receiveTime                                   string // RFC 3339, nanoseconds, UTC
	records                                       []string
}

// encodeBatch checks and encodes b. A zero ReceiveTime becomes now.
func encodeBatch(b sink.Batch, now time.Time) (batch, error) {
	if b.ReceiveTime.IsZero() {
		b.ReceiveTime = now
	}
	recv := b.ReceiveTime.UTC()
	// Past these years RFC 3339 has no spelling, so the time would not
	// read back.
	if y := recv.Year(); y < 1 || y > 9999 {
		return batch{}, fmt.Errorf("sink/redis: receive time %v is outside years 1 to 9999", recv)
	}
	out := batch{
		workspaceID: b.WorkspaceID, deviceID: b.DeviceID, ingestKeyID: b.IngestKeyID,
		dedupeKey: b.DedupeKey, receiveTime: recv.Format(time.RFC3339Nano),
		records: make([]string, len(b.Records)),
	}
	// All records in one buffer, each record a string pointing into it:
	// one allocation for the batch instead of one per record.
	buf := make([]byte, 0, 96*len(b.Records))
	ends := make([]int, len(b.Records))
	for i, r := range b.Records {
		if err := sink.CheckRecord(r); err != nil {
			return batch{}, fmt.Errorf("sink/redis: record %d: %w", i, err)
		}
		var err error
		if buf, err = appendRecord(buf, r, recv); err != nil {
			return batch{}, fmt.Errorf("sink/redis: record %d: %w", i, err)
		}
		ends[i] = len(buf)
	}
	all := jsonenc.Seal(buf)
	start := 0
	for i, end := range ends {
		out.records[i] = all[start:end]
		start = end
	}
	return out, nil
}

// decodeEntry turns a stream entry of workspaceID into a sink.Entry.
func decodeEntry(workspaceID string, m goredis.XMessage) (sink.Entry, error) {
	e := sink.Entry{Cursor: m.ID, WorkspaceID: workspaceID}
	e.DeviceID, _ = m.Values[fieldDeviceID].(string)
	e.IngestKeyID, _ = m.Values[fieldIngestKeyID].(string)
	recv, _ := m.Values[fieldReceiveTime].(string)
	t, err := time.Parse(time.RFC3339Nano, recv)
	if err != nil {
		return sink.Entry{}, fmt.Errorf("sink/redis: entry %s: receive time: %w", m.ID, err)
	}
	e.ReceiveTime = t.UTC()
	js, ok := m.Values[fieldRecord].(string)
	if !ok {
		return sink.Entry{}, fmt.Errorf("sink/redis: entry %s has no record", m.ID)
	}
	e.Record = new(ingestgatev1.Record)
	if err := unmarshal.Unmarshal([]byte(js), e.Record); err != nil {
		return sink.Entry{}, fmt.Errorf("sink/redis: entry %s: record: %w", m.ID, err)
	}
	return e, nil
}

// streamID matches what Redis issues as entry IDs: milliseconds and a
// sequence number.
var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// checkCursor returns an error wrapping sink.ErrBadCursor unless c is a
// stream entry ID.
func checkCursor(c string) error {
	if !streamID.MatchString(c) {
		return fmt.Errorf("%w: %q", sink.ErrBadCursor, c)
	}
	ms, seq, _ := strings.Cut(c, "-")
	for _, part := range []string{ms, seq} {
		if _, err := strconv.ParseUint(part, 10, 64); err != nil {
			return fmt.Errorf("%w: %q", sink.ErrBadCursor, c)
		}
	}
	return nil
}
