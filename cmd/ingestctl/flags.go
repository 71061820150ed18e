package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// splitKV splits one key=value flag value at its first '='. Only the shape
// is checked here; the server enforces the character sets and lengths.
func splitKV(flag, s string, needValue bool) (k, v string, err error) {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return "", "", fmt.Errorf("--%s %q: want key=value", flag, s)
	case k == "":
		return "", "", fmt.Errorf("--%s %q: empty key", flag, s)
	case strings.ContainsFunc(k, unicode.IsSpace):
		return "", "", fmt.Errorf("--%s %q: key contains a space", flag, s)
	case needValue && v == "":
		return "", "", fmt.Errorf("--%s %q: empty value", flag, s)
	}
	return k, v, nil
}

// parseKVMap parses repeated key=value flags into a map (labels, device
// tags), refusing a key given twice rather than silently keeping one.
func parseKVMap(flag string, vals []string, needValue bool) (map[string]string, error) {
	m := make(map[string]string, len(vals))
	for _, s := range vals {
		k, v, err := splitKV(flag, s, needValue)
		if err != nil {
			return nil, err
		}
		if old, dup := m[k]; dup {
			return nil, fmt.Errorf("--%s: key %q given twice (%s=%s and %s)", flag, k, k, old, s)
		}
		m[k] = v
	}
	return m, nil
}

// parseKVList checks repeated key=value flags kept as strings: a key's scope
// tags and list filters. The same key may repeat there (env=prod,
// env=staging), since those are alternatives, not a map.
func parseKVList(flag string, vals []string) ([]string, error) {
	for _, s := range vals {
		if _, _, err := splitKV(flag, s, true); err != nil {
			return nil, err
		}
	}
	return slices.Clone(vals), nil
}

// parseList reads a repeatable flag whose values may also be
// comma-separated (ids, permissions). An empty item is an error rather than
// nothing: `--device "$UNSET"` must not widen a key to every device.
func parseList(flag string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				return nil, fmt.Errorf("--%s %q: empty value", flag, v)
			}
			out = append(out, item)
		}
	}
	return out, nil
}

// parseDuration is time.ParseDuration plus whole days ("30d"), the natural
// unit for expiry and grace periods.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// parseExpiry reads --expires: an RFC 3339 time, a date (midnight UTC) or a
// duration from now. A time already past is refused: it would create a key
// that never works, which is surely a typo.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = v
	} else if v, err := time.Parse(time.DateOnly, s); err == nil {
		t = v
	} else if d, err := parseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--expires %q: duration must be positive", s)
		}
		t = now.Add(d).Truncate(time.Second)
	} else {
		return time.Time{}, fmt.Errorf("--expires %q: want an RFC 3339 time (2030-01-02T15:04:05Z), a date (2030-01-02) or a duration from now (720h, 30d)", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("--expires %q: %s is in the past", s, t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// parseGrace reads --grace for rotations; zero means the old secret stops
// working at once.
func parseGrace(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--grace %q: want a duration such as 24h or 7d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("--grace %q: must not be negative", s)
	}
	return d, nil
}

func parseStatus(s string) (ingestgatev1.KeyStatus, error) {
	switch strings.ToLower(s) {
	case "":
		return ingestgatev1.KeyStatus_KEY_STATUS_UNSPECIFIED, nil
	case "active":
		return ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE, nil
	case "inactive":
		return ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE, nil
	case "revoked":
		return ingestgatev1.KeyStatus_KEY_STATUS_REVOKED, nil
	}
	return 0, fmt.Errorf("--status %q: want active, inactive or revoked", s)
}

// maskBuilder collects update_mask paths from the flags actually given, so
// an update touches exactly what the user named and nothing else.
type maskBuilder struct {
	paths []string
}

// add records path when given is true and reports given, so callers can
// write `if m.add("name", fs.Changed("name")) { ... }`. Bool flags pass
// their value, not Changed: --clear-labels=false must not clear anything.
func (m *maskBuilder) add(path string, given bool) bool {
	if given && !slices.Contains(m.paths, path) {
		m.paths = append(m.paths, path)
	}
	return given
}

// mask returns the field mask, or a usage error naming the flags that
// could have been given when none were.
func (m *maskBuilder) mask(updatable ...string) (*fieldmaskpb.FieldMask, error) {
	if len(m.paths) == 0 {
		return nil, fmt.Errorf("nothing to update: give at least one of --%s", strings.Join(updatable, ", --"))
	}
	return &fieldmaskpb.FieldMask{Paths: m.paths}, nil
}

// pageFlags are the paging flags every list command shares.
type pageFlags struct {
	size  int32
	token string
	all   bool
}

func (p *pageFlags) register(fs *pflag.FlagSet) {
	fs.Int32Var(&p.size, "page-size", 0, "results per page (0: the server's default)")
	fs.StringVar(&p.token, "page-token", "", "continue from this page token (printed by the previous page)")
	fs.BoolVar(&p.all, "all", false, "fetch every page")
}

type listResponse interface {
	proto.Message
	GetNextPageToken() string
}

// listPages fetches one page, or with --all every page merged into the
// first response (proto.Merge appends repeated fields), so the output is
// still one document shaped like the List response.
func listPages[R listResponse](ctx context.Context, p pageFlags, fetch func(ctx context.Context, size int32, token string) (R, error)) (R, error) {
	var zero R
	if p.size < 0 {
		return zero, errors.New("--page-size must not be negative")
	}
	resp, err := fetch(ctx, p.size, p.token)
	if err != nil || !p.all {
		return resp, err
	}
	resp = proto.CloneOf(resp) // merge into a copy, not into what fetch returned
	seen := map[string]bool{}
	for tok := resp.GetNextPageToken(); tok != ""; {
		if seen[tok] { // a server bug must not loop forever
			return zero, runtimeErrorf("server returned page token %q twice", tok)
		}
		seen[tok] = true
		page, err := fetch(ctx, p.size, tok)
		if err != nil {
			return zero, err
		}
		proto.Merge(resp, page)
		tok = page.GetNextPageToken()
	}
	// Merge keeps the last non-empty token; the merged result has no next page.
	m := resp.ProtoReflect()
	if fd := m.Descriptor().Fields().ByName("next_page_token"); fd != nil {
		m.Clear(fd)
	}
	return resp, nil
}

// emitList prints a List response and, in table mode, where the next page
// starts (on stderr, so the table itself stays clean for pipes).
func (a *app) emitList(resp listResponse, header []string, rows [][]string) error {
	if err := a.emit(resp, func(w io.Writer) error { return writeTable(w, header, rows) }); err != nil {
		return err
	}
	if tok := resp.GetNextPageToken(); tok != "" && a.output != "json" {
		fmt.Fprintf(a.stderr, "More results: --page-token %s (or --all)\n", tok)
	}
	return nil
}
