package keystore

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes: OWASP's recommendation
// (19 MiB, 2 passes, 1 lane), about 25 ms on one core here.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// hashSlots bounds concurrent argon2 runs: each holds 19 MiB, so a burst of
// logins must queue rather than exhaust memory.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func argon(password string, salt []byte, mem, t uint32, threads uint8, keyLen uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey([]byte(password), salt, t, mem, threads, keyLen)
}

// HashPassword returns the PHC string of an argon2id hash of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, base64 without padding.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon(password, salt, argonMemoryKiB, argonTime, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadPasswordHash = errors.New("keystore: malformed password hash")

// CheckPassword reports whether password matches the PHC hash, comparing in
// constant time. A malformed hash matches nothing.
func CheckPassword(hash, password string) bool {
	p, err := parseArgon(hash)
	if err != nil {
		return false
	}
	key := argon(password, p.salt, p.mem, p.time, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// CheckNoPassword costs what CheckPassword costs and matches nothing: a
// login for an unknown email runs it, so response time does not tell
// whether the email exists.
func CheckNoPassword(password string) {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword("ingestgate dummy password") })
	CheckPassword(dummyHash, password)
}

var (
	dummyOnce sync.Once
	dummyHash string
)

type argonParams struct {
	mem, time uint32
	threads   uint8
	salt, key []byte
}

// parseArgon reads a PHC argon2id string, refusing parameters far outside
// what HashPassword writes, so a tampered row cannot make a check cost
// gigabytes or minutes.
func parseArgon(s string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, errBadPasswordHash
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.mem, &p.time, &threads); err != nil {
		return p, errBadPasswordHash
	}
	if p.mem < 8*1024 || p.mem > 256*1024 || p.time < 1 || p.time > 10 || threads < 1 || threads > 16 {
		return p, errBadPasswordHash
	}
	p.threads = uint8(threads)
	b64 := base64.RawStdEncoding
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return p, errBadPasswordHash
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errBadPasswordHash
	}
	return p, nil
}
