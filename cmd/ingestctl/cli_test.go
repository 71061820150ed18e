package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// These tests run the whole CLI in-process through run, the entry point
// main uses, against a real ingestgate node (servertest.Start): real
// authentication, permissions, validation, storage and audit log. Each
// top-level test starts its own node and plays a user's session on it, so
// the tests run in parallel, but within one test later steps build on
// earlier ones and subtests must not.

// session is one user's shell: an environment and the node it points at.
type session struct {
	t    *testing.T
	node *servertest.Node
	env  map[string]string
	log  *[]result // every command run in this test, for the secret checks
}

type result struct {
	args           []string
	stdout, stderr string
	code           int
}

// newSession starts a node and returns a session holding its bootstrap
// admin key, as an operator would after the first start.
func newSession(t *testing.T) *session {
	t.Helper()
	n := servertest.Start(t)
	return &session{t: t, node: n, log: new([]result), env: map[string]string{
		envAddr:   n.GRPCAddr,
		envAPIKey: n.AdminKey,
	}}
}

// on returns the session reporting to t, for use in a subtest.
func (s *session) on(t *testing.T) *session {
	c := *s
	c.t = t
	return &c
}

// with returns a session on the same node whose environment has k set to v
// ("" unsets it).
func (s *session) with(k, v string) *session {
	c := *s
	c.env = maps.Clone(s.env)
	if v == "" {
		delete(c.env, k)
	} else {
		c.env[k] = v
	}
	return &c
}

