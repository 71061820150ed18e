package keystore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

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

// ErrPasswordBusy is returned when more password checks are waiting than
// the queue holds: the caller should answer "retry later" (UNAVAILABLE)
// rather than add to a backlog nobody would wait out.
var ErrPasswordBusy = errors.New("keystore: too many password checks at once")

// hashQueue bounds concurrent argon2 runs, each holding 19 MiB, and how
// many callers may wait for one. Without the second bound a burst of
// logins would queue without limit, each computed long after its client
// gave up; with it the longest wait is about maxWaiting/len(slots) runs.
type hashQueue struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

func newHashQueue(slots, maxWaiting int) *hashQueue {
	return &hashQueue{slots: make(chan struct{}, slots), maxWaiting: int64(maxWaiting)}
}

// acquire waits for a slot, or returns ErrPasswordBusy at once when the
// queue is full, or ctx's error if it ends first.
func (q *hashQueue) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case q.slots <- struct{}{}:
		return q.release, nil
	default:
	}
	if q.waiting.Add(1) > q.maxWaiting {
		q.waiting.Add(-1)
		return nil, ErrPasswordBusy
	}
	defer q.waiting.Add(-1)
	select {
	case q.slots <- struct{}{}:
		// Both cases may have been ready at once: a caller that has gone
		// gives the slot back rather than run argon2 for no one.
		if err := ctx.Err(); err != nil {
			q.release()
			return nil, err
		}
		return q.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (q *hashQueue) release() { <-q.slots }

// hashes is the process's queue: a run per core, and 32 waiting per slot
// (about 0.8 s of runs at 25 ms each).
var hashes = func() *hashQueue {
	n := max(2, runtime.GOMAXPROCS(0))
	return newHashQueue(n, 32*n)
}()

func argon(ctx context.Context, password string, salt []byte, mem, t uint32, threads uint8, keyLen uint32) ([]byte, error) {
	release, err := hashes.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return argon2.IDKey([]byte(password), salt, t, mem, threads, keyLen), nil
}

// HashPassword returns the PHC string of an argon2id hash of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, base64 without padding.
// It waits for a free argon2 slot (see ErrPasswordBusy).
func HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := argon(ctx, password, salt, argonMemoryKiB, argonTime, argonThreads, argonKeyLen)
	if err != nil {
		return "", err
	}
	return phc(salt, key), nil
}

// phc formats a hash made with the current parameters.
func phc(salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadPasswordHash = errors.New("keystore: malformed password hash")

// CheckPassword reports whether password matches the PHC hash, comparing in
// constant time. A malformed hash matches nothing. The error is
// ErrPasswordBusy or ctx's: the password was not checked.
func CheckPassword(ctx context.Context, hash, password string) (bool, error) {
	p, err := parseArgon(hash)
	if err != nil {
		return false, nil
	}
	key, err := argon(ctx, password, p.salt, p.mem, p.time, p.threads, uint32(len(p.key)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// CheckNoPassword costs what CheckPassword costs, waits in the same queue
// and matches nothing: a login for an unknown email runs it, so neither
// response time nor a busy answer tells whether the email exists.
func CheckNoPassword(ctx context.Context, password string) error {
	dummyOnce.Do(func() {
		// Random bytes for a key no password hashes to: checking against
		// it costs one argon2 run with the current parameters.
		salt, key := make([]byte, argonSaltLen), make([]byte, argonKeyLen)
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key)
		dummyHash = phc(salt, key)
	})
	_, err := CheckPassword(ctx, dummyHash, password)
	return err
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
