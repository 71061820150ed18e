package keystore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/sqlite"
)

// countingStore counts lookups that reach the real store underneath.
type countingStore struct {
	keystore.Store
	finds atomic.Int64
	// afterFind, when set, runs once a lookup has read the store, before
	// it returns: a test holds a lookup there.
	afterFind func()
}

func (c *countingStore) FindIngestKeyByHash(ctx context.Context, h keystore.Hash) (keystore.IngestKey, error) {
	c.finds.Add(1)
	k, err := c.Store.FindIngestKeyByHash(ctx, h)
	if c.afterFind != nil {
		c.afterFind()
	}
	return k, err
}

type fixture struct {
	store  *countingStore
	v      *keystore.Verifier
	hasher keystore.Hasher
	format keystore.TokenFormat
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{
		store:  &countingStore{Store: st},
		hasher: keystore.NewHasher([]byte("pepper")),
		format: keystore.MustTokenFormat(keystore.DefaultIngestKeyPrefix),
		now:    time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
	}
	f.v = keystore.NewVerifier(f.store, f.hasher, f.format, keystore.MustTokenFormat(keystore.DefaultAPIKeyPrefix),
		keystore.VerifierConfig{Clock: func() time.Time { return f.now }})
	err = st.ReadWrite(context.Background(), func(ctx context.Context, tx keystore.Tx) error {
		return tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws", CreateTime: f.now, UpdateTime: f.now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// addKey stores an active key and returns it with its token.
func (f *fixture) addKey(t testing.TB, mod func(*keystore.IngestKey)) (keystore.IngestKey, string) {
	t.Helper()
	tok, err := f.format.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k := keystore.IngestKey{
		ID: keystore.NewID("ik_"), WorkspaceID: "ws", Name: "k", Scope: keystore.Scope{AllDevices: true},
		Credential: keystore.Credential{Hash: f.hasher.Hash(tok), DisplayPrefix: f.format.DisplayPrefix(tok), Status: keystore.StatusActive},
		CreateTime: f.now, UpdateTime: f.now,
	}
	if mod != nil {
		mod(&k)
	}
	f.write(t, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateIngestKey(ctx, k) })
	return k, tok
}

func (f *fixture) write(t testing.TB, fn func(ctx context.Context, tx keystore.Tx) error) {
	t.Helper()
	if err := f.store.ReadWrite(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func reason(err error) keystore.CredentialReason {
	var ce *keystore.CredentialError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return 0
}

func TestVerifyIngestKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, func(k *keystore.IngestKey) { k.ExpireTime = f.now.Add(time.Hour) })

	got, err := f.v.VerifyIngestKey(ctx, tok)
	if err != nil || got.ID != k.ID {
		t.Fatalf("verify: %v %v", got.ID, err)
	}
	for range 5 {
		if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.finds.Load(); n != 1 {
		t.Fatalf("%d store lookups for 6 verifications, want 1 (cached)", n)
	}

	// Expiry is judged on the cached entry.
	f.now = f.now.Add(time.Hour)
	if _, err := f.v.VerifyIngestKey(ctx, tok); reason(err) != keystore.ReasonExpired || !errors.Is(err, keystore.ErrInvalidCredential) {
		t.Fatalf("after expiry: %v", err)
	}

	// Garbage never reaches the store; an unknown well-formed token reaches
	// it once, then the negative cache answers.
	before := f.store.finds.Load()
	typo := tok[:len(tok)-1] + "x"
	if typo == tok { // the last character was already x: change it for real
		typo = tok[:len(tok)-1] + "y"
	}
	if _, err := f.v.VerifyIngestKey(ctx, typo); reason(err) != keystore.ReasonMalformed {
		t.Fatalf("typo: %v", err)
	}
	unknown, _ := f.format.Generate()
	for range 3 {
		if _, err := f.v.VerifyIngestKey(ctx, unknown); reason(err) != keystore.ReasonUnknown {
			t.Fatalf("unknown: %v", err)
		}
	}
	if n := f.store.finds.Load() - before; n != 1 {
		t.Fatalf("%d lookups for garbage and 3 unknown tokens, want 1", n)
	}

	// The counters say the same: 1 miss then 5 hits for the key, a miss
	// an hour later (past the cache's TTL), 1 miss then 2 negative hits
	// for the unknown token, nothing for the malformed one.
	ik, ak := f.v.Stats()
	if want := (keystore.CacheStats{Hits: 5, NegativeHits: 2, Misses: 3}); ik != want {
		t.Errorf("ingest key cache stats %+v, want %+v", ik, want)
	}
	if ak != (keystore.CacheStats{}) {
		t.Errorf("api key cache stats %+v, want none", ak)
	}
}

// A change committed to the store takes effect once the cache is told.
func TestVerifyForgetAndRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, old := f.addKey(t, nil)
	if _, err := f.v.VerifyIngestKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	newTok, _ := f.format.Generate()
	f.write(t, func(ctx context.Context, tx keystore.Tx) error {
		k, err := tx.GetIngestKey(ctx, "ws", k.ID)
		if err != nil {
			return err
		}
		if err := k.Rotate(f.hasher.Hash(newTok), f.format.DisplayPrefix(newTok), time.Minute, f.now); err != nil {
			return err
		}
		return tx.UpdateIngestKey(ctx, k)
	})
	f.v.ForgetIngestKey(k.ID)
	for name, tok := range map[string]string{"old in grace": old, "new": newTok} {
		if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	f.now = f.now.Add(time.Minute)
	if _, err := f.v.VerifyIngestKey(ctx, old); reason(err) != keystore.ReasonSecretRetired {
		t.Fatalf("old after grace: %v", err)
	}
	if _, err := f.v.VerifyIngestKey(ctx, newTok); err != nil {
		t.Fatalf("new after grace: %v", err)
	}

	f.write(t, func(ctx context.Context, tx keystore.Tx) error {
		k, err := tx.GetIngestKey(ctx, "ws", k.ID)
		if err != nil {
			return err
		}
		if err := k.Revoke("test", f.now); err != nil {
			return err
		}
		return tx.UpdateIngestKey(ctx, k)
	})
	f.v.ForgetIngestKey(k.ID)
	if _, err := f.v.VerifyIngestKey(ctx, newTok); reason(err) != keystore.ReasonRevoked {
		t.Fatalf("after revoke: %v", err)
	}
}

// VerifyIngestKeyHash returns the token's Hash (what a live stream is
// checked with later) from the store's lookup and from the cache alike;
// a token differing in its checksum is malformed even once the real one
// is cached.
func TestVerifyIngestKeyHash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, nil)
	for _, what := range []string{"miss", "hit"} {
		got, h, err := f.v.VerifyIngestKeyHash(ctx, tok)
		if err != nil || got.ID != k.ID || h != f.hasher.Hash(tok) {
			t.Fatalf("%s: key %q, hash %x, %v; want %q and the token's hash", what, got.ID, h, err, k.ID)
		}
	}
	if n := f.store.finds.Load(); n != 1 {
		t.Fatalf("%d store lookups, want 1", n)
	}
	bad := tok[:len(tok)-1] + "a"
	if strings.HasSuffix(tok, "a") {
		bad = tok[:len(tok)-1] + "b"
	}
	if _, err := f.v.VerifyIngestKey(ctx, bad); reason(err) != keystore.ReasonMalformed {
		t.Fatalf("token with a wrong checksum: %v, want malformed", err)
	}
}

// BenchmarkVerifyIngestKeyCached is the hot path of every device connect:
// checksum, HMAC, cache hit, status and expiry check.
func BenchmarkVerifyIngestKeyCached(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	var toks []string
	for range 1000 {
		_, tok := f.addKey(b, nil)
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// What a device's connect calls (server/devauth.go).
		if _, _, err := f.v.VerifyIngestKeyHash(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if n := f.store.finds.Load(); n != int64(len(toks)) {
		b.Fatalf("%d store lookups, want %d: the benchmark missed the cache", n, len(toks))
	}
}

// BenchmarkVerifyMalformed: a flood of garbage costs a checksum, no more.
func BenchmarkVerifyMalformed(b *testing.B) {
	f := newFixture(b)
	tok, _ := f.format.Generate()
	bad := tok[:len(tok)-1] + "x"
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.v.VerifyIngestKey(context.Background(), bad)
	}
}

// ForgetAll drops every cached answer: after it, a change the cache was
// never told of (a missed event) is seen.
func TestVerifyForgetAll(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, nil)
	if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.write(t, func(ctx context.Context, tx keystore.Tx) error {
		k, err := tx.GetIngestKey(ctx, "ws", k.ID)
		if err != nil {
			return err
		}
		if err := k.Revoke("missed", f.now); err != nil {
			return err
		}
		return tx.UpdateIngestKey(ctx, k)
	})
	if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
		t.Fatalf("before ForgetAll the cache still answers: %v", err)
	}
	f.v.ForgetAll()
	if _, err := f.v.VerifyIngestKey(ctx, tok); reason(err) != keystore.ReasonRevoked {
		t.Fatalf("after ForgetAll: %v", err)
	}
}

