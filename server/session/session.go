// Package session issues and verifies the access tokens of signed-in
// users: JWTs signed with Ed25519 (alg EdDSA) through golang-jwt. The
// signing keys live in the keystore, so a token signed by any node of a
// cluster verifies on every other; the newest key signs and every key
// verifies, so a key can be added without ending sessions.
package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ingestgate/ingestgate/keystore"
)

// Issuer is the iss and aud of every token.
const Issuer = "ingestgate"

// MaxTokenLen bounds what Verify parses; ingestgate's tokens are ~300 bytes.
const MaxTokenLen = 4096

// Algorithm is the JWT alg of the signing keys.
const Algorithm = "EdDSA"

var (
	// ErrExpired: the token was valid but its lifetime is over.
	ErrExpired = errors.New("session: token expired")
	// ErrInvalid: anything else wrong with a token (signature, format,
	// unknown key, issuer).
	ErrInvalid = errors.New("session: invalid token")
)

// Claims are what an access token says: the user, and the user's version
// when it was issued (a disabled user or a new password bumps it, and the
// server refuses older tokens).
type Claims struct {
	Version int64 `json:"ver"`
	jwt.RegisteredClaims
}

// UserID is the token's subject.
func (c *Claims) UserID() string { return c.Subject }

// Signer signs and verifies access tokens. Safe for concurrent use.
type Signer struct {
	ttl time.Duration

	mu      sync.RWMutex
	signKID string
	signKey ed25519.PrivateKey
	verify  map[string]ed25519.PublicKey
}

// GenerateKey makes a new signing key to store.
func GenerateKey(now time.Time) (keystore.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keystore.SigningKey{}, err
	}
	return keystore.SigningKey{
		ID: keystore.NewID("sk_"), Algorithm: Algorithm,
		PrivateKey: priv.Seed(), PublicKey: pub, CreateTime: now,
	}, nil
}

// NewSigner signs with the newest of keys (ordered oldest first, as the
// store lists them) and verifies with all; tokens live ttl.
func NewSigner(keys []keystore.SigningKey, ttl time.Duration) (*Signer, error) {
	if ttl <= 0 {
		return nil, errors.New("session: token lifetime must be positive")
	}
	s := &Signer{ttl: ttl}
	if err := s.SetKeys(keys); err != nil {
		return nil, err
	}
	return s, nil
}

// SetKeys replaces the key set (after reading it again from the store).
func (s *Signer) SetKeys(keys []keystore.SigningKey) error {
	if len(keys) == 0 {
		return errors.New("session: no signing key")
	}
	verify := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		if k.Algorithm != Algorithm || len(k.PrivateKey) != ed25519.SeedSize || len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("session: signing key %s is not an Ed25519 key", k.ID)
		}
		verify[k.ID] = ed25519.PublicKey(slices.Clone(k.PublicKey))
	}
	newest := keys[len(keys)-1]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signKID, s.signKey, s.verify = newest.ID, ed25519.NewKeyFromSeed(newest.PrivateKey), verify
	return nil
}

// TTL is the lifetime of the tokens Issue makes.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue signs a token for the user at version, valid from now for the TTL.
func (s *Signer) Issue(userID string, version int64, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl)
	claims := Claims{
		Version: version,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Audience: jwt.ClaimStrings{Issuer}, Subject: userID,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), ID: keystore.NewID(""),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	s.mu.RLock()
	tok.Header["kid"] = s.signKID
	key := s.signKey
	s.mu.RUnlock()
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session: sign: %w", err)
	}
	return signed, exp, nil
}

// KnowsKey reports whether kid is one of the verification keys; a caller
// may reload the keys from the store when it is not.
func (s *Signer) KnowsKey(kid string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.verify[kid]
	return ok
}

// KeyID returns the kid of a token without verifying it, or "".
func KeyID(token string) string {
	if len(token) > MaxTokenLen {
		return ""
	}
	t, _, err := jwt.NewParser().ParseUnverified(token, &Claims{})
	if err != nil {
		return ""
	}
	kid, _ := t.Header["kid"].(string)
	return kid
}

// LooksLikeJWT reports whether a bearer token has the shape of a JWT, to
// tell it from an API key before verifying either.
func LooksLikeJWT(token string) bool {
	dots := 0
	for i := 0; i < len(token); i++ {
		if token[i] == '.' {
			dots++
		}
	}
	return dots == 2 && len(token) > 2 && token[0] == 'e' && token[1] == 'y'
}

// Verify checks a token's signature, issuer, audience and lifetime at now
// and returns its claims: ErrExpired for a token past its expiry (and
// otherwise valid), ErrInvalid for anything else. The signature is checked
// first and on its own, so only a genuine token can be called expired.
func (s *Signer) Verify(token string, now time.Time) (*Claims, error) {
	if len(token) > MaxTokenLen {
		return nil, ErrInvalid
	}
	claims := &Claims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{Algorithm}), jwt.WithoutClaimsValidation())
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.RLock()
		defer s.mu.RUnlock()
		if k, ok := s.verify[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown signing key")
	})
	if err != nil || claims.Subject == "" {
		return nil, ErrInvalid
	}
	v := jwt.NewValidator(
		jwt.WithIssuer(Issuer), jwt.WithAudience(Issuer),
		// Expiry only: iat is informative, and checking it (or an nbf)
		// would refuse a fresh token on a node whose clock is behind.
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch err := v.Validate(claims); {
	case err == nil:
		return claims, nil
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	default:
		return nil, ErrInvalid
	}
}
