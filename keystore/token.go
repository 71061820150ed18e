package keystore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"math/big"
	"sync"
	"unsafe"
)

// Token layout: <prefix><body><checksum>.
//
//   - prefix: operator-chosen, e.g. "ig_ikv1_", so scanners and people can
//     tell what a string is.
//   - body: 256 bits from crypto/rand, base62, always bodyLen characters.
//   - checksum: CRC-32 (IEEE) of prefix+body, base62, checksumLen characters.
//     It lets Parse reject typos and garbage before the pepper HMAC and any
//     store lookup (the verifier checks its cache of known tokens first).
const (
	bodyLen      = 43 // ceil(256 / log2(62))
	checksumLen  = 6  // ceil(32 / log2(62))
	displayChars = 6  // body characters shown in a display prefix
	maxPrefixLen = 16
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// Default token prefixes.
const (
	DefaultIngestKeyPrefix = "ig_ikv1_"
	DefaultAPIKeyPrefix    = "ig_mkv1_"
)

// ErrMalformedToken is returned by Parse for anything that is not a token of
// the format: wrong prefix, length, alphabet or checksum.
var ErrMalformedToken = errors.New("malformed token")

// TokenFormat generates and parses tokens with one prefix.
type TokenFormat struct {
	prefix string
}

// NewTokenFormat checks the prefix: 2 to 16 characters of [a-z0-9_], ending
// with '_' so the body is easy to tell apart.
func NewTokenFormat(prefix string) (TokenFormat, error) {
	if len(prefix) < 2 || len(prefix) > maxPrefixLen || prefix[len(prefix)-1] != '_' {
		return TokenFormat{}, fmt.Errorf("token prefix %q: want 2-%d characters ending in '_'", prefix, maxPrefixLen)
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return TokenFormat{}, fmt.Errorf("token prefix %q: only a-z, 0-9 and '_' are allowed", prefix)
		}
	}
	return TokenFormat{prefix: prefix}, nil
}

// MustTokenFormat is NewTokenFormat for prefixes known to be valid.
func MustTokenFormat(prefix string) TokenFormat {
	f, err := NewTokenFormat(prefix)
	if err != nil {
		panic(err)
	}
	return f
}

// Prefix returns the format's prefix.
func (f TokenFormat) Prefix() string { return f.prefix }

// Len is the length of every token of this format.
func (f TokenFormat) Len() int { return len(f.prefix) + bodyLen + checksumLen }

// Generate returns a new random token.
func (f TokenFormat) Generate() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	buf := make([]byte, 0, f.Len())
	buf = append(buf, f.prefix...)
	buf = appendBase62(buf, new(big.Int).SetBytes(b[:]), bodyLen)
	buf = appendBase62(buf, big.NewInt(int64(crc32.ChecksumIEEE(buf))), checksumLen)
	return string(buf), nil
}

// shaped reports whether s has the format's length and prefix: the
// first, constant-time part of Parse.
func (f TokenFormat) shaped(s string) bool {
	return len(s) == f.Len() && s[:len(f.prefix)] == f.prefix
}

// Parse reports whether s is well formed. It does no lookup and allocates
// nothing, so it is cheap enough to run on every request before hashing.
func (f TokenFormat) Parse(s string) error {
	if !f.shaped(s) {
		return ErrMalformedToken
	}
	for i := len(f.prefix); i < len(s); i++ {
		if base62Value(s[i]) < 0 {
			return ErrMalformedToken
		}
	}
	split := len(s) - checksumLen
	var sum uint64
	for i := split; i < len(s); i++ {
		sum = sum*62 + uint64(base62Value(s[i]))
	}
	if sum != uint64(crcString(s[:split])) {
		return ErrMalformedToken
	}
	return nil
}

// DisplayPrefix returns the part of a well-formed token that is safe to show
// and log: the prefix and the first few body characters.
func (f TokenFormat) DisplayPrefix(token string) string {
	n := len(f.prefix) + displayChars
	if len(token) < n {
		return ""
	}
	return token[:n]
}

var crcTable = crc32.MakeTable(crc32.IEEE)

// crcString is crc32.ChecksumIEEE over a string's bytes in place: a
// []byte(s) conversion would allocate on every Parse, and the library's
// sliced tables are several times faster than a byte-wise loop. The bytes
// are only read.
func crcString(s string) uint32 {
	return crc32.Checksum(unsafe.Slice(unsafe.StringData(s), len(s)), crcTable)
}

func appendBase62(dst []byte, n *big.Int, width int) []byte {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return append(dst, out...)
}

func base62Value(c byte) int { return int(base62Values[c]) }

// base62Values maps a byte to its base62 digit, or -1: one load per
// character where a chain of range checks cost a fifth of a cached
// verification.
var base62Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base62) {
		t[base62[i]] = int8(i)
	}
	return t
}()

// Hash is what the store keeps instead of a token.
type Hash [sha256.Size]byte

// Equal compares in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// IsZero reports whether h is unset.
func (h Hash) IsZero() bool { return h == Hash{} }

// Hasher turns tokens into hashes: SHA-256, or HMAC-SHA-256 keyed with a
// server pepper so a stolen database alone cannot confirm a guessed token.
// Every node of a cluster needs the same pepper, and changing it invalidates
// every stored key.
type Hasher struct {
	pepper []byte
	macs   *sync.Pool
}

// NewHasher returns a hasher; an empty pepper means plain SHA-256.
func NewHasher(pepper []byte) Hasher {
	h := Hasher{pepper: pepper}
	if len(pepper) > 0 {
		// hmac.New costs several allocations; reuse keyed instances, with
		// buffers for the token and the sum, so hashing allocates nothing.
		h.macs = &sync.Pool{New: func() any { return &keyedMAC{mac: hmac.New(sha256.New, pepper), in: make([]byte, 0, 128)} }}
	}
	return h
}

// keyedMAC is a pooled HMAC instance with its scratch buffers: bytes
// passed to a hash.Hash escape, so stack buffers would be allocated.
type keyedMAC struct {
	mac hash.Hash
	in  []byte
	out Hash
}

// Hash hashes a token.
func (h Hasher) Hash(token string) Hash {
	if len(h.pepper) == 0 {
		var buf [128]byte
		if len(token) <= len(buf) {
			// Stack copy: hashing []byte(token) directly would allocate.
			n := copy(buf[:], token)
			return sha256.Sum256(buf[:n])
		}
		return sha256.Sum256([]byte(token))
	}
	m := h.macs.Get().(*keyedMAC)
	m.mac.Reset()
	m.in = append(m.in[:0], token...)
	m.mac.Write(m.in)
	m.mac.Sum(m.out[:0])
	out := m.out
	clear(m.in) // the token is a secret: do not keep it in the pool
	h.macs.Put(m)
	return out
}
