package keystore

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// ErrInvalidCredential is returned for every token that does not grant
// access; errors.As with *CredentialError tells why.
var ErrInvalidCredential = errors.New("invalid credentials")

// CredentialReason says why a token was refused.
type CredentialReason int

const (
	ReasonMalformed     CredentialReason = iota + 1 // fails the format or checksum
	ReasonUnknown                                   // no key has this secret
	ReasonInactive                                  // key deactivated
	ReasonRevoked                                   // key revoked
	ReasonExpired                                   // key past its expire_time
	ReasonSecretRetired                             // previous secret past its grace period
)

var reasonText = map[CredentialReason]string{
	ReasonMalformed:     "malformed",
	ReasonUnknown:       "unknown",
	ReasonInactive:      "inactive",
	ReasonRevoked:       "revoked",
	ReasonExpired:       "expired",
	ReasonSecretRetired: "secret_retired",
}

// String is a low-cardinality label, fit for logs and metrics.
func (r CredentialReason) String() string { return reasonText[r] }

// CredentialError is an ErrInvalidCredential with its reason. It never holds
// the token.
type CredentialError struct {
	Reason CredentialReason
	// KeyID and DisplayPrefix are set when the key was found.
	KeyID         string
	DisplayPrefix string
}

func (e *CredentialError) Error() string { return "invalid credentials: " + e.Reason.String() }
func (e *CredentialError) Unwrap() error { return ErrInvalidCredential }

// VerifierConfig sizes the caches. Zero values take the defaults.
type VerifierConfig struct {
	// PositiveTTL bounds how long a cached key is trusted without an
	// invalidation; events normally drop it much sooner.
	PositiveTTL  time.Duration
	PositiveSize int
	// NegativeTTL and NegativeSize bound the memory of unknown secrets, so a
	// flood of made-up tokens that pass the checksum reaches the store once
	// per token per NegativeTTL at most.
	NegativeTTL  time.Duration
	NegativeSize int
	// Clock defaults to time.Now; tests move it.
	Clock func() time.Time
}

