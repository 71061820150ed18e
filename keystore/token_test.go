package keystore

import (
	"strings"
	"testing"
)

func TestTokenGenerateParse(t *testing.T) {
	f := MustTokenFormat(DefaultIngestKeyPrefix)
	seen := map[string]bool{}
	for range 200 {
		tok, err := f.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != f.Len() || !strings.HasPrefix(tok, DefaultIngestKeyPrefix) {
			t.Fatalf("token %q: want %d chars with prefix %q", tok, f.Len(), DefaultIngestKeyPrefix)
		}
		if err := f.Parse(tok); err != nil {
			t.Fatalf("Parse(%q) = %v", tok, err)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
		if got := f.DisplayPrefix(tok); got != tok[:len(DefaultIngestKeyPrefix)+6] {
			t.Fatalf("DisplayPrefix = %q", got)
		}
	}
}

// Every single-character typo and every adjacent transposition must be
// rejected by the checksum alone.
func TestTokenChecksumRejectsTypos(t *testing.T) {
	f := MustTokenFormat(DefaultIngestKeyPrefix)
	tok, err := f.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(tok)
	for i := len(f.prefix); i < len(b); i++ {
		orig := b[i]
		for _, c := range []byte(base62) {
			if c == orig {
				continue
			}
			b[i] = c
			if f.Parse(string(b)) == nil {
				t.Fatalf("typo at %d (%q→%q) accepted", i, orig, c)
			}
		}
		b[i] = orig
	}
	for i := len(f.prefix); i+1 < len(b); i++ {
		if b[i] == b[i+1] {
			continue
		}
		b[i], b[i+1] = b[i+1], b[i]
		if f.Parse(string(b)) == nil {
			t.Fatalf("transposition at %d accepted", i)
		}
		b[i], b[i+1] = b[i+1], b[i]
	}
}

func TestTokenParseRejects(t *testing.T) {
	f := MustTokenFormat(DefaultIngestKeyPrefix)
	other := MustTokenFormat(DefaultAPIKeyPrefix)
	good, _ := f.Generate()
	otherTok, _ := other.Generate()
	for name, in := range map[string]string{
		"empty":        "",
		"prefix only":  DefaultIngestKeyPrefix,
		"short":        good[:len(good)-1],
		"long":         good + "0",
		"other prefix": otherTok,
		"bad char":     good[:20] + "-" + good[21:],
		"space":        " " + good[1:],
		"non-ascii":    good[:20] + "é" + good[22:],
	} {
		if f.Parse(in) == nil {
			t.Errorf("%s: Parse(%q) accepted", name, in)
		}
	}
}

func TestTokenFormatPrefix(t *testing.T) {
	for _, p := range []string{"", "a", "nounderscore", "UPPER_", "toolongprefix_xx_", "sp ace_"} {
		if _, err := NewTokenFormat(p); err == nil {
			t.Errorf("NewTokenFormat(%q) accepted", p)
		}
	}
	for _, p := range []string{"ig_ikv1_", "sf_ikv1_", "x_"} {
		if _, err := NewTokenFormat(p); err != nil {
			t.Errorf("NewTokenFormat(%q) = %v", p, err)
		}
	}
}

func TestHasher(t *testing.T) {
	plain, peppered := NewHasher(nil), NewHasher([]byte("pepper"))
	other := NewHasher([]byte("other"))
	tok := "ig_ikv1_example"
	if plain.Hash(tok) == peppered.Hash(tok) || peppered.Hash(tok) == other.Hash(tok) {
		t.Fatal("pepper does not change the hash")
	}
	if !plain.Hash(tok).Equal(plain.Hash(tok)) || plain.Hash(tok).Equal(plain.Hash(tok+"x")) {
		t.Fatal("Equal is wrong")
	}
	long := strings.Repeat("a", 300) // past the stack buffer
	if plain.Hash(long) == plain.Hash(long[:299]) {
		t.Fatal("long tokens collide")
	}
}

// FuzzParse: Parse never panics, and accepts only strings of the exact
// format whose checksum matches.
func FuzzParse(f *testing.F) {
	tf := MustTokenFormat(DefaultIngestKeyPrefix)
	tok, _ := tf.Generate()
	f.Add(tok)
	f.Add(DefaultIngestKeyPrefix)
	f.Add("")
	f.Add(tok[:len(tok)-1] + "Z")
	f.Fuzz(func(t *testing.T, s string) {
		if tf.Parse(s) != nil {
			return
		}
		if len(s) != tf.Len() || !strings.HasPrefix(s, DefaultIngestKeyPrefix) {
			t.Fatalf("accepted %q of wrong shape", s)
		}
		for i := len(DefaultIngestKeyPrefix); i < len(s); i++ {
			if base62Value(s[i]) < 0 {
				t.Fatalf("accepted %q with a non-base62 character", s)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	f := MustTokenFormat(DefaultIngestKeyPrefix)
	tok, _ := f.Generate()
	b.ReportAllocs()
	for b.Loop() {
		if f.Parse(tok) != nil {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkHash(b *testing.B) {
	f := MustTokenFormat(DefaultIngestKeyPrefix)
	tok, _ := f.Generate()
	for _, h := range []struct {
		name string
		h    Hasher
	}{{"sha256", NewHasher(nil)}, {"hmac", NewHasher([]byte("pepper"))}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = h.h.Hash(tok)
			}
		})
	}
}
