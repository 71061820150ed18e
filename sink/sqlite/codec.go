package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

// Conversions between records and telemetry rows. Batches are encoded in
// the appender's goroutine, so a bad record fails only its own batch and
// the writer does nothing but SQL.

// batch is a sink.Batch ready for the writer.
type batch struct {
	workspaceID, deviceID, ingestKeyID, dedupeKey string
	receiveTime                                   int64
	rows                                          []row
	// duplicate is set by the writer inside the commit.
	duplicate bool
}

// row holds the column values of one record; the typed value columns the
// record does not use are nil (NULL).
type row struct {
	time       int64
	name       string
	valueType  any
	number     any
	text       any
	boolean    any
	bytes      any
	json       any
	attributes any
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
	out := batch{
		workspaceID: b.WorkspaceID, deviceID: b.DeviceID, ingestKeyID: b.IngestKeyID,
		dedupeKey: b.DedupeKey, receiveTime: recv,
		rows: make([]row, len(b.Records)),
	}
	for i, r := range b.Records {
		if out.rows[i], err = encodeRecord(r, recv); err != nil {
			return batch{}, fmt.Errorf("sink/sqlite: record %d: %w", i, err)
		}
	}
	return out, nil
}

func encodeRecord(r *ingestgatev1.Record, recv int64) (row, error) {
	if err := sink.CheckRecord(r); err != nil {
		return row{}, err
	}
	out := row{time: recv, name: r.Name}
	if r.Time != nil {
		t, err := nanos(r.Time.AsTime())
		if err != nil {
			return row{}, fmt.Errorf("time: %w", err)
		}
		out.time = t
	}
	switch v := r.Value.(type) {
	case nil:
	case *ingestgatev1.Record_NumberValue:
		out.valueType, out.number = "number", v.NumberValue
	case *ingestgatev1.Record_TextValue:
		out.valueType, out.text = "text", v.TextValue
	case *ingestgatev1.Record_BoolValue:
		out.valueType, out.boolean = "bool", v.BoolValue
	case *ingestgatev1.Record_BytesValue:
		// Never nil: the driver would store nil as NULL, not an empty BLOB.
		out.valueType, out.bytes = "bytes", append([]byte{}, v.BytesValue...)
	case *ingestgatev1.Record_JsonValue:
		j, err := protojson.Marshal(v.JsonValue)
		if err != nil {
			return row{}, fmt.Errorf("%w: json value: %v", sink.ErrInvalidRecord, err)
		}
		out.valueType, out.json = "json", string(j)
	default:
		return row{}, fmt.Errorf("%w: unknown value type %T", sink.ErrInvalidRecord, v)
	}
	if len(r.Attributes) > 0 {
		a, err := json.Marshal(r.Attributes)
		if err != nil {
			return row{}, fmt.Errorf("%w: attributes: %v", sink.ErrInvalidRecord, err)
		}
		out.attributes = string(a)
	}
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

// readColumns is what decodeEntry scans, in order.
const readColumns = `id, device_id, ingest_key_id, receive_time, time, name, value_type,
	number_value, text_value, bool_value, bytes_value, json_value, attributes`

// decodeEntry scans one row of readColumns.
func decodeEntry(rows *sql.Rows, workspaceID string) (sink.Entry, error) {
	var (
		id, recv, t int64
		valueType   sql.NullString
		number      sql.NullFloat64
		text        sql.NullString
		boolean     sql.NullBool
		bytes       []byte
		jsonText    sql.NullString
		attributes  sql.NullString
		e           = sink.Entry{WorkspaceID: workspaceID}
		r           = &ingestgatev1.Record{}
	)
	if err := rows.Scan(&id, &e.DeviceID, &e.IngestKeyID, &recv, &t, &r.Name, &valueType,
		&number, &text, &boolean, &bytes, &jsonText, &attributes); err != nil {
		return sink.Entry{}, fmt.Errorf("sink/sqlite: read: %w", err)
	}
	e.Cursor = strconv.FormatInt(id, 10)
	e.ReceiveTime = time.Unix(0, recv).UTC()
	r.Time = timestamppb.New(time.Unix(0, t))
	switch valueType.String {
	case "":
	case "number":
		// NULL is how a NaN comes back: SQLite stores NaN as NULL.
		v := math.NaN()
		if number.Valid {
			v = number.Float64
		}
		r.Value = &ingestgatev1.Record_NumberValue{NumberValue: v}
	case "text":
		r.Value = &ingestgatev1.Record_TextValue{TextValue: text.String}
	case "bool":
		r.Value = &ingestgatev1.Record_BoolValue{BoolValue: boolean.Bool}
	case "bytes":
		r.Value = &ingestgatev1.Record_BytesValue{BytesValue: bytes}
	case "json":
		v := &structpb.Value{}
		if err := protojson.Unmarshal([]byte(jsonText.String), v); err != nil {
			return sink.Entry{}, fmt.Errorf("sink/sqlite: entry %d: json value: %w", id, err)
		}
		r.Value = &ingestgatev1.Record_JsonValue{JsonValue: v}
	default:
		return sink.Entry{}, fmt.Errorf("sink/sqlite: entry %d: unknown value_type %q", id, valueType.String)
	}
	if attributes.Valid {
		if err := json.Unmarshal([]byte(attributes.String), &r.Attributes); err != nil {
			return sink.Entry{}, fmt.Errorf("sink/sqlite: entry %d: attributes: %w", id, err)
		}
	}
	e.Record = r
	return e, nil
}
