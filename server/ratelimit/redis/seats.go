package redis

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultLeaseTTL is how long a seat outlives the last renewal of the node
// holding it: a node that dies without releasing its seats frees them
// after this long. Nodes renew every third of it.
const DefaultLeaseTTL = 30 * time.Second

// Seats counts concurrent holders (open streams) of named sets (an ingest
// key, a device) across the nodes of a cluster, against a maximum given at
// each Take. A seat is a member of the sorted set <prefix>seats:<name>
// scored by its lease expiry in Redis time; Take drops expired leases,
// counts and adds atomically in one script. No maintained Go library does
// counted leases over go-redis, hence the two short scripts.
//
// When Redis cannot be reached Take returns the error and the caller
// decides (the server admits, since its per-node limits still hold). A
// seat lost with Redis's data is not re-added by renewals: under-counting
// until streams reconnect is the safe side, where re-adding could resurrect
// a seat released meanwhile and refuse devices wrongly.
type Seats struct {
	c      goredis.UniversalClient
	prefix string
	ttl    time.Duration
	node   string // this process, so members of different nodes differ
	log    *slog.Logger

	next     atomic.Uint64
	mu       sync.Mutex
	held     map[string][]string // lease -> its Redis set keys
	released []seat              // released, not yet removed from Redis
	wake     chan struct{}       // a release is waiting

	stop chan struct{}
	done chan struct{}
}

// Claim asks for a seat in the set Name, refused when it already has Max
// seats (0: unlimited, counted only).
type Claim struct {
	Name string
	Max  int
}

// NewSeats starts the renewal loop; Close stops it. ttl 0 is
// DefaultLeaseTTL.
func NewSeats(c goredis.UniversalClient, prefix string, ttl time.Duration, log *slog.Logger) *Seats {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	s := &Seats{
		c: c, prefix: prefix, ttl: ttl, node: rand.Text()[:12], log: log,
		held: map[string][]string{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.renewLoop()
	return s
}

var takeScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  local max = tonumber(ARGV[2 + i])
  if max > 0 and redis.call('ZCARD', k) >= max then return i end
end
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, now + ttl, ARGV[1])
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 0
`)

// Take claims a seat in every set at once, or in none. It returns the
// lease to Release, or the index of the first claim whose set is full.
func (s *Seats) Take(ctx context.Context, claims ...Claim) (lease string, full int, err error) {
	lease = s.node + ":" + strconv.FormatUint(s.next.Add(1), 36)
	keys := make([]string, len(claims))
	args := make([]any, 0, 2+len(claims))
	args = append(args, lease, s.ttl.Milliseconds())
	for i, c := range claims {
		keys[i] = s.key(c.Name)
		args = append(args, c.Max)
	}
	n, err := takeScript.Run(ctx, s.c, keys, args...).Int()
	if err != nil {
		return "", -1, fmt.Errorf("redis seats: take: %w", err)
	}
	if n > 0 {
		return "", n - 1, nil
	}
	s.mu.Lock()
	s.held[lease] = keys
	s.mu.Unlock()
	return lease, -1, nil
}

// Release gives a lease's seats back, without waiting: the seats are
// removed by the background loop, in batches, so closing streams never
// waits on Redis. Releasing "" (no lease) does nothing. If Redis cannot be
// reached the seats expire after the TTL.
func (s *Seats) Release(lease string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, ok := s.held[lease]
	if !ok {
		return
	}
	delete(s.held, lease)
	for _, k := range keys {
		s.released = append(s.released, seat{k, lease})
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

type seat struct{ key, lease string }

// removeReleased removes the seats released since the last call.
func (s *Seats) removeReleased(ctx context.Context) error {
	s.mu.Lock()
	rel := s.released
	s.released = nil
	s.mu.Unlock()
	if len(rel) == 0 {
		return nil
	}
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, r := range rel {
			p.ZRem(ctx, r.key, r.lease)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis seats: release: %w", err)
	}
	return nil
}

// Count returns the live seats of the set name.
func (s *Seats) Count(ctx context.Context, name string) (int, error) {
	now, err := s.c.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis seats: count: %w", err)
	}
	n, err := s.c.ZCount(ctx, s.key(name), "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("redis seats: count: %w", err)
	}
	return int(n), nil
}

func (s *Seats) key(name string) string { return s.prefix + "seats:" + name }

// Close stops renewing (the seats still held expire after the TTL) and
// waits for the renewal loop to end.
func (s *Seats) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

var renewScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, 'XX', now + ttl, ARGV[i + 1])
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 0
`)

// renewChunk bounds the seats one script renews, so a node with many
// streams never holds Redis for long.
const renewChunk = 512

func (s *Seats) renewLoop() {
	defer close(s.done)
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	for {
		renew := false
		select {
		case <-s.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.removeReleased(ctx) // best effort; the rest expire
			cancel()
			return
		case <-s.wake:
		case <-tick.C:
			renew = true
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
		if err := s.removeReleased(ctx); err != nil {
			s.log.Debug("releasing stream seats in Redis failed; they expire with their lease", slog.Any("error", err))
		}
		if renew {
			if err := s.renew(ctx); err != nil {
				s.log.Warn("renewing stream seats in Redis failed; they expire unless a later renewal succeeds", slog.Any("error", err))
			}
		}
		cancel()
	}
}

// renew extends every lease this node holds.
func (s *Seats) renew(ctx context.Context) error {
	s.mu.Lock()
	var keys []string
	var members []any
	for lease, ks := range s.held {
		for _, k := range ks {
			keys = append(keys, k)
			members = append(members, lease)
		}
	}
	s.mu.Unlock()
	for len(keys) > 0 {
		n := min(len(keys), renewChunk)
		args := append([]any{s.ttl.Milliseconds()}, members[:n]...)
		if err := renewScript.Run(ctx, s.c, keys[:n], args...).Err(); err != nil {
			return fmt.Errorf("redis seats: renew: %w", err)
		}
		keys, members = keys[n:], members[n:]
	}
	return nil
}
