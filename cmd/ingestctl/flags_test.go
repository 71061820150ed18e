package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func TestParseKVMap(t *testing.T) {
	tests := []struct {
		name      string
		vals      []string
		needValue bool
		want      map[string]string
		wantErr   string
	}{
		{name: "none", want: map[string]string{}},
		{name: "several", vals: []string{"env=prod", "team=ops"}, want: map[string]string{"env": "prod", "team": "ops"}},
		{name: "value keeps later equals", vals: []string{"q=a=b"}, want: map[string]string{"q": "a=b"}},
		{name: "empty value allowed", vals: []string{"flag="}, want: map[string]string{"flag": ""}},
		{name: "value may have commas", vals: []string{"list=a,b"}, want: map[string]string{"list": "a,b"}},
		{name: "no equals", vals: []string{"env"}, wantErr: `--label "env": want key=value`},
		{name: "empty key", vals: []string{"=prod"}, wantErr: `--label "=prod": empty key`},
		{name: "space in key", vals: []string{"my env=prod"}, wantErr: "key contains a space"},
		{name: "empty value refused", vals: []string{"env="}, needValue: true, wantErr: `--label "env=": empty value`},
		{name: "duplicate key", vals: []string{"env=prod", "env=dev"}, wantErr: `key "env" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKVMap("label", tt.vals, tt.needValue)
			if !errContains(t, err, tt.wantErr) {
				return
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKVList(t *testing.T) {
	// Scope tags are alternatives, so one key may appear with several values.
	got, err := parseKVList("tag", []string{"site=berlin", "site=paris"})
	if err != nil || !slices.Equal(got, []string{"site=berlin", "site=paris"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"site", "=x", "site="} {
		if _, err := parseKVList("tag", []string{bad}); err == nil || !strings.Contains(err.Error(), "--tag") {
			t.Errorf("%q: got err %v, want an error naming --tag", bad, err)
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		vals    []string
		want    []string
		wantErr string
	}{
		{vals: nil, want: nil},
		{vals: []string{"keys:read", "keys:write"}, want: []string{"keys:read", "keys:write"}},
		{vals: []string{"keys:read,devices:read", "admin"}, want: []string{"keys:read", "devices:read", "admin"}},
		{vals: []string{" a , b "}, want: []string{"a", "b"}},
		{vals: []string{""}, wantErr: `--permission "": empty value`},
		{vals: []string{"a,,b"}, wantErr: "empty value"},
	}
	for _, tt := range tests {
		got, err := parseList("permission", tt.vals)
		if errContains(t, err, tt.wantErr) && !slices.Equal(got, tt.want) {
			t.Errorf("parseList(%q) = %q, want %q", tt.vals, got, tt.want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "2031-06-01T12:00:00Z", want: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2031-06-01T14:00:00+02:00", want: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2031-06-01", want: time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)},
		{in: "720h", want: time.Date(2030, 2, 1, 3, 4, 5, 0, time.UTC)},
		{in: "30d", want: time.Date(2030, 2, 1, 3, 4, 5, 0, time.UTC)},
		{in: "90m", want: time.Date(2030, 1, 2, 4, 34, 5, 0, time.UTC)},
		{in: "", wantErr: "want an RFC 3339 time"},
		{in: "soon", wantErr: "want an RFC 3339 time"},
		{in: "2031-13-01", wantErr: "want an RFC 3339 time"},
		{in: "-5h", wantErr: "duration must be positive"},
		{in: "0s", wantErr: "duration must be positive"},
		{in: "2020-01-01T00:00:00Z", wantErr: "is in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpiry(tt.in, now)
			if errContains(t, err, tt.wantErr) && !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseGrace(t *testing.T) {
	for in, want := range map[string]time.Duration{"0s": 0, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if got, err := parseGrace(in); err != nil || got != want {
			t.Errorf("parseGrace(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1h", "week", "1.5d", ""} {
		if _, err := parseGrace(in); err == nil {
			t.Errorf("parseGrace(%q): no error", in)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]ingestgatev1.KeyStatus{
		"":        ingestgatev1.KeyStatus_KEY_STATUS_UNSPECIFIED,
		"active":  ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE,
		"Revoked": ingestgatev1.KeyStatus_KEY_STATUS_REVOKED,
	} {
		if got, err := parseStatus(in); err != nil || got != want {
			t.Errorf("parseStatus(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseStatus("expired"); err == nil || !strings.Contains(err.Error(), "active, inactive or revoked") {
		t.Errorf("got %v", err)
	}
}

func TestListPages(t *testing.T) {
	pages := map[string]*ingestgatev1.ListDevicesResponse{
		"":   {Devices: []*ingestgatev1.Device{{Id: "a"}}, NextPageToken: "p2"},
		"p2": {Devices: []*ingestgatev1.Device{{Id: "b"}, {Id: "c"}}, NextPageToken: "p3"},
		"p3": {Devices: []*ingestgatev1.Device{{Id: "d"}}},
	}
	var calls []string
	fetch := func(_ context.Context, size int32, token string) (*ingestgatev1.ListDevicesResponse, error) {
		calls = append(calls, token)
		return pages[token], nil
	}
	ids := func(r *ingestgatev1.ListDevicesResponse) (out []string) {
		for _, d := range r.GetDevices() {
			out = append(out, d.GetId())
		}
		return out
	}
	ctx := context.Background()

	one, err := listPages(ctx, pageFlags{}, fetch)
	if err != nil || !slices.Equal(ids(one), []string{"a"}) || one.GetNextPageToken() != "p2" {
		t.Fatalf("one page: %v %v", one, err)
	}

	calls = nil
	all, err := listPages(ctx, pageFlags{all: true}, fetch)
	if err != nil || !slices.Equal(ids(all), []string{"a", "b", "c", "d"}) || all.GetNextPageToken() != "" {
		t.Fatalf("all pages: %v %v", all, err)
	}
	if !slices.Equal(calls, []string{"", "p2", "p3"}) {
		t.Errorf("calls %q", calls)
	}
	// The fixture itself must not have been changed by merging.
	if len(pages[""].GetDevices()) != 1 {
		t.Errorf("first page was modified? %v", pages[""])
	}

	pages["p3"].NextPageToken = "p2" // a server that loops
	if _, err := listPages(ctx, pageFlags{all: true}, fetch); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("looping tokens: got %v", err)
	}
	if _, err := listPages(ctx, pageFlags{size: -1}, fetch); err == nil {
		t.Error("negative page size accepted")
	}
}

// errContains checks err against want ("" means no error) and reports
// whether the caller should go on to check the result.
func errContains(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
	return want == "" && err == nil
}