// ForgetWorkspace drops the cached keys of one workspace and keeps the
// others': a key deleted with its workspace is refused at once.
func TestVerifyForgetWorkspace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.write(t, func(ctx context.Context, tx keystore.Tx) error {
		return tx.CreateWorkspace(ctx, keystore.Workspace{ID: "other", CreateTime: f.now, UpdateTime: f.now})
	})
	_, doomed := f.addKey(t, nil)
	_, kept := f.addKey(t, func(k *keystore.IngestKey) { k.WorkspaceID = "other" })
	for _, tok := range []string{doomed, kept} {
		if _, err := f.v.VerifyIngestKey(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	f.write(t, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws", true) })
	before := f.store.finds.Load()
	f.v.ForgetWorkspace("ws")
	if _, err := f.v.VerifyIngestKey(ctx, doomed); reason(err) != keystore.ReasonUnknown {
		t.Fatalf("key of the deleted workspace: %v", err)
	}
	if _, err := f.v.VerifyIngestKey(ctx, kept); err != nil {
		t.Fatalf("key of another workspace: %v", err)
	}
	if n := f.store.finds.Load() - before; n != 1 {
		t.Fatalf("%d store lookups, want 1: the other workspace's key stays cached", n)
	}
}

// IngestKeyGeneration changes with every kind of forget and stays put
// otherwise: a server skips reading a key again at stream open only while
// it is unchanged, so a forget that left it alone would let a stale key in.
func TestIngestKeyGeneration(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, nil)
	verify := func() {
		t.Helper()
		if _, _, err := f.v.VerifyIngestKeyHash(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	for _, c := range []struct {
		name   string
		forget func()
	}{
		{"ForgetIngestKey", func() { f.v.ForgetIngestKey(k.ID) }},
		{"ForgetIngestKey of a key not cached", func() { f.v.ForgetIngestKey("ik_other") }},
		{"ForgetWorkspace", func() { f.v.ForgetWorkspace("ws") }},
		{"ForgetAll", f.v.ForgetAll},
	} {
		verify()
		g := f.v.IngestKeyGeneration()
		verify() // a cache hit
		f.v.ForgetAPIKey("ak_x")
		if f.v.IngestKeyGeneration() != g {
			t.Fatalf("before %s: the generation moved without an ingest key forgotten", c.name)
		}
		c.forget()
		if f.v.IngestKeyGeneration() == g {
			t.Errorf("%s left the generation unchanged", c.name)
		}
	}
}

// A lookup that read the store before a forget and returns after it may
// hand out the key as it was: it must not cache it, and it must move the
// generation on, or a caller that read the generation after the forget
// (and joined that lookup) would take the old key as current.
func TestIngestKeyGenerationAfterAStaleLookup(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, nil)
	read, release := make(chan struct{}), make(chan struct{})
	f.store.afterFind = func() { close(read); <-release }
	done := make(chan error)
	go func() {
		_, _, err := f.v.VerifyIngestKeyHash(ctx, tok)
		done <- err
	}()
	<-read // the lookup has read the key, active
	f.v.ForgetIngestKey(k.ID)
	g := f.v.IngestKeyGeneration()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.v.IngestKeyGeneration() == g {
		t.Fatal("a lookup that read the store before a forget returned after it without changing the generation")
	}
	f.store.afterFind = nil
	if _, _, err := f.v.VerifyIngestKeyHash(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := f.store.finds.Load(); n != 2 {
		t.Fatalf("%d store lookups, want 2: the stale lookup's result was cached", n)
	}
}
