package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

const secretWarning = "Store this secret now: it will not be shown again."

// jsonOptions keeps field names as in the .proto files (snake_case), the
// same names the REST gateway and the docs use.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// emit prints one command's result: resp as a single JSON document, or the
// human rendering produced by table.
func (a *app) emit(resp proto.Message, table func(io.Writer) error) error {
	var err error
	if a.output == "json" {
		err = writeJSON(a.stdout, resp)
	} else {
		err = table(a.stdout)
	}
	if err != nil {
		return runtimeErrorf("write output: %w", err)
	}
	return nil
}

// emitSecret prints a create or rotate result, whose secret the server
// returns only this once. In table mode it goes last, alone on its line, so
// scripts can take it with `tail -n 1`; in JSON it is the response's
// `secret` field. Either way the warning goes to stderr, out of the data.
func (a *app) emitSecret(resp proto.Message, secret string, summary func(io.Writer) error) error {
	if err := a.emit(resp, summary); err != nil {
		return err
	}
	if secret == "" {
		return runtimeErrorf("the server returned no secret")
	}
	if a.output != "json" {
		if _, err := fmt.Fprintf(a.stdout, "\n%s\n", secret); err != nil {
			return runtimeErrorf("write output: %w", err)
		}
	}
	fmt.Fprintln(a.stderr, secretWarning)
	return nil
}

// writeJSON prints m indented. protojson deliberately varies its spacing
// between runs; re-indenting with encoding/json makes the output stable,
// which is kinder to diffs and line-based tools.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(w)
	return err
}

// writeTable prints rows under header, aligned in columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// field is one line of a detail view.
type field struct{ name, value string }

// writeFields prints one object as "Name:  value" lines.
func writeFields(w io.Writer, fields []field) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, cell(f.value))
	}
	return tw.Flush()
}

// showFields adapts a detail view to emit.
func showFields(fs []field) func(io.Writer) error {
	return func(w io.Writer) error { return writeFields(w, fs) }
}

// cell makes server-supplied text safe for one table cell: "-" when empty,
// and control characters (tabs, newlines, terminal escapes in a name typed
// by someone else) replaced so they cannot break the layout or the terminal.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// fmtMap renders labels or tags as "k=v, k=v", sorted for stable output.
func fmtMap(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func fmtStatus(s ingestgatev1.KeyStatus, expired bool) string {
	out := strings.ToLower(strings.TrimPrefix(s.String(), "KEY_STATUS_"))
	if s == ingestgatev1.KeyStatus_KEY_STATUS_UNSPECIFIED {
		out = ""
	}
	if expired {
		out += " (expired)"
	}
	return strings.TrimSpace(out)
}

// fmtScope describes which devices a key admits. The short form keeps the
// list table narrow; the detail view shows every id and tag.
func fmtScope(s *ingestgatev1.KeyScope, short bool) string {
	if s == nil || s.GetAllDevices() {
		return "all devices" // the server's default for an omitted scope
	}
	ids, tags := s.GetDeviceIds(), s.GetTags()
	if len(ids) == 0 && len(tags) == 0 {
		return "no devices"
	}
	var parts []string
	add := func(noun string, items []string) {
		switch {
		case len(items) == 0:
		case short && len(items) > 2:
			parts = append(parts, fmt.Sprintf("%d %ss", len(items), noun))
		default:
			parts = append(parts, noun+" "+strings.Join(items, ","))
		}
	}
	add("device", ids)
	add("tag", tags)
	return strings.Join(parts, "; ")
}

func fmtLimits(l *ingestgatev1.KeyLimits) string {
	n := func(v uint32) string {
		if v == 0 {
			return "default"
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("records/s %s, max streams %s", n(l.GetRecordsPerSecond()), n(l.GetMaxStreams()))
}

// revocationFields lists what ingest and API keys share once revoked or
// during a rotation's grace period; absent when not applicable.
func revocationFields(revoked *timestamppb.Timestamp, reason string, prevUntil *timestamppb.Timestamp, prevPrefix string) []field {
	var fs []field
	if revoked != nil {
		fs = append(fs, field{"Revoked", fmtTime(revoked)}, field{"Revoke reason", reason})
	}
	if prevUntil != nil {
		fs = append(fs, field{"Previous secret", prevPrefix + " valid until " + fmtTime(prevUntil)})
	}
	return fs
}