func (s *session) run(args ...string) result {
	s.t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return s.env[k] })
	r := result{args: args, stdout: out.String(), stderr: errOut.String(), code: code}
	*s.log = append(*s.log, r)
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (s *session) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("ingestctl %s: exit %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// json runs a command that must succeed with -o json, checks the output is
// one JSON document with snake_case field names, and decodes it into m.
func (s *session) json(m proto.Message, args ...string) result {
	s.t.Helper()
	args = append(slices.Clip(args), "-o", "json")
	s.ok(args...)
	r := (*s.log)[len(*s.log)-1]
	checkJSON(s.t, r.stdout)
	if err := protojson.Unmarshal([]byte(r.stdout), m); err != nil {
		s.t.Fatalf("ingestctl %s: decode: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return r
}

// fails runs a command that must exit with code, print nothing on stdout,
// and print wantErr as the first line of stderr.
func (s *session) fails(code int, wantErr string, args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	first, _, _ := strings.Cut(r.stderr, "\n")
	if r.code != code || first != wantErr || r.stdout != "" {
		s.t.Errorf("ingestctl %s:\n got exit %d, stderr %q, stdout %q\nwant exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr, r.stdout, code, wantErr)
	}
	return r
}

// rpcs counts the calls the node has served so far (it logs each one).
func (s *session) rpcs() int { return strings.Count(s.node.Logs.String(), "msg=rpc ") }

// checkSecrets checks that each secret was printed exactly once, on the
// stdout of the command that issued it, and appears in no other output of
// the session nor in the node's logs.
func (s *session) checkSecrets(secrets ...string) {
	s.t.Helper()
	for _, secret := range secrets {
		var in []string
		for _, r := range *s.log {
			if n := strings.Count(r.stdout, secret); n > 0 {
				in = append(in, fmt.Sprintf("stdout of %q (%d times)", r.args, n))
			}
			if strings.Contains(r.stderr, secret) {
				in = append(in, fmt.Sprintf("stderr of %q", r.args))
			}
		}
		if len(in) != 1 || !strings.HasPrefix(in[0], "stdout") || !strings.HasSuffix(in[0], "(1 times)") {
			s.t.Errorf("secret %.14s… printed in %q; want once, by the command that issued it", secret, in)
		}
		if strings.Contains(s.node.Logs.String(), secret) {
			s.t.Errorf("secret %.14s… is in the server log", secret)
		}
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkJSON checks out is exactly one JSON document whose field names are
// all snake_case, as in the .proto files and the REST API. (Test data uses
// lowercase label and tag keys, so map keys pass too.)
func checkJSON(t *testing.T, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		t.Fatalf("more than one JSON document (%v):\n%s", err, out)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if !snakeCase.MatchString(k) {
					t.Errorf("field name %q is not snake_case in\n%s", k, out)
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
}

// fields parses a detail view ("Name:  value" lines) up to the first blank
// line, which separates a secret.
func fields(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// tableIDs returns the first column of a table's rows, without the header.
func tableIDs(out string) []string {
	var ids []string
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i > 0 && line != "" {
			ids = append(ids, strings.Fields(line)[0])
		}
	}
	return ids
}

// secretOf checks the table-mode output of a create or rotate: the detail
// view, a blank line and the secret alone on the last line, which starts
// with the key's display prefix. It returns the detail fields and secret.
func secretOf(t *testing.T, r result) (map[string]string, string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("ingestctl %s: exit %d, stderr %q", strings.Join(r.args, " "), r.code, r.stderr)
	}
	body, secret, ok := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "\n\n")
	f := fields(body)
	if !ok || strings.Contains(secret, "\n") || !strings.HasPrefix(secret, f["Prefix"]) || len(secret) < 40 {
		t.Fatalf("want the secret alone on the last line, after a blank line, starting with prefix %q; got\n%s", f["Prefix"], r.stdout)
	}
	if r.stderr != secretWarning+"\n" {
		t.Errorf("stderr %q, want the warning %q", r.stderr, secretWarning)
	}
	return f, secret
}

// checkJSONSecret checks the JSON-mode output of a create or rotate.
func checkJSONSecret(t *testing.T, r result, secret, prefix string) {
	t.Helper()
	if !strings.HasPrefix(secret, prefix) || len(secret) < 40 {
		t.Errorf("secret %q does not start with the display prefix %q", secret, prefix)
	}
	if n := strings.Count(r.stdout, secret); n != 1 {
		t.Errorf("secret appears %d times in\n%s", n, r.stdout)
	}
	if r.stderr != secretWarning+"\n" {
		t.Errorf("stderr %q, want the warning %q", r.stderr, secretWarning)
	}
}

func eventTypes(evs []*ingestgatev1.KeyEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = strings.TrimPrefix(e.GetType().String(), "KEY_EVENT_TYPE_")
	}
	return out
}

func TestCLIIngestKeySession(t *testing.T) {
	t.Parallel()
	s := newSession(t)

	// Create in table mode: the secret is shown once, last, and the warning
	// goes to stderr.
	created, secret1 := secretOf(t, s.run("keys", "create", "--name", "edge", "--description", "roof sensors",
		"--label", "team=ops", "--tag", "site=berlin", "--rate", "100", "--max-streams", "4"))
	id := created["ID"]
	for k, want := range map[string]string{
		"Workspace": "default", "Name": "edge", "Description": "roof sensors", "Status": "active",
		"Scope": "tag site=berlin", "Labels": "team=ops", "Limits": "records/s 100, max streams 4", "Expires": "-",
	} {
		if created[k] != want {
			t.Errorf("create: %s %q, want %q", k, created[k], want)
		}
	}
	if !strings.HasPrefix(id, "ik_") || !strings.HasPrefix(created["Prefix"], keystore.DefaultIngestKeyPrefix) {
		t.Fatalf("create: id %q prefix %q", id, created["Prefix"])
	}

	// Create in JSON mode: the secret is the response's secret field.
	var batch ingestgatev1.CreateIngestKeyResponse
	r := s.json(&batch, "keys", "create", "--name", "batch")
	checkJSONSecret(t, r, batch.GetSecret(), batch.GetIngestKey().GetDisplayPrefix())
	id2 := batch.GetIngestKey().GetId()
	if !batch.GetIngestKey().GetScope().GetAllDevices() || batch.GetIngestKey().GetWorkspaceId() != "default" {
		t.Errorf("create without --tag/--device: %v, want a key for all devices in default", batch.GetIngestKey())
	}

	// get and list show the keys, without their secrets (checkSecrets below).
	if got := fields(s.ok("keys", "get", id)); got["Prefix"] != created["Prefix"] || got["Name"] != "edge" {
		t.Errorf("keys get: %v", got)
	}
	out := s.ok("keys", "list")
	if !strings.HasPrefix(out, "ID ") || !slices.Equal(tableIDs(out), []string{id2, id}) {
		t.Errorf("keys list: want %s then %s (newest first), got\n%s", id2, id, out)
	}
	var list ingestgatev1.ListIngestKeysResponse
	s.json(&list, "keys", "list")
	if len(list.GetIngestKeys()) != 2 || list.GetNextPageToken() != "" ||
		list.GetIngestKeys()[1].GetLimits().GetMaxStreams() != 4 || list.GetIngestKeys()[1].GetLabels()["team"] != "ops" {
		t.Errorf("keys list -o json: %v", &list)
	}
	if out := s.ok("keys", "list", "--name-contains", "BAT"); !slices.Equal(tableIDs(out), []string{id2}) {
		t.Errorf("keys list --name-contains BAT:\n%s", out)
	}
	if out := s.ok("keys", "list", "--label", "team=ops"); !slices.Equal(tableIDs(out), []string{id}) {
		t.Errorf("keys list --label team=ops:\n%s", out)
	}

	// Updates send exactly the fields named by flags; each result is what
	// the server stored.
	updates := []struct {
		name    string
		args    []string
		changed []string // the update event's changed_fields
		check   func(k *ingestgatev1.IngestKey) bool
	}{
		{
			name: "rate alone keeps max streams", args: []string{"--rate", "250"}, changed: []string{"limits"},
			check: func(k *ingestgatev1.IngestKey) bool {
				return proto.Equal(k.GetLimits(), &ingestgatev1.KeyLimits{RecordsPerSecond: 250, MaxStreams: 4})
			},
		},
		{
			name: "max streams alone keeps rate", args: []string{"--max-streams", "9"}, changed: []string{"limits"},
			check: func(k *ingestgatev1.IngestKey) bool {
				return proto.Equal(k.GetLimits(), &ingestgatev1.KeyLimits{RecordsPerSecond: 250, MaxStreams: 9})
			},
		},
		{
			name: "scope by tag and device", args: []string{"--tag", "site=paris", "--device", "dev-2,dev-1"}, changed: []string{"scope"},
			check: func(k *ingestgatev1.IngestKey) bool {
				return proto.Equal(k.GetScope(), &ingestgatev1.KeyScope{DeviceIds: []string{"dev-1", "dev-2"}, Tags: []string{"site=paris"}})
			},
		},
		{
			name: "scope by device only", args: []string{"--device", "dev-3"}, changed: []string{"scope"},
			check: func(k *ingestgatev1.IngestKey) bool {
				return proto.Equal(k.GetScope(), &ingestgatev1.KeyScope{DeviceIds: []string{"dev-3"}})
			},
		},
		{
			name: "name and labels", args: []string{"--name", "edge-2", "--label", "tier=gold"}, changed: []string{"labels", "name"},
			check: func(k *ingestgatev1.IngestKey) bool {
				return k.GetName() == "edge-2" && maps.Equal(k.GetLabels(), map[string]string{"tier": "gold"}) &&
					k.GetLimits().GetMaxStreams() == 9 && len(k.GetScope().GetDeviceIds()) == 1
			},
		},
		{
			name: "expiry", args: []string{"--expires", "30d"}, changed: []string{"expire_time"},
			check: func(k *ingestgatev1.IngestKey) bool { return k.GetExpireTime() != nil && !k.GetExpired() },
		},
		{
			name: "no expiry", args: []string{"--no-expiry"}, changed: []string{"expire_time"},
			check: func(k *ingestgatev1.IngestKey) bool { return k.GetExpireTime() == nil },
		},
	}
	for _, tt := range updates {
		t.Run("update/"+tt.name, func(t *testing.T) {
			s := s.on(t)
			var resp ingestgatev1.UpdateIngestKeyResponse
			s.json(&resp, append([]string{"keys", "update", id}, tt.args...)...)
			if !tt.check(resp.GetIngestKey()) {
				t.Errorf("update %q: got %v", tt.args, resp.GetIngestKey())
			}
			var got ingestgatev1.GetIngestKeyResponse
			if s.json(&got, "keys", "get", id); !proto.Equal(got.GetIngestKey(), resp.GetIngestKey()) {
				t.Errorf("keys get after update:\n got %v\nwant %v", got.GetIngestKey(), resp.GetIngestKey())
			}
		})
	}
	// The table view of an update.
	if got := fields(s.ok("keys", "update", id, "--rate", "300", "--all-devices")); got["Limits"] != "records/s 300, max streams 9" || got["Scope"] != "all devices" {
		t.Errorf("keys update --rate --all-devices: %v", got)
	}

	// Lifecycle.
	for _, step := range []struct{ cmd, status string }{
		{"deactivate", "inactive"},
		{"deactivate", "inactive"}, // a no-op, not an error
		{"activate", "active"},
	} {
		if got := fields(s.ok("keys", step.cmd, id)); got["Status"] != step.status {
			t.Errorf("keys %s: status %q, want %q", step.cmd, got["Status"], step.status)
		}
	}
	if out := s.ok("keys", "list", "--status", "inactive"); len(tableIDs(out)) != 0 {
		t.Errorf("keys list --status inactive after activate:\n%s", out)
	}

	rotated, secret2 := secretOf(t, s.run("keys", "rotate", id, "--grace", "1d"))
	if rotated["Prefix"] == created["Prefix"] || !strings.HasPrefix(rotated["Previous secret"], created["Prefix"]+" valid until ") {
		t.Errorf("rotate --grace 1d: prefix %q, previous %q; want a new prefix and %q kept for the grace period",
			rotated["Prefix"], rotated["Previous secret"], created["Prefix"])
	}
	var rot ingestgatev1.RotateIngestKeyResponse
	r = s.json(&rot, "keys", "rotate", id)
	checkJSONSecret(t, r, rot.GetSecret(), rot.GetIngestKey().GetDisplayPrefix())
	if rot.GetSecret() == secret2 || rot.GetIngestKey().GetPreviousSecretExpireTime() != nil {
		t.Errorf("rotate without grace: %v; want a new secret and no previous one", rot.GetIngestKey())
	}

	revoked := fields(s.ok("keys", "revoke", id, "--reason", "leaked"))
	if revoked["Status"] != "revoked" || revoked["Revoke reason"] != "leaked" || revoked["Revoked"] == "" {
		t.Errorf("keys revoke: %v", revoked)
	}
	if out := s.ok("keys", "list", "--status", "revoked"); !slices.Equal(tableIDs(out), []string{id}) {
		t.Errorf("keys list --status revoked:\n%s", out)
	}

	// Revocation is final; the server says why and the CLI exits 1.
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"activate", id}, "key is revoked; revocation is final, create a new key instead"},
		{[]string{"deactivate", id}, "key is revoked; a revoked key cannot be deactivated"},
		{[]string{"rotate", id}, "key is revoked; a revoked key cannot be rotated"},
		{[]string{"revoke", id}, "key is already revoked"},
		{[]string{"update", id, "--rate", "1"}, "key is revoked; a revoked key cannot be changed, only deleted"},
	} {
		s.fails(1, "error: FailedPrecondition: "+tt.err, append([]string{"keys"}, tt.args...)...)
	}

	// The audit log has every change, in order, with the fields each update
	// named (the update mask), and nothing for the no-op or refused calls.
	var evs ingestgatev1.ListAuditEventsResponse
	r = s.json(&evs, "events", "list", "--key", id)
	if !strings.Contains(r.stdout, `"KEY_EVENT_TYPE_INGEST_KEY_REVOKED"`) {
		t.Errorf("events list -o json does not show the revocation:\n%s", r.stdout)
	}
	want := []string{"INGEST_KEY_CREATED"}
	var wantChanged [][]string
	for _, tt := range updates {
		want = append(want, "INGEST_KEY_UPDATED")
		wantChanged = append(wantChanged, tt.changed)
	}
	want = append(want, "INGEST_KEY_UPDATED", "INGEST_KEY_DEACTIVATED", "INGEST_KEY_ACTIVATED",
		"INGEST_KEY_ROTATED", "INGEST_KEY_ROTATED", "INGEST_KEY_REVOKED")
	wantChanged = append(wantChanged, []string{"limits", "scope"})
	if got := eventTypes(evs.GetEvents()); !slices.Equal(got, want) {
		t.Fatalf("events of %s:\n got %q\nwant %q", id, got, want)
	}
	for i, cf := range wantChanged {
		if e := evs.GetEvents()[1+i]; !slices.Equal(e.GetChangedFields(), cf) || e.GetIngestKeyId() != id || !strings.HasPrefix(e.GetActor(), "api_key:ak_") {
			t.Errorf("update event %d: %v; want changed fields %q", i, e, cf)
		}
	}
	if last := evs.GetEvents()[len(want)-1]; last.GetReason() != "leaked" {
		t.Errorf("revoke event reason %q", last.GetReason())
	}
	out = s.ok("events", "list", "--key", id, "--newest-first")
	if first := strings.Split(out, "\n")[1]; !strings.Contains(first, "ingest_key_revoked") || !strings.Contains(first, "key:"+id) || !strings.HasSuffix(first, "leaked") {
		t.Errorf("events list --newest-first: first row %q", first)
	}

	// Delete: the key is gone, its audit events remain.
	if out := s.ok("keys", "delete", id); out != "Deleted ingest key "+id+".\n" {
		t.Errorf("keys delete: %q", out)
	}
	s.fails(1, fmt.Sprintf("error: NotFound: ingest key %q not found", id), "keys", "get", id)
	s.fails(1, fmt.Sprintf("error: NotFound: ingest key %q not found", id), "keys", "delete", id)
	s.json(&evs, "events", "list", "--key", id)
	if got := eventTypes(evs.GetEvents()); got[len(got)-1] != "INGEST_KEY_DELETED" {
		t.Errorf("events after delete end with %q", got[len(got)-1])
	}
	if out := s.ok("keys", "list"); !slices.Equal(tableIDs(out), []string{id2}) {
		t.Errorf("keys list after delete:\n%s", out)
	}

	s.checkSecrets(secret1, batch.GetSecret(), secret2, rot.GetSecret())
}

func TestCLIListAllPages(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	var ids []string
	for i := range 7 {
		var resp ingestgatev1.CreateIngestKeyResponse
		s.json(&resp, "keys", "create", "--name", fmt.Sprint("k", i))
		ids = append(ids, resp.GetIngestKey().GetId())
	}
	slices.Reverse(ids) // lists are newest first

	// --all: every page merged into one document, without a next page token.
	var all ingestgatev1.ListIngestKeysResponse
	r := s.json(&all, "keys", "list", "--all", "--page-size", "3")
	var got []string
	for _, k := range all.GetIngestKeys() {
		got = append(got, k.GetId())
	}
	if !slices.Equal(got, ids) || strings.Contains(r.stdout, "next_page_token") || strings.Count(r.stdout, `"ingest_keys"`) != 1 {
		t.Errorf("keys list --all --page-size 3: got ids %q, want %q, in\n%s", got, ids, r.stdout)
	}
	out := s.ok("keys", "list", "--all", "--page-size", "3")
	if !slices.Equal(tableIDs(out), ids) {
		t.Errorf("keys list --all (table):\n%s", out)
	}

	// One page at a time: JSON carries the token, a table names it on stderr.
	var page ingestgatev1.ListIngestKeysResponse
	s.json(&page, "keys", "list", "--page-size", "3")
	if len(page.GetIngestKeys()) != 3 || page.GetNextPageToken() == "" {
		t.Errorf("keys list --page-size 3 -o json: %v", &page)
	}
	got = nil
	args := []string{"keys", "list", "--page-size", "3"}
	for pages := 1; ; pages++ {
		r := s.run(args...)
		if r.code != 0 || pages > 3 {
			t.Fatalf("%q: exit %d, page %d, stderr %q", args, r.code, pages, r.stderr)
		}
		got = append(got, tableIDs(r.stdout)...)
		if r.stderr == "" {
			break
		}
		tok, ok := strings.CutPrefix(r.stderr, "More results: --page-token ")
		tok, ok2 := strings.CutSuffix(tok, " (or --all)\n")
		if !ok || !ok2 {
			t.Fatalf("stderr %q", r.stderr)
		}
		args = []string{"keys", "list", "--page-size", "3", "--page-token", tok}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("paging by hand: got %q, want %q", got, ids)
	}

	// The other lists page the same way.
	for i := range 5 {
		s.ok("devices", "create", fmt.Sprint("dev-", i))
	}
	var devs ingestgatev1.ListDevicesResponse
	if s.json(&devs, "devices", "list", "--all", "--page-size", "2"); len(devs.GetDevices()) != 5 || devs.GetDevices()[4].GetId() != "dev-4" {
		t.Errorf("devices list --all: %v", &devs)
	}
	var evs ingestgatev1.ListAuditEventsResponse
	s.json(&evs, "events", "list", "--all", "--page-size", "4")
	if n := len(evs.GetEvents()); n != 1+7+5 {
		t.Errorf("events list --all: %d events, want 13", n)
	}
	for i, e := range evs.GetEvents() {
		if e.GetSequence() != uint64(i+1) {
			t.Errorf("event %d has sequence %d", i, e.GetSequence())
		}
	}
	s.json(&evs, "events", "list", "--all", "--page-size", "4", "--newest-first", "--after", "5")
	if got := eventTypes(evs.GetEvents()); len(got) != 4 || got[3] != "WORKSPACE_CREATED" {
		t.Errorf("events list --newest-first --after 5: %q", got)
	}
	s.ok("workspaces", "create", "ws-2")
	var wss ingestgatev1.ListWorkspacesResponse
	if s.json(&wss, "workspaces", "list", "--all", "--page-size", "1"); len(wss.GetWorkspaces()) != 2 {
		t.Errorf("workspaces list --all --page-size 1: %v", &wss)
	}
}

func TestCLIDevices(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	got := fields(s.ok("devices", "create", "sensor-1", "--name", "Roof sensor", "--tag", "site=berlin", "--tag", "kind=temp"))
	if got["ID"] != "sensor-1" || got["Workspace"] != "default" || got["Name"] != "Roof sensor" || got["Tags"] != "kind=temp, site=berlin" {
		t.Errorf("devices create: %v", got)
	}
	var created ingestgatev1.CreateDeviceResponse
	s.json(&created, "devices", "create", "sensor-2", "--tag", "site=paris")
	if !maps.Equal(created.GetDevice().GetTags(), map[string]string{"site": "paris"}) {
		t.Errorf("devices create -o json: %v", created.GetDevice())
	}
	s.fails(1, `error: AlreadyExists: device "sensor-1" already exists`, "devices", "create", "sensor-1")
	s.fails(1, `error: InvalidArgument: device id "bad id": want 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'`, "devices", "create", "bad id")

	list := func(args ...string) []string {
		t.Helper()
		var resp ingestgatev1.ListDevicesResponse
		s.json(&resp, append([]string{"devices", "list"}, args...)...)
		var ids []string
		for _, d := range resp.GetDevices() {
			ids = append(ids, d.GetId())
		}
		return ids
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"sensor-1", "sensor-2"}},
		{[]string{"--tag", "site=berlin"}, []string{"sensor-1"}},
		{[]string{"--tag", "site=berlin", "--tag", "kind=temp"}, []string{"sensor-1"}}, // all must match
		{[]string{"--tag", "site=berlin", "--tag", "kind=humidity"}, nil},
		{[]string{"--id-prefix", "sensor-2"}, []string{"sensor-2"}},
	} {
		if got := list(tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("devices list %q: got %q, want %q", tt.args, got, tt.want)
		}
	}
	if out := s.ok("devices", "list", "--tag", "site=berlin"); !slices.Equal(tableIDs(out), []string{"sensor-1"}) || !strings.HasPrefix(out, "ID ") {
		t.Errorf("devices list --tag (table):\n%s", out)
	}

	// Updates: --tag replaces every tag, --name leaves tags alone.
	for _, tt := range []struct {
		args      []string
		wantName  string
		wantTags  string
		wantField string // changed_fields of the update event
	}{
		{[]string{"--tag", "site=berlin", "--tag", "kind=humidity"}, "-", "kind=humidity, site=berlin", "tags"},
		{[]string{"--name", "Cellar"}, "Cellar", "kind=humidity, site=berlin", "display_name"},
		{[]string{"--clear-tags"}, "Cellar", "-", "tags"},
	} {
		got := fields(s.ok(append([]string{"devices", "update", "sensor-2"}, tt.args...)...))
		if got["Name"] != tt.wantName || got["Tags"] != tt.wantTags {
			t.Errorf("devices update %q: name %q tags %q, want %q and %q", tt.args, got["Name"], got["Tags"], tt.wantName, tt.wantTags)
		}
		if again := fields(s.ok("devices", "get", "sensor-2")); !maps.Equal(again, got) {
			t.Errorf("devices get after update: %v, want %v", again, got)
		}
		if tt.args[0] == "--tag" {
			if ids := list("--tag", "site=berlin"); !slices.Equal(ids, []string{"sensor-1", "sensor-2"}) {
				t.Errorf("devices list --tag site=berlin after retagging: %q", ids)
			}
		}
	}

	if out := s.ok("devices", "delete", "sensor-1"); out != "Deleted device sensor-1.\n" {
		t.Errorf("devices delete: %q", out)
	}
	s.fails(1, `error: NotFound: device "sensor-1" not found`, "devices", "get", "sensor-1")
	if ids := list(); !slices.Equal(ids, []string{"sensor-2"}) {
		t.Errorf("devices list after delete: %q", ids)
	}

	var evs ingestgatev1.ListAuditEventsResponse
	s.json(&evs, "events", "list", "--device", "sensor-2")
	want := []string{"DEVICE_CREATED", "DEVICE_UPDATED", "DEVICE_UPDATED", "DEVICE_UPDATED"}
	if got := eventTypes(evs.GetEvents()); !slices.Equal(got, want) {
		t.Errorf("events of sensor-2: %q, want %q", got, want)
	}
	s.json(&evs, "events", "list", "--device", "sensor-1")
	if got := eventTypes(evs.GetEvents()); !slices.Equal(got, []string{"DEVICE_CREATED", "DEVICE_DELETED"}) {
		t.Errorf("events of sensor-1: %q", got)
	}
}