func (c VerifierConfig) withDefaults() VerifierConfig {
	if c.PositiveTTL == 0 {
		c.PositiveTTL = time.Minute
	}
	if c.PositiveSize == 0 {
		c.PositiveSize = 100_000
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = 10 * time.Second
	}
	if c.NegativeSize == 0 {
		c.NegativeSize = 100_000
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Verifier checks ingest keys and API keys: format and checksum first (no
// hashing, no lookup), then the hash against a cache, then the store. Status,
// expiry and the rotation grace period are judged on every call, so a cached
// key still expires on time.
type Verifier struct {
	store  Reader
	hasher Hasher
	ingest TokenFormat
	api    TokenFormat
	now    func() time.Time

	ingestKeys *credCache[IngestKey]
	apiKeys    *credCache[APIKey]
}

// NewVerifier builds a verifier over store.
func NewVerifier(store Reader, hasher Hasher, ingest, api TokenFormat, cfg VerifierConfig) *Verifier {
	cfg = cfg.withDefaults()
	return &Verifier{
		store: store, hasher: hasher, ingest: ingest, api: api, now: cfg.Clock,
		ingestKeys: newCredCache(cfg, hasher, func(k *IngestKey) (string, *Credential) { return k.ID, &k.Credential }),
		apiKeys:    newCredCache(cfg, hasher, func(k *APIKey) (string, *Credential) { return k.ID, &k.Credential }),
	}
}

// VerifyIngestKey returns the key a device token belongs to, if it grants
// access now. It does not check the device scope.
func (v *Verifier) VerifyIngestKey(ctx context.Context, token string) (IngestKey, error) {
	k, _, err := v.VerifyIngestKeyHash(ctx, token)
	if k == nil {
		return IngestKey{}, err
	}
	return *k, err
}

// VerifyIngestKeyHash is VerifyIngestKey for the hot path. It returns the
// key as the cache holds it, without a copy: shared with every caller, so
// it must not be modified. It also returns the token's Hash, which
// Credential.Check takes on a live stream: from the cache, a hit costs no
// hashing with the pepper. The key is nil when none was found.
func (v *Verifier) VerifyIngestKeyHash(ctx context.Context, token string) (*IngestKey, Hash, error) {
	return v.ingestKeys.verify(ctx, v.ingest, token, v.now(), v.store.FindIngestKeyByHash)
}

// VerifyAPIKey returns the management key a token belongs to, if it grants
// access now.
func (v *Verifier) VerifyAPIKey(ctx context.Context, token string) (APIKey, error) {
	k, _, err := v.apiKeys.verify(ctx, v.api, token, v.now(), v.store.FindAPIKeyByHash)
	if k == nil {
		return APIKey{}, err
	}
	return *k, err
}

// ForgetIngestKey drops a key from the cache; call it after any committed
// change to the key (or when told of one by another node).
func (v *Verifier) ForgetIngestKey(id string) { v.ingestKeys.forget(id) }

// ForgetAPIKey drops a management key from the cache.
func (v *Verifier) ForgetAPIKey(id string) { v.apiKeys.forget(id) }

// ForgetWorkspace drops every cached ingest key of workspace ws: a forced
// workspace deletion removes its keys with one event for the workspace,
// not one per key. It scans the cache, which is fine for so rare a change.
func (v *Verifier) ForgetWorkspace(ws string) {
	v.ingestKeys.forgetWhere(func(k *IngestKey) bool { return k.WorkspaceID == ws })
}

// ForgetAll empties both caches, positive and negative. A node calls it
// when it may have missed invalidations (its event subscription was down),
// so every key is judged from the store again.
func (v *Verifier) ForgetAll() {
	v.ingestKeys.forgetAll()
	v.apiKeys.forgetAll()
}

// IngestKeyGeneration changes whenever a cached ingest key is forgotten.
// A caller that reads it before VerifyIngestKeyHash and finds it unchanged
// later knows that no invalidation reached the cache in between: the key it
// was given is as current as any lookup in the store would have been, up
// to changes whose events have not arrived yet (which forget it when they
// do). A server opening a stream relies on this to skip reading the key
// again once the stream is registered.
func (v *Verifier) IngestKeyGeneration() uint64 { return v.ingestKeys.epoch.Load() }

// CacheStats counts how one cache answered since the verifier was built.
// Only well-formed tokens count: a malformed one never reaches the cache.
type CacheStats struct {
	// Hits were answered from a cached key; NegativeHits from a cached
	// "no such secret"; Misses went to the store (concurrent misses for
	// one secret share a lookup but each count).
	Hits, NegativeHits, Misses uint64
}

// Stats reports the ingest key and API key caches' counters, for metrics.
func (v *Verifier) Stats() (ingestKeys, apiKeys CacheStats) {
	return v.ingestKeys.stats(), v.apiKeys.stats()
}

type cached[T any] struct {
	val   T
	hash  Hash // the token's Hash (with the pepper), as the store has it
	until time.Time
}

// cacheKey is what the caches are keyed by: a plain SHA-256 of the
// token without its prefix, one compression (up to 55 bytes), where the
// pepper's HMAC of the whole token takes four. Tokens are random 256-bit secrets, so this needs no
// key to be as hard to invert as the HMAC; it never leaves the process.
type cacheKey [sha256.Size]byte

func keyOf(token string) cacheKey {
	var buf [64]byte
	if len(token) <= len(buf) {
		// Stack copy: hashing []byte(token) directly would allocate.
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// credCache caches one kind of key by token.
type credCache[T any] struct {
	cfg     VerifierConfig
	hasher  Hasher
	fields  func(*T) (string, *Credential)
	pos     *lru.Cache[cacheKey, *cached[T]] // entries are shared and never mutated
	neg     *lru.Cache[cacheKey, time.Time]
	flights singleflight.Group

	// epoch changes once every forget has removed its entries (see
	// forgetting and IngestKeyGeneration). A lookup that started before a
	// forget may have read the old record, so it does not cache its result.
	epoch atomic.Uint64
	// gate orders a lookup's check of the epoch and its insertion against
	// forgets, which hold it while they remove entries and change the
	// epoch: an entry is in the cache (and byID) before a forget looks, or
	// is not inserted at all. The eviction callback never takes it.
	gate sync.Mutex

	mu   sync.Mutex
	byID map[string][]cacheKey // never touched while calling into pos: see forget

	hits, negHits, misses atomic.Uint64
}

func (c *credCache[T]) stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), NegativeHits: c.negHits.Load(), Misses: c.misses.Load()}
}

func newCredCache[T any](cfg VerifierConfig, hasher Hasher, fields func(*T) (string, *Credential)) *credCache[T] {
	c := &credCache[T]{cfg: cfg, hasher: hasher, fields: fields, byID: make(map[string][]cacheKey)}
	c.pos, _ = lru.NewWithEvict(cfg.PositiveSize, func(h cacheKey, e *cached[T]) {
		id, _ := fields(&e.val)
		c.mu.Lock()
		c.byID[id] = deleteKey(c.byID[id], h)
		if len(c.byID[id]) == 0 {
			delete(c.byID, id)
		}
		c.mu.Unlock()
	})
	c.neg, _ = lru.New[cacheKey, time.Time](cfg.NegativeSize)
	return c
}

// verify judges token, a token of format f. Only well-formed tokens ever
// enter the positive cache, so a hit needs no Parse (the checksum was a
// quarter of a hit's time); a miss parses before anything else, so a
// flood of garbage costs a hash and a checksum, never a lookup.
func (c *credCache[T]) verify(ctx context.Context, f TokenFormat, token string, now time.Time, find func(context.Context, Hash) (T, error)) (*T, Hash, error) {
	if !f.shaped(token) {
		return nil, Hash{}, &CredentialError{Reason: ReasonMalformed}
	}
	// Without the prefix (every token in this cache has it), the rest
	// fits one SHA-256 block.
	ck := keyOf(token[len(f.prefix):])
	if e, ok := c.pos.Get(ck); ok && now.Before(e.until) {
		c.hits.Add(1)
		return &e.val, e.hash, judge(c.fields, &e.val, e.hash, now)
	}
	if f.Parse(token) != nil {
		return nil, Hash{}, &CredentialError{Reason: ReasonMalformed}
	}
	if until, ok := c.neg.Get(ck); ok && now.Before(until) {
		c.negHits.Add(1)
		return nil, Hash{}, &CredentialError{Reason: ReasonUnknown}
	}
	c.misses.Add(1)
	h := c.hasher.Hash(token)
	epoch := c.epoch.Load()
	res, err, _ := c.flights.Do(string(ck[:]), func() (any, error) {
		k, err := find(ctx, h)
		c.gate.Lock()
		defer c.gate.Unlock()
		fresh := c.epoch.Load() == epoch
		if !fresh {
			// A forget ran while the store was read, so what was read may
			// be stale: it is not cached, and the epoch moves on, so that
			// a caller that joined this lookup after the forget (and read
			// the generation after it) still sees a change.
			c.epoch.Add(1)
		}
		if errors.Is(err, ErrNotFound) {
			if fresh {
				c.neg.Add(ck, now.Add(c.cfg.NegativeTTL))
			}
			return k, &CredentialError{Reason: ReasonUnknown}
		}
		if err != nil {
			return k, err
		}
		if fresh {
			c.pos.Add(ck, &cached[T]{val: k, hash: h, until: now.Add(c.cfg.PositiveTTL)})
			id, _ := c.fields(&k)
			c.mu.Lock()
			c.byID[id] = append(deleteKey(c.byID[id], ck), ck)
			c.mu.Unlock()
		}
		return k, nil
	})
	if err != nil {
		return nil, h, err
	}
	// A copy: the flight's result is shared with every caller that joined it.
	k := res.(T)
	return &k, h, judge(c.fields, &k, h, now)
}

// judge decides whether a found key grants access with the secret hashed to h.
func judge[T any](fields func(*T) (string, *Credential), k *T, h Hash, now time.Time) error {
	id, cred := fields(k)
	if r := cred.Check(h, now); r != 0 {
		return &CredentialError{Reason: r, KeyID: id, DisplayPrefix: cred.DisplayPrefix}
	}
	return nil
}

// Check reports why the credential does not grant access at now to the
// secret hashed to h, or 0 when it does. Servers call it again on live
// streams when the key changes, with the hash the stream authenticated with.
func (c *Credential) Check(h Hash, now time.Time) CredentialReason {
	switch {
	case c.Status == StatusRevoked:
		return ReasonRevoked
	case c.Status != StatusActive:
		return ReasonInactive
	case c.Expired(now):
		return ReasonExpired
	case c.Hash.Equal(h):
		return 0
	case c.PreviousHash.Equal(h) && now.Before(c.PreviousExpireTime):
		return 0
	}
	return ReasonSecretRetired
}

// Deadline is when access for the secret hashed to h ends by itself
// (expiry, or the end of a rotation's grace period), zero if never.
func (c *Credential) Deadline(h Hash) time.Time {
	d := c.ExpireTime
	if !c.Hash.Equal(h) && c.PreviousHash.Equal(h) && (d.IsZero() || c.PreviousExpireTime.Before(d)) {
		d = c.PreviousExpireTime
	}
	return d
}

// forgetting runs remove, which takes entries out of the cache, under the
// gate, so no lookup inserts meanwhile, then changes the epoch: a lookup
// that began before checks it after (under the gate) and caches nothing,
// and a caller that read the generation before the removal sees it change.
func (c *credCache[T]) forgetting(remove func()) {
	c.gate.Lock()
	defer c.gate.Unlock()
	remove()
	c.epoch.Add(1)
}

func (c *credCache[T]) forget(id string) {
	c.forgetting(func() {
		c.mu.Lock()
		hashes := c.byID[id]
		delete(c.byID, id)
		c.mu.Unlock()
		// Outside mu: Remove runs the eviction callback, which takes mu.
		for _, h := range hashes {
			c.pos.Remove(h)
		}
	})
}

func (c *credCache[T]) forgetWhere(match func(*T) bool) {
	c.forgetting(func() {
		for _, h := range c.pos.Keys() {
			if e, ok := c.pos.Peek(h); ok && match(&e.val) {
				c.pos.Remove(h) // the eviction callback updates byID
			}
		}
	})
}

func (c *credCache[T]) forgetAll() {
	c.forgetting(func() {
		c.pos.Purge() // the eviction callback empties byID
		c.neg.Purge()
	})
}

func deleteKey(hs []cacheKey, h cacheKey) []cacheKey {
	for i := range hs {
		if hs[i] == h {
			return append(hs[:i], hs[i+1:]...)
		}
	}
	return hs
}
