package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/session"
)

// RefreshTokenPrefix starts every refresh token, so secret scanners and
// people can tell it from an API key.
const RefreshTokenPrefix = "ig_rtv1_"

// sessions is the server's side of sign-in: the access token signer (keys
// from the store), the refresh token format, and a cache of the users that
// access tokens name, dropped by user events from any node.
type sessions struct {
	store   keystore.Store
	signer  *session.Signer
	refresh keystore.TokenFormat
	log     *slog.Logger

	reloadMu   sync.Mutex
	lastReload time.Time

	users *lru.Cache[string, cachedUser]
	// epoch increases with every forget, so a read that raced one is not
	// cached (it may predate the change that caused the forget).
	epoch atomic.Uint64
	// fillMu makes "epoch unchanged, so cache" one step against forgets.
	fillMu sync.Mutex
}

// cachedUser is a user and their roles as read at fetched; entries live
// userCacheTTL at most, bounding staleness if an event was lost.
type cachedUser struct {
	user    keystore.User
	roles   map[string]keystore.Role
	fetched time.Time
}

const userCacheTTL = 30 * time.Second

// openSessions loads the signing keys, creating the first on an empty
// store. The read and the create are one transaction, so nodes starting
// together agree on one key (the loser of the race retries and reads it).
func openSessions(ctx context.Context, store keystore.Store, accessTTL time.Duration, now time.Time, log *slog.Logger) (*sessions, error) {
	var keys []keystore.SigningKey
	err := store.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		var err error
		if keys, err = tx.ListSigningKeys(ctx); err != nil || len(keys) > 0 {
			return err
		}
		k, err := session.GenerateKey(now)
		if err != nil {
			return err
		}
		if err := tx.CreateSigningKey(ctx, k); err != nil {
			return err
		}
		keys = []keystore.SigningKey{k}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	signer, err := session.NewSigner(keys, accessTTL)
	if err != nil {
		return nil, err
	}
	c, _ := lru.New[string, cachedUser](100_000)
	return &sessions{
		store: store, signer: signer, log: log, users: c,
		refresh: keystore.MustTokenFormat(RefreshTokenPrefix),
	}, nil
}

// reloadKeys reads the signing keys again when a token names one this node
// does not know (another node added it), at most every 10 s.
func (ss *sessions) reloadKeys(ctx context.Context, kid string) {
	if kid == "" || ss.signer.KnowsKey(kid) {
		return
	}
	ss.reloadMu.Lock()
	defer ss.reloadMu.Unlock()
	if time.Since(ss.lastReload) < 10*time.Second {
		return
	}
	ss.lastReload = time.Now()
	keys, err := ss.store.ListSigningKeys(ctx)
	if err == nil {
		err = ss.signer.SetKeys(keys)
	}
	if err != nil {
		ss.log.WarnContext(ctx, "reload signing keys", slog.Any("error", err))
	}
}

// user returns the user and their roles, from the cache when fresh.
func (ss *sessions) user(ctx context.Context, id string) (cachedUser, error) {
	if c, ok := ss.users.Get(id); ok && time.Since(c.fetched) < userCacheTTL {
		return c, nil
	}
	fetched, epoch := time.Now(), ss.epoch.Load()
	u, err := ss.store.GetUser(ctx, id)
	if err != nil {
		return cachedUser{}, err
	}
	ms, err := ss.store.ListMemberships(ctx, id)
	if err != nil {
		return cachedUser{}, err
	}
	c := cachedUser{user: u, roles: make(map[string]keystore.Role, len(ms)), fetched: fetched}
	for _, m := range ms {
		c.roles[m.WorkspaceID] = m.Role
	}
	ss.fillMu.Lock()
	if ss.epoch.Load() == epoch {
		ss.users.Add(id, c)
	}
	ss.fillMu.Unlock()
	return c, nil
}

// forgetUser drops a user from the cache (a user event, from any node).
func (ss *sessions) forgetUser(id string) {
	ss.fillMu.Lock()
	defer ss.fillMu.Unlock()
	ss.epoch.Add(1)
	ss.users.Remove(id)
}

// forgetUsers drops every cached user (after a bus outage).
func (ss *sessions) forgetUsers() {
	ss.fillMu.Lock()
	defer ss.fillMu.Unlock()
	ss.epoch.Add(1)
	ss.users.Purge()
}

// authenticateUser verifies an access token and resolves its user: 401
// "Token expired" for an expired one, "Invalid credentials" otherwise; a
// disabled user, or a token older than the user's last password change or
// disabling, is refused at once.
func (s *Server) authenticateUser(ctx context.Context, token, ip string) (*Principal, error) {
	s.sessions.reloadKeys(ctx, session.KeyID(token))
	claims, err := s.sessions.signer.Verify(token, s.now())
	switch {
	case errors.Is(err, session.ErrExpired):
		s.metrics.authFailed(ctx, "access_token", "expired")
		return nil, status.Error(codes.Unauthenticated, "Token expired")
	case err != nil:
		s.log.InfoContext(ctx, "management auth failed", slog.String("reason", "invalid access token"), slog.String("client_ip", ip))
		s.metrics.authFailed(ctx, "access_token", "invalid")
		if err := s.guard.failed(ctx, ip); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials")
	}
	c, err := s.sessions.user(ctx, claims.UserID())
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: user deleted")
	case err != nil:
		s.log.ErrorContext(ctx, "read user", slog.Any("error", err))
		return nil, status.Error(codes.Unavailable, "cannot verify credentials right now")
	case c.user.Disabled:
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: user disabled")
	case claims.Version != c.user.Version:
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: session ended; sign in again")
	}
	u := c.user
	return &Principal{Actor: "user:" + u.ID, user: &u, roles: c.roles}, nil
}

// deleteExpired removes refresh tokens past their expiry, which can never
// be used again; any node may run it, and running it twice is harmless.
func (ss *sessions) deleteExpired() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int
	err := ss.store.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) (err error) {
		n, err = tx.DeleteExpiredRefreshTokens(ctx, time.Now())
		return err
	})
	if err != nil {
		ss.log.Warn("delete expired refresh tokens", slog.Any("error", err))
	} else if n > 0 {
		ss.log.Info("deleted expired refresh tokens", slog.Int("count", n))
	}
}