func TestCLIWorkspaces(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	got := fields(s.ok("workspaces", "create", "acme", "--name", "ACME production"))
	if got["ID"] != "acme" || got["Name"] != "ACME production" {
		t.Errorf("workspaces create: %v", got)
	}
	s.fails(1, `error: AlreadyExists: workspace "acme" already exists`, "workspaces", "create", "acme")

	var list ingestgatev1.ListWorkspacesResponse
	s.json(&list, "workspaces", "list")
	if len(list.GetWorkspaces()) != 2 || list.GetWorkspaces()[0].GetId() != "acme" || list.GetWorkspaces()[1].GetId() != "default" {
		t.Errorf("workspaces list: %v", &list)
	}
	if out := s.ok("workspaces", "list"); !slices.Equal(tableIDs(out), []string{"acme", "default"}) {
		t.Errorf("workspaces list (table):\n%s", out)
	}
	if got := fields(s.ok("workspaces", "update", "acme", "--name", "ACME prod")); got["Name"] != "ACME prod" {
		t.Errorf("workspaces update: %v", got)
	}
	var ws ingestgatev1.GetWorkspaceResponse
	if s.json(&ws, "workspaces", "get", "acme"); ws.GetWorkspace().GetDisplayName() != "ACME prod" {
		t.Errorf("workspaces get: %v", ws.GetWorkspace())
	}

	// The workspace comes from -w, else INGESTGATE_WORKSPACE, else default;
	// the flag beats the environment.
	inAcme := s.with(envWorkspace, "acme")
	key := fields(inAcme.ok("keys", "create", "--name", "in-acme"))
	if key["Workspace"] != "acme" {
		t.Errorf("keys create with %s=acme: workspace %q", envWorkspace, key["Workspace"])
	}
	inAcme.ok("keys", "get", key["ID"])
	s.ok("keys", "get", "-w", "acme", key["ID"])
	s.fails(1, fmt.Sprintf("error: NotFound: ingest key %q not found", key["ID"]), "keys", "get", key["ID"])
	inAcme.fails(1, fmt.Sprintf("error: NotFound: ingest key %q not found", key["ID"]), "keys", "get", "-w", "default", key["ID"])
	s.ok("devices", "create", "-w", "acme", "gw-1")
	if ids := tableIDs(inAcme.ok("devices", "list")); !slices.Equal(ids, []string{"gw-1"}) {
		t.Errorf("devices list in acme: %q", ids)
	}
	if ids := tableIDs(s.ok("devices", "list")); len(ids) != 0 {
		t.Errorf("devices list in default: %q", ids)
	}
	if out := inAcme.ok("events", "list", "--global"); !strings.Contains(out, "api_key_created") {
		t.Errorf("events list --global with %s set:\n%s", envWorkspace, out)
	}

	// Delete refuses a workspace that holds keys or devices unless --force.
	s.fails(1, `error: FailedPrecondition: workspace "acme" still holds ingest keys or devices; delete them first or set force`,
		"workspaces", "delete", "acme")
	if out := s.ok("workspaces", "delete", "acme", "--force"); out != "Deleted workspace acme.\n" {
		t.Errorf("workspaces delete --force: %q", out)
	}
	s.fails(1, `error: NotFound: workspace "acme" not found`, "workspaces", "get", "acme")
	s.fails(1, `error: NotFound: workspace "acme" not found`, "workspaces", "delete", "acme", "--force")
	if out := s.ok("workspaces", "list"); !slices.Equal(tableIDs(out), []string{"default"}) {
		t.Errorf("workspaces list after delete:\n%s", out)
	}
	s.fails(1, `error: NotFound: workspace "acme" not found`, "keys", "create", "-w", "acme", "--name", "late")

	// The audit log outlives the workspace (as workspaces delete --help says).
	var evs ingestgatev1.ListAuditEventsResponse
	s.json(&evs, "events", "list", "-w", "acme")
	want := []string{"WORKSPACE_CREATED", "WORKSPACE_UPDATED", "INGEST_KEY_CREATED", "DEVICE_CREATED", "WORKSPACE_DELETED"}
	if got := eventTypes(evs.GetEvents()); !slices.Equal(got, want) {
		t.Errorf("events of deleted workspace acme: %q, want %q", got, want)
	}
	// Created again, the workspace starts empty and continues the log.
	s.ok("workspaces", "create", "acme")
	if ids := tableIDs(s.ok("keys", "list", "-w", "acme")); len(ids) != 0 {
		t.Errorf("keys of re-created workspace: %q", ids)
	}
	s.json(&evs, "events", "list", "-w", "acme", "--after", "5")
	if got := evs.GetEvents(); len(got) != 1 || got[0].GetSequence() != 6 || got[0].GetType() != ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_CREATED {
		t.Errorf("events of re-created workspace after 5: %v", got)
	}
}

