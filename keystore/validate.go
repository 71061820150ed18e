package keystore

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Bounds on input; every one is checked before anything is stored.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	MaxReasonLen      = 500
	MaxLabels         = 32
	MaxLabelKeyLen    = 63
	MaxLabelValueLen  = 256
	MaxScopeDeviceIDs = 1000
	MaxScopeTags      = 100
	MaxDeviceIDLen    = 128
	MaxGracePeriod    = 30 * 24 * time.Hour
	MaxRecordsPerSec  = 1_000_000
	MaxStreamsPerKey  = 100_000
)

// NewID returns a new time-ordered id with a type prefix such as "ik_", so
// that sorting ids sorts by creation time.
func NewID(prefix string) string {
	return prefix + strings.ToLower(ulid.Make().String())
}

// ValidateWorkspaceID: 2-63 characters of [a-z0-9-], starting with a letter.
func ValidateWorkspaceID(id string) error {
	if len(id) < 2 || len(id) > 63 || id[0] < 'a' || id[0] > 'z' {
		return invalid("workspace id %q: want 2-63 characters of a-z, 0-9 and '-', starting with a letter", clip(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return invalid("workspace id %q: want 2-63 characters of a-z, 0-9 and '-', starting with a letter", clip(id))
		}
	}
	return nil
}

// ValidateDeviceID: 1-128 characters of [A-Za-z0-9._:-].
func ValidateDeviceID(id string) error {
	if id == "" || len(id) > MaxDeviceIDLen {
		return invalid("device id %q: want 1-%d characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'", clip(id), MaxDeviceIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return invalid("device id %q: want 1-%d characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'", clip(id), MaxDeviceIDLen)
		}
	}
	return nil
}

// ValidateRecordID checks the shape of a server-assigned id ("ik_…",
// "ak_…") so garbage is refused before it reaches the store.
func ValidateRecordID(what, prefix, id string) error {
	if !strings.HasPrefix(id, prefix) || len(id) != len(prefix)+26 {
		return invalid("%s id %q is malformed: want %s followed by 26 characters", what, clip(id), prefix)
	}
	for i := len(prefix); i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return invalid("%s id %q is malformed", what, clip(id))
		}
	}
	return nil
}

// ValidateText checks a free-text field: valid UTF-8, no control characters,
// at most max bytes, and present when required.
func ValidateText(field, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return invalid("%s is required", field)
	}
	if len(s) > max {
		return invalid("%s is %d bytes long; at most %d are allowed", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid("%s contains a control character", field)
		}
	}
	return nil
}

// ValidateLabels checks labels (on keys) or tags (on devices).
func ValidateLabels(field string, m map[string]string) error {
	if len(m) > MaxLabels {
		return invalid("%s: %d entries; at most %d are allowed", field, len(m), MaxLabels)
	}
	for k, v := range m {
		if err := validateLabelKey(field, k); err != nil {
			return err
		}
		if v == "" {
			return invalid("%s %q: value is empty", field, k)
		}
		if err := ValidateText(field+" "+k, v, MaxLabelValueLen, false); err != nil {
			return err
		}
	}
	return nil
}

func validateLabelKey(field, k string) error {
	if k == "" || len(k) > MaxLabelKeyLen {
		return invalid("%s key %q: want 1-%d characters of a-z, 0-9, '_', '.' and '-'", field, clip(k), MaxLabelKeyLen)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return invalid("%s key %q: want 1-%d characters of a-z, 0-9, '_', '.' and '-'", field, clip(k), MaxLabelKeyLen)
		}
	}
	return nil
}

// ParseTag parses `key=value`.
func ParseTag(s string) (Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Tag{}, invalid("tag %q: want key=value", clip(s))
	}
	if err := ValidateLabels("tag", map[string]string{k: v}); err != nil {
		return Tag{}, err
	}
	return Tag{Key: k, Value: v}, nil
}

// ParseTags parses a list of `key=value` strings.
func ParseTags(ss []string) ([]Tag, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	tags := make([]Tag, 0, len(ss))
	for _, s := range ss {
		t, err := ParseTag(s)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// NormalizeScope validates a scope and removes duplicates. An empty scope is
// refused: it would admit no device, which is never what the caller meant.
func NormalizeScope(s Scope) (Scope, error) {
	if s.AllDevices {
		if len(s.DeviceIDs) > 0 || len(s.Tags) > 0 {
			return Scope{}, invalid("scope: all_devices cannot be combined with device_ids or tags")
		}
		return Scope{AllDevices: true}, nil
	}
	if len(s.DeviceIDs) == 0 && len(s.Tags) == 0 {
		return Scope{}, invalid("scope: set all_devices, or list device_ids and/or tags")
	}
	if len(s.DeviceIDs) > MaxScopeDeviceIDs {
		return Scope{}, invalid("scope: %d device ids; at most %d are allowed", len(s.DeviceIDs), MaxScopeDeviceIDs)
	}
	if len(s.Tags) > MaxScopeTags {
		return Scope{}, invalid("scope: %d tags; at most %d are allowed", len(s.Tags), MaxScopeTags)
	}
	for _, id := range s.DeviceIDs {
		if err := ValidateDeviceID(id); err != nil {
			return Scope{}, err
		}
	}
	for _, t := range s.Tags {
		if err := ValidateLabels("tag", map[string]string{t.Key: t.Value}); err != nil {
			return Scope{}, err
		}
	}
	out := Scope{DeviceIDs: slices.Clone(s.DeviceIDs), Tags: slices.Clone(s.Tags)}
	slices.Sort(out.DeviceIDs)
	out.DeviceIDs = slices.Compact(out.DeviceIDs)
	slices.SortFunc(out.Tags, func(a, b Tag) int { return strings.Compare(a.String(), b.String()) })
	out.Tags = slices.Compact(out.Tags)
	return out, nil
}

// ValidateLimits bounds per-key limits.
func ValidateLimits(l Limits) error {
	if l.RecordsPerSecond > MaxRecordsPerSec {
		return invalid("limits.records_per_second: at most %d", MaxRecordsPerSec)
	}
	if l.MaxStreams > MaxStreamsPerKey {
		return invalid("limits.max_streams: at most %d", MaxStreamsPerKey)
	}
	return nil
}

// ValidateExpiry refuses an expiry that is not in the future.
func ValidateExpiry(t, now time.Time) error {
	if !t.IsZero() && !t.After(now) {
		return invalid("expire_time %s is not in the future", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// ValidateGrace bounds a rotation grace period.
func ValidateGrace(d time.Duration) error {
	if d < 0 || d > MaxGracePeriod {
		return invalid("grace_period must be between 0 and %s", MaxGracePeriod)
	}
	return nil
}

// ValidatePermissions parses permission names and checks they fit the
// workspace binding: `admin` is global, so it cannot be bound to workspaces.
func ValidatePermissions(names []string, workspaceIDs []string) ([]Permission, error) {
	if len(names) == 0 {
		return nil, invalid("permissions: at least one is required")
	}
	perms := make([]Permission, 0, len(names))
	for _, n := range names {
		p, err := ParsePermission(n)
		if err != nil {
			return nil, err
		}
		perms = append(perms, p)
	}
	slices.Sort(perms)
	perms = slices.Compact(perms)
	if len(workspaceIDs) > 0 && slices.Contains(perms, PermAdmin) {
		return nil, invalid("permissions: admin applies to every workspace and cannot be bound to workspace_ids")
	}
	for _, ws := range workspaceIDs {
		if err := ValidateWorkspaceID(ws); err != nil {
			return nil, err
		}
	}
	return perms, nil
}

// clip shortens echoed input so an error message stays bounded.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
