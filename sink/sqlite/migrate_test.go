package sqlite

import (
	"database/sql"
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/internal/sqlitefile"
	"github.com/ingestgate/ingestgate/sink"
	"github.com/ingestgate/ingestgate/sink/sinktest"
)

// oldRow is how migration 0001's telemetry table held a record: one row,
// one typed column for the value.
func oldRow(t *testing.T, r *ingestgatev1.Record, recv int64) []any {
	t.Helper()
	tm := recv
	if r.Time != nil {
		tm = r.Time.AsTime().UnixNano()
	}
	var valueType, number, text, boolean, bytes, jsonText, attrs any
	switch v := r.Value.(type) {
	case *ingestgatev1.Record_NumberValue:
		valueType, number = "number", v.NumberValue
		if math.IsNaN(v.NumberValue) {
			number = nil // SQLite stores NaN as NULL
		}
	case *ingestgatev1.Record_TextValue:
		valueType, text = "text", v.TextValue
	case *ingestgatev1.Record_BoolValue:
		valueType, boolean = "bool", v.BoolValue
	case *ingestgatev1.Record_BytesValue:
		valueType, bytes = "bytes", append([]byte{}, v.BytesValue...)
	case *ingestgatev1.Record_JsonValue:
		j, err := protojson.Marshal(v.JsonValue)
		if err != nil {
			t.Fatal(err)
		}
		valueType, jsonText = "json", string(j)
	}
	if len(r.Attributes) > 0 {
		a, err := json.Marshal(r.Attributes)
		if err != nil {
			t.Fatal(err)
		}
		attrs = string(a)
	}
	return []any{"ws-1", "dev-1", "ik-1", recv, tm, r.Name, valueType, number, text, boolean, bytes, jsonText, attrs}
}

// Telemetry stored one row per record (migration 0001) reads back the
// same after migration 0002 moved it into batch rows, and the telemetry
// view still shows it; new batches follow it.
func TestMigrateRowsToBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	ms, err := sqlitefile.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, nil, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitefile.Apply(t.Context(), db, ms[:1]); err != nil {
		t.Fatal(err)
	}
	recv := int64(1_700_000_000_000_000_000)
	recs := sinktest.EveryKind()
	for _, r := range recs {
		if _, err := db.Exec(`INSERT INTO telemetry (workspace_id, device_id, ingest_key_id, receive_time, time, name,
			value_type, number_value, text_value, bool_value, bytes_value, json_value, attributes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, oldRow(t, r, recv)...); err != nil {
			t.Fatal(err)
		}
	}
	oldView := viewRows(t, db)
	db.Close()

	s := openTest(t, path, Config{})
	if s.applied != len(ms)-1 {
		t.Fatalf("Open applied %d migrations, want %d", s.applied, len(ms)-1)
	}
	es, err := s.Read(t.Context(), sink.Query{WorkspaceID: "ws-1", Limit: sink.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*ingestgatev1.Record, len(recs))
	for i, r := range recs {
		want[i] = sinktest.WithTime(r, time.Unix(0, recv))
	}
	sinktest.WantRecords(t, "migrated", es, want)
	for i, e := range es {
		// Old row ids become batch ids.
		if e.Cursor != strconv.FormatInt(int64(i+1)<<cursorShift, 10) {
			t.Fatalf("entry %d has cursor %s, want batch %d", i, e.Cursor, i+1)
		}
	}
	// What an operator saw with sqlite3 before, the view shows now, but
	// for the ids.
	newView := viewRows(t, s.read)
	if len(newView) != len(oldView) {
		t.Fatalf("view has %d rows, the old table %d", len(newView), len(oldView))
	}
	for i := range oldView {
		if newView[i] != oldView[i] {
			t.Errorf("row %d:\n  old table %s\n  view      %s", i, oldView[i], newView[i])
		}
	}

	// A batch stored now looks the same in the view as the old rows do.
	b := sink.Batch{WorkspaceID: "ws-1", DeviceID: "dev-1", IngestKeyID: "ik-1", ReceiveTime: time.Unix(0, recv), Records: recs}
	mustStore(t, s, b)
	es, err = s.Read(t.Context(), sink.Query{WorkspaceID: "ws-1", After: es[len(es)-1].Cursor, Limit: sink.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.WantRecords(t, "after the migrated rows", es, want)
	newView = viewRows(t, s.read)[len(oldView):]
	for i := range oldView {
		if newView[i] != oldView[i] {
			t.Errorf("row %d:\n  old table %s\n  new batch %s", i, oldView[i], newView[i])
		}
	}
}

// viewRows renders what SELECT * FROM telemetry shows, but the id, one
// string per row, in id order.
func viewRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT workspace_id, device_id, ingest_key_id, receive_time, time, name, value_type,
		number_value, text_value, bool_value, hex(bytes_value), json(json_value), json(attributes) FROM telemetry ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		cols := make([]any, 13)
		ptrs := make([]any, len(cols))
		for i := range cols {
			ptrs[i] = &cols[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(normalize(cols))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// normalize makes column values comparable across the table and the
// view: numbers as float64 (the view's come from JSON), ±Inf as strings
// (JSON has none), bytes as text.
func normalize(cols []any) []any {
	for i, c := range cols {
		switch v := c.(type) {
		case int64:
			cols[i] = strconv.FormatInt(v, 10)
		case float64:
			cols[i] = strconv.FormatFloat(v, 'g', -1, 64)
		case []byte:
			cols[i] = string(v)
		}
	}
	return cols
}
