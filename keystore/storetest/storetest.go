// Package storetest is the conformance suite for keystore.Store backends.
// A backend's tests call Run with a factory for fresh, empty stores; every
// rule documented on keystore.Store, Reader and Tx has a subtest here, so a
// backend that passes can replace another without the server noticing.
//
// The factory is called once per subtest that writes (read-only table
// cases share their parent's store), never concurrently, and must return
// an isolated, empty store; register its cleanup with t.Cleanup.
//
// Where store.go leaves room, the suite pins down what the server relies
// on:
//   - Page.After is exclusive and follows the list order: for the lists
//     ordered newest first (ingest and API keys) it means ids below After.
//   - Lists never return ErrNotFound; an unknown workspace lists nothing.
//   - Ids sort in byte order. Device ids are unique per workspace only.
//   - Label and tag filters match keys and values exactly; NameContains
//     folds ASCII case and treats '%' and '_' literally, as IDPrefix does.
//   - AppendEvent ignores a caller-set Sequence and returns the event as a
//     read would return it. A rolled-back append does not use up a
//     sequence, and readers never see a later sequence before an earlier.
//   - Times are compared with reflect.DeepEqual, so they must come back in
//     time.UTC, not an equal instant in another location.
//   - A panic in a ReadWrite callback may either propagate after rollback
//     or come back as an error; the suite accepts both and checks that
//     nothing was written and the store stays usable.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// Factory returns a fresh, empty store for one subtest.
type Factory = func(t *testing.T) keystore.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) keystore.Store) {
	t.Run("Workspaces", func(t *testing.T) { testWorkspaces(t, newStore) })
	t.Run("IngestKeys", func(t *testing.T) { testIngestKeys(t, newStore) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, newStore) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, newStore) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Memberships", func(t *testing.T) { testMemberships(t, newStore) })
	t.Run("RefreshTokens", func(t *testing.T) { testRefreshTokens(t, newStore) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, newStore) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, newStore) })
	t.Run("Transactions", func(t *testing.T) { testTransactions(t, newStore) })
}

// errBoom is what callbacks return to force a rollback.
var errBoom = errors.New("storetest: boom")

// write runs fn in a transaction and fails the test if it does not commit.
func write(t *testing.T, s keystore.Store, fn func(ctx context.Context, tx keystore.Tx) error) {
	t.Helper()
	if err := s.ReadWrite(t.Context(), fn); err != nil {
		t.Fatalf("ReadWrite: %v", err)
	}
}

// tryWrite runs fn in a transaction and returns ReadWrite's error.
func tryWrite(t *testing.T, s keystore.Store, fn func(ctx context.Context, tx keystore.Tx) error) error {
	t.Helper()
	return s.ReadWrite(t.Context(), fn)
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want errors.Is(err, %q)", what, err, target)
	}
}

// noErr fails on any error.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal compares with reflect.DeepEqual, which also compares time.Time
// locations, and names the fields that differ.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); len(d) > 0 {
		t.Fatalf("%s: mismatch:\n%s", what, strings.Join(d, "\n"))
	}
}

// diff walks structs (not time.Time) and slices of structs so a failure
// names the field instead of dumping two whole records.
func diff(got, want reflect.Value, path string) []string {
	if got.Type() == reflect.TypeFor[time.Time]() {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !reflect.DeepEqual(g, w) {
			return []string{fmt.Sprintf("  %s: got %s (%v), want %s (%v)", path, g.Format(time.RFC3339Nano), g.Location(), w.Format(time.RFC3339Nano), w.Location())}
		}
		return nil
	}
	switch got.Kind() {
	case reflect.Struct:
		var out []string
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if !f.IsExported() {
				if !reflect.DeepEqual(got.Interface(), want.Interface()) {
					return []string{fmt.Sprintf("  %s: got %+v, want %+v", path, got, want)}
				}
				return nil
			}
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+f.Name)...)
		}
		return out
	case reflect.Slice:
		if got.IsNil() != want.IsNil() || got.Len() != want.Len() {
			return []string{fmt.Sprintf("  %s: got %#v, want %#v", path, got.Interface(), want.Interface())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("  %s: got %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}

// pageThrough lists everything with pages of limit records, following
// Page.After, and checks page sizes on the way.
func pageThrough[T any](t *testing.T, limit, total int, list func(p keystore.Page) ([]T, error), id func(T) string) []string {
	t.Helper()
	var ids []string
	p := keystore.Page{Limit: limit}
	for range total + 2 {
		got, err := list(p)
		noErr(t, fmt.Sprintf("list page after %q limit %d", p.After, limit), err)
		if len(got) > limit {
			t.Fatalf("page after %q: %d records, limit %d", p.After, len(got), limit)
		}
		for _, r := range got {
			ids = append(ids, id(r))
		}
		if len(got) < limit {
			return ids
		}
		p.After = id(got[len(got)-1])
	}
	t.Fatalf("paging with limit %d did not end after %d pages; ids so far %v", limit, total+2, ids)
	return nil
}

// idsOf maps records to their ids, keeping order.
func idsOf[T any](rs []T, id func(T) string) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, id(r))
	}
	return out
}

// sortedIDs returns ids sorted ascending (byte order), or descending.
func sortedIDs(ids []string, desc bool) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	if desc {
		slices.Reverse(out)
	}
	return out
}

// equalIDs compares id lists, treating nil and empty alike.
func equalIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n  got  %v\n  want %v", what, got, want)
	}
}

// shuffled returns a fixed permutation of xs so records are not inserted in
// id order: a backend that returns insertion order fails the order checks.
func shuffled[T any](xs []T) []T {
	out := make([]T, 0, len(xs))
	for i := len(xs) - 1; i >= 0; i -= 2 {
		out = append(out, xs[i])
	}
	for i := len(xs) - 2; i >= 0; i -= 2 {
		out = append(out, xs[i])
	}
	return out
}
