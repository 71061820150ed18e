package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// restStep is one REST call and what it must answer.
type restStep struct {
	method, path string
	body         any
	status       int
	// contains: substrings the response body must hold.
	contains []string
}

func runREST(t *testing.T, n *servertest.Node, key string, steps []restStep) {
	t.Helper()
	for _, s := range steps {
		st, body := restDo(t, n.BaseURL(), s.method, s.path, map[string]string{"X-API-Key": key}, s.body)
		if st != s.status {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, st, body, s.status)
		}
		for _, c := range s.contains {
			if !strings.Contains(string(body), c) {
				t.Fatalf("%s %s: body %s lacks %q", s.method, s.path, body, c)
			}
		}
	}
}

// The REST surface for workspaces, devices and the audit log, with the JSON
// field names and HTTP statuses documented in the README.
func TestRESTWorkspacesDevicesEvents(t *testing.T) {
	n := servertest.Start(t)
	runREST(t, n, n.AdminKey, []restStep{
		{"POST", "/v1/workspaces", map[string]any{"id": "acme", "display_name": "Acme Corp"}, 200, []string{`"display_name":"Acme Corp"`, `"create_time"`}},
		{"POST", "/v1/workspaces", map[string]any{"id": "acme"}, 409, []string{`already exists`}},
		{"POST", "/v1/workspaces", map[string]any{"id": "Not Valid"}, 400, []string{`workspace id`}},
		{"GET", "/v1/workspaces/acme", nil, 200, []string{`"id":"acme"`}},
		{"PATCH", "/v1/workspaces/acme", map[string]any{"display_name": "Acme Inc"}, 200, []string{`"display_name":"Acme Inc"`}},
		{"GET", "/v1/workspaces", nil, 200, []string{`"id":"acme"`, `"id":"default"`}},
		{"GET", "/v1/workspaces/nope", nil, 404, []string{`not found`}},

		{"POST", "/v1/workspaces/acme/devices", map[string]any{"id": "sensor-1", "tags": map[string]string{"site": "berlin"}}, 200, []string{`"site":"berlin"`, `"workspace_id":"acme"`}},
		{"POST", "/v1/workspaces/acme/devices", map[string]any{"id": "sensor-2", "tags": map[string]string{"site": "paris"}}, 200, nil},
		{"POST", "/v1/workspaces/acme/devices", map[string]any{"id": "sensor-1"}, 409, nil},
		{"POST", "/v1/workspaces/acme/devices", map[string]any{"id": "bad id!"}, 400, []string{`device id`}},
		{"POST", "/v1/workspaces/nope/devices", map[string]any{"id": "x"}, 404, []string{`workspace`}},
		{"GET", "/v1/workspaces/acme/devices?tags=site=berlin", nil, 200, []string{`sensor-1`}},
		{"GET", "/v1/workspaces/acme/devices?id_prefix=sensor-2", nil, 200, []string{`sensor-2`}},
		{"PATCH", "/v1/workspaces/acme/devices/sensor-2", map[string]any{"tags": map[string]string{"site": "berlin", "floor": "2"}}, 200, []string{`"floor":"2"`}},
		{"GET", "/v1/workspaces/acme/devices/sensor-2", nil, 200, []string{`"floor":"2"`}},
		{"GET", "/v1/workspaces/default/devices/sensor-2", nil, 404, nil},
		{"DELETE", "/v1/workspaces/acme/devices/sensor-2", nil, 200, nil},
		{"GET", "/v1/workspaces/acme/devices/sensor-2", nil, 404, nil},

		{"POST", "/v1/workspaces/acme/ingestKeys", map[string]any{"name": "k", "scope": map[string]any{"tags": []string{"site=berlin"}}}, 200, []string{`"secret":"ig_ikv1_`, `"status":"KEY_STATUS_ACTIVE"`, `"tags":["site=berlin"]`}},
		{"DELETE", "/v1/workspaces/acme", nil, 400, []string{`still holds`}},
		{"GET", "/v1/workspaces/acme/events?newest_first=true&page_size=2", nil, 200, []string{`KEY_EVENT_TYPE_INGEST_KEY_CREATED`, `"next_page_token"`, `"actor":"api_key:ak_`}},
		{"GET", "/v1/workspaces/acme/events?device_id=sensor-2", nil, 200, []string{`KEY_EVENT_TYPE_DEVICE_DELETED`, `KEY_EVENT_TYPE_DEVICE_UPDATED`}},
		{"GET", "/v1/events", nil, 200, []string{`KEY_EVENT_TYPE_API_KEY_CREATED`}},
		{"DELETE", "/v1/workspaces/acme?force=true", nil, 200, nil},
		{"GET", "/v1/workspaces/acme", nil, 404, nil},
		// The audit log outlives the workspace, deletion included.
		{"GET", "/v1/workspaces/acme/events?newest_first=true&page_size=1", nil, 200, []string{`KEY_EVENT_TYPE_WORKSPACE_DELETED`}},
		{"GET", "/v1/workspaces/acme/events?page_token=bm9wZQ", nil, 400, []string{`page_token`}},
	})
}

// Audit events come back in order with a cursor that increases by one.
func TestAuditCursor(t *testing.T) {
	n := servertest.Start(t)
	api := newGRPCKeys(n, n.AdminKey)
	for range 3 {
		must(api.create(ws, &ingestgatev1.IngestKey{Name: "k"})).of(t)
	}
	var seqs []uint64
	after := 0
	for {
		st, body := restDo(t, n.BaseURL(), "GET", "/v1/workspaces/default/events?page_size=2&after_sequence="+itoa(after), map[string]string{"X-API-Key": n.AdminKey}, nil)
		if st != 200 {
			t.Fatalf("%d %s", st, body)
		}
		var r struct {
			Events []struct {
				Sequence string `json:"sequence"`
			} `json:"events"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Events) == 0 {
			break
		}
		for _, e := range r.Events {
			var s uint64
			if err := json.Unmarshal([]byte(e.Sequence), &s); err != nil {
				t.Fatalf("sequence %q: %v", e.Sequence, err)
			}
			seqs = append(seqs, s)
			after = int(s)
		}
	}
	// workspace created (bootstrap) + 3 keys.
	if len(seqs) != 4 {
		t.Fatalf("sequences %v, want 4 events", seqs)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("sequences %v, want 1..4", seqs)
		}
	}
}

func TestHealthz(t *testing.T) {
	n := servertest.Start(t)
	resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}
