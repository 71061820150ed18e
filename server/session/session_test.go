package session_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/session"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newSigner(t *testing.T, keys ...keystore.SigningKey) *session.Signer {
	t.Helper()
	if len(keys) == 0 {
		keys = []keystore.SigningKey{newKey(t)}
	}
	s, err := session.NewSigner(keys, 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newKey(t *testing.T) keystore.SigningKey {
	t.Helper()
	k, err := session.GenerateKey(t0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t *testing.T, s *session.Signer, now time.Time) string {
	t.Helper()
	tok, exp, err := s.Issue("usr_1", 7, now)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(4 * time.Hour)) {
		t.Fatalf("expiry %v, want 4h after %v", exp, now)
	}
	return tok
}

func TestIssueVerify(t *testing.T) {
	s := newSigner(t)
	tok := issue(t, s, t0)
	if !session.LooksLikeJWT(tok) || session.LooksLikeJWT("ig_mkv1_abc") {
		t.Fatal("LooksLikeJWT misjudges")
	}
	c, err := s.Verify(tok, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID() != "usr_1" || c.Version != 7 || c.Issuer != session.Issuer {
		t.Fatalf("claims %+v", c)
	}
	if _, err := s.Verify(tok, t0.Add(4*time.Hour+time.Second)); !errors.Is(err, session.ErrExpired) {
		t.Fatalf("after 4h: %v, want ErrExpired", err)
	}
	// A verifier whose clock is behind the signer's still accepts a fresh
	// token: only expiry is checked.
	if _, err := s.Verify(tok, t0.Add(-time.Second)); err != nil {
		t.Fatalf("on a clock a second behind: %v", err)
	}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	s := newSigner(t)
	other := newSigner(t)
	tok := issue(t, s, t0)
	parts := strings.Split(tok, ".")
	b64 := base64.RawURLEncoding
	payload, _ := b64.DecodeString(parts[1])
	forged := parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(payload), "usr_1", "usr_2", 1))) + "." + parts[2]

	// alg confusion: HS256 keyed with something public, and alg none.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "usr_1", "iss": session.Issuer, "aud": session.Issuer, "exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix()})
	hs.Header["kid"] = session.KeyID(tok)
	hsTok, _ := hs.SignedString([]byte("public"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "usr_1", "iss": session.Issuer, "aud": session.Issuer, "exp": t0.Add(time.Hour).Unix()})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	for name, bad := range map[string]string{
		"tampered payload":   forged,
		"other key":          issue(t, other, t0),
		"HS256 confusion":    hsTok,
		"alg none":           noneTok,
		"garbage":            "eyJ.x.y",
		"empty":              "",
		"oversized":          tok + strings.Repeat("A", session.MaxTokenLen),
		"signature stripped": parts[0] + "." + parts[1] + ".",
	} {
		if _, err := s.Verify(bad, t0.Add(time.Minute)); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// A forged token that is also expired is invalid, not "expired".
	if _, err := s.Verify(forged, t0.Add(5*time.Hour)); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("forged and expired: %v, want ErrInvalid", err)
	}
	if _, err := s.Verify(issue(t, other, t0), t0.Add(5*time.Hour)); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("foreign and expired: %v, want ErrInvalid", err)
	}
}

// A new key signs; tokens of the old one still verify.
func TestKeyRollover(t *testing.T) {
	old := newKey(t)
	s := newSigner(t, old)
	before := issue(t, s, t0)
	next := newKey(t)
	if s.KnowsKey(next.ID) {
		t.Fatal("knows a key it was not given")
	}
	if err := s.SetKeys([]keystore.SigningKey{old, next}); err != nil {
		t.Fatal(err)
	}
	after := issue(t, s, t0)
	if session.KeyID(after) != next.ID || session.KeyID(before) != old.ID {
		t.Fatalf("kids %q %q, want the newest key to sign", session.KeyID(before), session.KeyID(after))
	}
	for _, tok := range []string{before, after} {
		if _, err := s.Verify(tok, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetKeys(nil); err == nil {
		t.Fatal("an empty key set was accepted")
	}
	bad := next
	bad.PublicKey = bad.PublicKey[:5]
	if err := s.SetKeys([]keystore.SigningKey{bad}); err == nil {
		t.Fatal("a malformed key was accepted")
	}
}