func TestCLIAPIKeys(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	var ik ingestgatev1.CreateIngestKeyResponse
	s.json(&ik, "keys", "create", "--name", "edge")
	ikID := ik.GetIngestKey().GetId()
	s.ok("workspaces", "create", "acme")

	created, readerSecret := secretOf(t, s.run("apikeys", "create", "--name", "ci-reader", "--permission", "keys:read"))
	readerID := created["ID"]
	if !strings.HasPrefix(readerID, "ak_") || created["Permissions"] != "keys:read" || created["Workspaces"] != "all" || created["Status"] != "active" {
		t.Errorf("apikeys create: %v", created)
	}

	// The new key, used through INGESTGATE_API_KEY, may read keys only.
	reader := s.with(envAPIKey, readerSecret)
	if ids := tableIDs(reader.ok("keys", "list")); !slices.Equal(ids, []string{ikID}) {
		t.Errorf("keys list as reader: %q", ids)
	}
	reader.ok("keys", "get", ikID)
	reader.ok("keys", "list", "-w", "acme")
	reader.ok("workspaces", "list") // any key may list the workspaces it can see
	for _, tt := range []struct {
		args []string
		perm string
	}{
		{[]string{"keys", "create", "--name", "nope"}, `keys:write on workspace "default"`},
		{[]string{"keys", "revoke", ikID}, `keys:write on workspace "default"`},
		{[]string{"devices", "list"}, `devices:read on workspace "default"`},
		{[]string{"events", "list"}, `events:read on workspace "default"`},
		{[]string{"events", "list", "--global"}, "admin"},
		{[]string{"apikeys", "list"}, "admin"},
		{[]string{"workspaces", "create", "other"}, "admin"},
	} {
		reader.fails(1, "error: PermissionDenied: Insufficient permissions: "+tt.perm+" is required", tt.args...)
	}
	if got := fields(s.ok("keys", "get", ikID)); got["Status"] != "active" {
		t.Errorf("the reader's refused revoke changed the key: %v", got)
	}

	// A key bound to one workspace acts only there.
	var scoped ingestgatev1.CreateApiKeyResponse
	r := s.json(&scoped, "apikeys", "create", "--name", "acme-ops", "--permission", "keys:read,keys:write", "--workspace-scope", "acme")
	checkJSONSecret(t, r, scoped.GetSecret(), scoped.GetApiKey().GetDisplayPrefix())
	if got := scoped.GetApiKey(); !slices.Equal(got.GetPermissions(), []string{"keys:read", "keys:write"}) || !slices.Equal(got.GetWorkspaceIds(), []string{"acme"}) {
		t.Errorf("apikeys create --workspace-scope: %v", got)
	}
	ops := s.with(envAPIKey, scoped.GetSecret())
	ops.ok("keys", "create", "-w", "acme", "--name", "acme-edge")
	ops.fails(1, `error: PermissionDenied: Insufficient permissions: keys:read on workspace "default" is required`, "keys", "list")
	if ids := tableIDs(ops.ok("workspaces", "list")); !slices.Equal(ids, []string{"acme"}) {
		t.Errorf("workspaces list as a key bound to acme: %q", ids)
	}
	s.fails(1, "error: InvalidArgument: permissions: admin applies to every workspace and cannot be bound to workspace_ids",
		"apikeys", "create", "--name", "x", "--permission", "admin", "--workspace-scope", "acme")

	var keys ingestgatev1.ListApiKeysResponse
	s.json(&keys, "apikeys", "list")
	if len(keys.GetApiKeys()) != 3 {
		t.Errorf("apikeys list: %v", &keys)
	}

	// Changes to the key take effect at once.
	if got := fields(s.ok("apikeys", "update", readerID, "--permission", "keys:read,keys:write")); got["Permissions"] != "keys:read, keys:write" {
		t.Errorf("apikeys update --permission: %v", got)
	}
	reader.ok("keys", "create", "--name", "by-reader")
	if got := fields(s.ok("apikeys", "deactivate", readerID)); got["Status"] != "inactive" {
		t.Errorf("apikeys deactivate: %v", got)
	}
	reader.fails(1, "error: Unauthenticated: Invalid credentials: api key inactive", "keys", "list")
	s.ok("apikeys", "activate", readerID)
	reader.ok("keys", "list")

	rotated, newSecret := secretOf(t, s.run("apikeys", "rotate", readerID))
	if rotated["Prefix"] == created["Prefix"] || newSecret == readerSecret {
		t.Errorf("apikeys rotate: %v", rotated)
	}
	reader.fails(1, "error: Unauthenticated: Invalid credentials", "keys", "list")
	reader = s.with(envAPIKey, newSecret)
	reader.ok("keys", "list")

	if got := fields(s.ok("apikeys", "revoke", readerID, "--reason", "offboarded")); got["Status"] != "revoked" || got["Revoke reason"] != "offboarded" {
		t.Errorf("apikeys revoke: %v", got)
	}
	reader.fails(1, "error: Unauthenticated: Invalid credentials: api key revoked", "keys", "list")
	s.fails(1, "error: FailedPrecondition: key is revoked; revocation is final, create a new key instead", "apikeys", "activate", readerID)
	if out := s.ok("apikeys", "delete", readerID); out != "Deleted API key "+readerID+".\n" {
		t.Errorf("apikeys delete: %q", out)
	}
	s.fails(1, fmt.Sprintf("error: NotFound: api key %q not found", readerID), "apikeys", "get", readerID)

	// API key events are in the global log.
	var evs ingestgatev1.ListAuditEventsResponse
	s.json(&evs, "events", "list", "--global")
	var got []string
	for _, e := range evs.GetEvents() {
		if e.GetApiKeyId() == readerID {
			got = append(got, strings.TrimPrefix(e.GetType().String(), "KEY_EVENT_TYPE_"))
		}
	}
	want := []string{"API_KEY_CREATED", "API_KEY_UPDATED", "API_KEY_DEACTIVATED", "API_KEY_ACTIVATED", "API_KEY_ROTATED", "API_KEY_REVOKED", "API_KEY_DELETED"}
	if !slices.Equal(got, want) {
		t.Errorf("global events of %s: %q, want %q", readerID, got, want)
	}
	out := s.ok("events", "list", "--global")
	if !strings.Contains(out, "api_key_revoked") || !strings.Contains(out, "api_key:"+readerID) || !strings.Contains(out, "offboarded") {
		t.Errorf("events list --global (table):\n%s", out)
	}
	if out := s.ok("events", "list"); strings.Contains(out, "api_key_") {
		t.Errorf("API key events in the workspace log:\n%s", out)
	}

	s.checkSecrets(readerSecret, scoped.GetSecret(), newSecret, ik.GetSecret())
}

