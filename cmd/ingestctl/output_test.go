package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func TestIngestKeyTable(t *testing.T) {
	used := timestamppb.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	keys := []*ingestgatev1.IngestKey{
		{
			Id: "ik_1", Name: "edge fleet", DisplayPrefix: "ig_ikv1_Ab3d", Status: ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE,
			Scope: &ingestgatev1.KeyScope{AllDevices: true}, LastUsedTime: used,
		},
		{
			Id: "ik_2", Name: "lab", DisplayPrefix: "ig_ikv1_Zz9y", Status: ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE, Expired: true,
			Scope:      &ingestgatev1.KeyScope{DeviceIds: []string{"d1", "d2", "d3"}, Tags: []string{"site=x"}},
			ExpireTime: used,
		},
		{Id: "ik_3", Name: "tab\there", Status: ingestgatev1.KeyStatus_KEY_STATUS_REVOKED, Scope: &ingestgatev1.KeyScope{}},
	}
	var b bytes.Buffer
	if err := writeTable(&b, ingestKeyHeader, ingestKeyRows(keys)); err != nil {
		t.Fatal(err)
	}
	want := `ID    NAME        PREFIX        STATUS              SCOPE                  EXPIRES               STREAMS  LAST USED
ik_1  edge fleet  ig_ikv1_Ab3d  active              all devices            -                     0        2030-01-02T03:04:05Z
ik_2  lab         ig_ikv1_Zz9y  inactive (expired)  3 devices; tag site=x  2030-01-02T03:04:05Z  0        -
ik_3  tab?here    -             revoked             no devices             -                     0        -
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWriteFields(t *testing.T) {
	var b bytes.Buffer
	k := &ingestgatev1.IngestKey{
		Id: "ik_1", Name: "n", Labels: map[string]string{"z": "1", "a": "2"},
		Scope:                    &ingestgatev1.KeyScope{DeviceIds: []string{"d1", "d2", "d3"}},
		Limits:                   &ingestgatev1.KeyLimits{RecordsPerSecond: 50},
		PreviousDisplayPrefix:    "ig_old",
		PreviousSecretExpireTime: timestamppb.New(time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC)),
	}
	if err := writeFields(&b, ingestKeyFields(k)); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, line := range []string{
		"ID:               ik_1\n",
		"Description:      -\n",
		"Scope:            device d1,d2,d3\n", // the detail view lists every device
		"Labels:           a=2, z=1\n",
		"Limits:           records/s 50, max streams default\n",
		"Previous secret:  ig_old valid until 2030-01-03T00:00:00Z\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
	if strings.Contains(got, "Revoked") {
		t.Errorf("revocation shown for a key that is not revoked:\n%s", got)
	}
}

func TestCell(t *testing.T) {
	for in, want := range map[string]string{"": "-", "ok": "ok", "a\nb": "a?b", "\x1b[31mred": "?[31mred", "ünï": "ünï"} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFmtScope(t *testing.T) {
	tests := []struct {
		scope       *ingestgatev1.KeyScope
		short, long string
	}{
		{nil, "all devices", "all devices"},
		{&ingestgatev1.KeyScope{AllDevices: true}, "all devices", "all devices"},
		{&ingestgatev1.KeyScope{}, "no devices", "no devices"},
		{&ingestgatev1.KeyScope{DeviceIds: []string{"a", "b"}}, "device a,b", "device a,b"},
		{&ingestgatev1.KeyScope{Tags: []string{"a=1", "b=2", "c=3"}}, "3 tags", "tag a=1,b=2,c=3"},
	}
	for _, tt := range tests {
		if got := fmtScope(tt.scope, true); got != tt.short {
			t.Errorf("short %v = %q, want %q", tt.scope, got, tt.short)
		}
		if got := fmtScope(tt.scope, false); got != tt.long {
			t.Errorf("long %v = %q, want %q", tt.scope, got, tt.long)
		}
	}
}

const testSecret = "ig_ikv1_Ab3dEf_s3cr3tpart"

func TestEmitSecretOnce(t *testing.T) {
	resp := &ingestgatev1.CreateIngestKeyResponse{
		IngestKey: &ingestgatev1.IngestKey{Id: "ik_1", Name: "edge", DisplayPrefix: "ig_ikv1_Ab3dEf"},
		Secret:    testSecret,
	}
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			a := newApp(&out, &errOut, nil)
			a.output = format
			if err := a.emitSecret(resp, resp.GetSecret(), showFields(ingestKeyFields(resp.GetIngestKey()))); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out.String(), testSecret); n != 1 {
				t.Errorf("secret appears %d times on stdout:\n%s", n, out.String())
			}
			if strings.Contains(errOut.String(), testSecret) {
				t.Errorf("secret on stderr: %q", errOut.String())
			}
			if !strings.Contains(errOut.String(), secretWarning) {
				t.Errorf("no warning on stderr: %q", errOut.String())
			}
			if format == "table" {
				lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
				if last := lines[len(lines)-1]; last != testSecret {
					t.Errorf("last line %q, want the secret alone", last)
				}
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("not one JSON document: %v\n%s", err, out.String())
			}
			if doc["secret"] != testSecret {
				t.Errorf("secret field = %v", doc["secret"])
			}
			if _, ok := doc["ingest_key"].(map[string]any)["display_prefix"]; !ok {
				t.Errorf("want proto (snake_case) names: %s", out.String())
			}
		})
	}
}

func TestEmitSecretMissing(t *testing.T) {
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, nil)
	a.output = "table"
	err := a.emitSecret(&ingestgatev1.RotateIngestKeyResponse{}, "", showFields(nil))
	if err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Errorf("got %v", err)
	}
}

func TestWriteJSONStable(t *testing.T) {
	var b bytes.Buffer
	resp := &ingestgatev1.ListAuditEventsResponse{Events: []*ingestgatev1.KeyEvent{{Sequence: 7, Actor: "system"}}}
	if err := writeJSON(&b, resp); err != nil {
		t.Fatal(err)
	}
	// uint64 is a string in protojson; unset fields are omitted.
	want := "{\n  \"events\": [\n    {\n      \"sequence\": \"7\",\n      \"actor\": \"system\"\n    }\n  ]\n}\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := writeJSON(&b, &ingestgatev1.DeleteIngestKeyResponse{}); err != nil || b.String() != "{}\n" {
		t.Errorf("empty response: %q, %v", b.String(), err)
	}
}
