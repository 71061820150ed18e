package sdk_test

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestgate/ingestgate/sdk"
)

func TestJSONRecord(t *testing.T) {
	want, err := structpb.NewValue(map[string]any{"a": 1.0, "b": []any{"x", true, nil}})
	if err != nil {
		t.Fatal(err)
	}
	type payload struct {
		A int   `json:"a"`
		B []any `json:"b"`
	}
	for name, v := range map[string]any{
		"map":      map[string]any{"a": 1, "b": []any{"x", true, nil}},
		"struct":   payload{A: 1, B: []any{"x", true, nil}},
		"raw":      json.RawMessage(`{"a": 1, "b": ["x", true, null]}`),
		"structpb": want,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := sdk.JSON("status", v)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(r.GetJsonValue(), want) {
				t.Fatalf("got %v, want %v", r.GetJsonValue(), want)
			}
		})
	}
	for name, v := range map[string]any{
		"bad raw":  json.RawMessage(`{"a": `),
		"channel":  make(chan int),
		"function": func() {},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := sdk.JSON("status", v); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRecordOptions(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)
	attrs := map[string]string{"unit": "C"}
	r := sdk.Number("t", 1.5, sdk.At(at), sdk.Attrs(attrs), sdk.Attr("room", "lab"))
	attrs["unit"] = "F" // Attrs copies
	if !r.GetTime().AsTime().Equal(at) || r.GetAttributes()["unit"] != "C" || r.GetAttributes()["room"] != "lab" || r.GetNumberValue() != 1.5 {
		t.Fatalf("record %v", r)
	}
	before := time.Now()
	if got := sdk.Bool("b", true).GetTime().AsTime(); got.Before(before.Add(-time.Second)) {
		t.Fatalf("records are stamped when built: got %v", got)
	}
}