func TestCLIConnectionAndUsageErrors(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	wrongKey, err := keystore.MustTokenFormat(keystore.DefaultAPIKeyPrefix).Generate()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := lis.Addr().String()
	lis.Close()

	tests := []struct {
		name   string
		env    map[string]string // overrides; "" unsets
		args   []string
		code   int
		stderr string // the first line, or its start when it ends in "…"
		called bool   // whether the node served a call
	}{
		{name: "ok", args: []string{"keys", "list"}, called: true},
		{name: "missing api key", env: map[string]string{envAPIKey: ""}, args: []string{"keys", "list"}, code: 2,
			stderr: "error: no API key: pass --api-key or set INGESTGATE_API_KEY"},
		{name: "blank api key", env: map[string]string{envAPIKey: " \n"}, args: []string{"keys", "list"}, code: 2,
			stderr: "error: no API key: pass --api-key or set INGESTGATE_API_KEY"},
		{name: "wrong api key", env: map[string]string{envAPIKey: wrongKey}, args: []string{"keys", "list"}, code: 1,
			stderr: "error: Unauthenticated: Invalid credentials", called: true},
		{name: "malformed api key", env: map[string]string{envAPIKey: "hunter2"}, args: []string{"workspaces", "list"}, code: 1,
			stderr: "error: Unauthenticated: Invalid credentials", called: true},
		{name: "api key flag beats env", env: map[string]string{envAPIKey: wrongKey}, args: []string{"keys", "list", "--api-key", s.node.AdminKey}, called: true},
		{name: "api key with trailing newline", env: map[string]string{envAPIKey: s.node.AdminKey + "\n"}, args: []string{"keys", "list"}, called: true},
		{name: "addr flag beats env", env: map[string]string{envAddr: closedAddr}, args: []string{"keys", "list", "--addr", s.node.GRPCAddr}, called: true},
		{name: "server down", env: map[string]string{envAddr: closedAddr}, args: []string{"keys", "list"}, code: 1, stderr: "error: Unavailable: …"},
		{name: "unknown flag", args: []string{"keys", "list", "--bogus"}, code: 2, stderr: "error: unknown flag: --bogus"},
		{name: "unknown subcommand", args: []string{"keys", "frobnicate"}, code: 2, stderr: `error: unknown command "frobnicate" for "ingestctl keys"`},
		{name: "missing id", args: []string{"keys", "get"}, code: 2, stderr: "error: missing argument ID"},
		{name: "missing name", args: []string{"keys", "create"}, code: 2, stderr: `error: required flag(s) "name" not set`},
		{name: "bad label", args: []string{"keys", "create", "--name", "n", "--label", "x"}, code: 2, stderr: `error: --label "x": want key=value`},
		{name: "nothing to update", args: []string{"keys", "update", "ik_01m82m803h7jb8a4a3dyxx1yn2"}, code: 2, stderr: "error: nothing to update: give at least one of …"},
		{name: "bad output", args: []string{"keys", "list", "-o", "yaml"}, code: 2, stderr: `error: --output must be table or json, not "yaml"`},
		{name: "empty workspace", args: []string{"keys", "list", "-w", ""}, code: 2, stderr: "error: --workspace must not be empty"},
		{name: "global with workspace", args: []string{"events", "list", "--global", "-w", "default"}, code: 2, stderr: "error: --global conflicts with --workspace"},
		{name: "bad grace", args: []string{"keys", "rotate", "ik_01m82m803h7jb8a4a3dyxx1yn2", "--grace", "1w"}, code: 2, stderr: `error: --grace "1w": want a duration such as 24h or 7d`},
		{name: "help", args: []string{"keys", "update", "--help"}},
		{name: "invalid argument from the server", args: []string{"keys", "get", "ik_1"}, code: 1, called: true,
			stderr: `error: InvalidArgument: ingest key id "ik_1" is malformed: want ik_ followed by 26 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.on(t)
			for k, v := range tt.env {
				c = c.with(k, v)
			}
			before := c.rpcs()
			r := c.run(tt.args...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			match := first == tt.stderr
			if prefix, ok := strings.CutSuffix(tt.stderr, "…"); ok {
				match = strings.HasPrefix(first, prefix)
			}
			if r.code != tt.code || !match {
				t.Errorf("exit %d, stderr %q; want exit %d, %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code != 0 && r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
			if tt.code == 2 && !strings.HasSuffix(r.stderr, " --help' for usage.\n") {
				t.Errorf("usage error without a pointer to --help: %q", r.stderr)
			}
			if tt.name == "help" && !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("--help printed %q", r.stdout)
			}
			if called := c.rpcs() > before; called != tt.called {
				t.Errorf("the server was called: %v, want %v", called, tt.called)
			}
		})
	}
}
