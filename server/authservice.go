package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/ratelimit"
)

// Rate limits of the sign-in endpoints, per minute.
var (
	loginPerIP      = perMinute(60)
	loginPerEmail   = perMinute(15)
	refreshPerToken = perMinute(30)
	refreshPerIP    = perMinute(100)
	// Password changes (each checks the current password) per user.
	passwordChangesPerUser = perMinute(5)
)

func perMinute(n int) ratelimit.Limit {
	return ratelimit.Limit{Rate: n, Period: time.Minute, Burst: n}
}

type authService struct {
	ingestgatev1.UnimplementedAuthServiceServer
	*Server
}

var errInvalidCredentials = status.Error(codes.Unauthenticated, "Invalid credentials")

// limitAuth takes one attempt from the bucket key, or answers
// RESOURCE_EXHAUSTED with RetryInfo (HTTP 429 with Retry-After).
func (a *authService) limitAuth(ctx context.Context, key string, lim ratelimit.Limit, what string) error {
	d := a.authBuckets.allow(ctx, key, lim, 1)
	if d.Allowed {
		return nil
	}
	return retryAfter(d.RetryAfter, "too many %s; retry after %s", what, d.RetryAfter.Round(time.Second))
}

// digest names a bucket by something that should not sit in Redis in
// clear text (an email, a token).
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

func (a *authService) Login(ctx context.Context, req *ingestgatev1.LoginRequest) (*ingestgatev1.LoginResponse, error) {
	email, err := keystore.NormalizeEmail(req.GetEmail())
	if err != nil {
		return nil, checkInput(err)
	}
	ip := a.clientIP(ctx)
	if err := a.limitAuth(ctx, "login:ip:"+addrKey(ip), loginPerIP, "sign-in attempts from this address"); err != nil {
		return nil, err
	}
	if err := a.limitAuth(ctx, "login:email:"+digest(email), loginPerEmail, "sign-in attempts for this email"); err != nil {
		return nil, err
	}
	pw := req.GetPassword()
	if len(pw) > keystore.MaxPasswordLen {
		// No password is this long; same (bounded) work as any failure.
		if err := keystore.CheckNoPassword(ctx, pw[:keystore.MaxPasswordLen]); err != nil {
			return nil, passwordError(err)
		}
		a.metrics.authFailed(ctx, "password", "invalid")
		return nil, errInvalidCredentials
	}
	u, err := a.store.FindUserByEmail(ctx, email)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		// Same work, same answer as a wrong password: the response does
		// not tell whether the email has an account.
		if err := keystore.CheckNoPassword(ctx, pw); err != nil {
			return nil, passwordError(err)
		}
		a.log.InfoContext(ctx, "sign-in failed", slog.String("reason", "unknown email"), slog.String("client_ip", ip))
		a.metrics.authFailed(ctx, "password", "invalid") // one reason: metrics are public
		return nil, errInvalidCredentials
	case err != nil:
		a.log.ErrorContext(ctx, "find user", slog.Any("error", err))
		return nil, status.Error(codes.Unavailable, "cannot sign in right now; retry")
	}
	ok, err := keystore.CheckPassword(ctx, u.PasswordHash, pw)
	if err != nil {
		return nil, passwordError(err)
	}
	if !ok || u.Disabled {
		reason := "wrong password"
		if u.Disabled {
			reason = "user disabled"
		}
		a.log.InfoContext(ctx, "sign-in failed", slog.String("reason", reason), slog.String("user_id", u.ID), slog.String("client_ip", ip))
		a.metrics.authFailed(ctx, "password", "invalid")
		return nil, errInvalidCredentials
	}
	now := a.now()
	var secret string
	err = a.store.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		cur, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		// The password was checked against u, read before this
		// transaction: a password change or a disabling that committed
		// since must win.
		if cur.Version != u.Version || cur.Disabled {
			return errInvalidCredentials
		}
		cur.LastLoginTime = now
		if err := tx.UpdateUser(ctx, cur); err != nil {
			return err
		}
		u = cur
		secret, err = a.newRefreshToken(ctx, tx, u.ID, keystore.NewID("rf_"), now)
		return err
	})
	if err != nil {
		return nil, a.storeError(ctx, err, "user", u.ID)
	}
	a.log.InfoContext(ctx, "signed in", slog.String("user_id", u.ID), slog.String("client_ip", ip))
	return a.pair(u, secret, now)
}

// newRefreshToken stores a new refresh token of family for the user and
// returns its secret.
func (a *authService) newRefreshToken(ctx context.Context, tx keystore.Tx, userID, family string, now time.Time) (string, error) {
	secret, err := a.sessions.refresh.Generate()
	if err != nil {
		return "", err
	}
	return secret, tx.CreateRefreshToken(ctx, keystore.RefreshToken{
		ID: keystore.NewID("rt_"), UserID: userID, FamilyID: family, Hash: a.hasher.Hash(secret),
		CreateTime: now, ExpireTime: now.Add(a.cfg.RefreshTokenTTL),
	})
}

// pair signs an access token and answers with both tokens.
func (a *authService) pair(u keystore.User, refresh string, now time.Time) (*ingestgatev1.LoginResponse, error) {
	access, exp, err := a.sessions.signer.Issue(u.ID, u.Version, now)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	return &ingestgatev1.LoginResponse{
		AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn:        int32(exp.Sub(now) / time.Second),
		RefreshExpiresIn: int32(a.cfg.RefreshTokenTTL / time.Second),
	}, nil
}

// reused answers a spent refresh token presented again: someone holds a
// copy. Its family is revoked, and the user's version bumped so every
// access token issued so far (the copier's too) is refused at once; the
// user's other sign-ins refresh and carry on.
func (a *authService) reused(ctx context.Context, tx keystore.Tx, rt keystore.RefreshToken, now time.Time, revokeFamily func(refreshOutcome) error) ([]keystore.Event, error) {
	if err := revokeFamily(refreshReused); err != nil {
		return nil, err
	}
	u, err := tx.GetUser(ctx, rt.UserID)
	if err != nil {
		return nil, err
	}
	u.Version, u.UpdateTime = u.Version+1, now
	if err := tx.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return []keystore.Event{{UserID: u.ID, Type: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_UPDATED, Reason: "refresh token used twice: its sign-in revoked, access tokens ended"}}, nil
}

// refreshOutcome is what a refresh token turned out to be.
type refreshOutcome int

const (
	refreshOK refreshOutcome = iota
	refreshUnknown
	refreshExpired
	refreshEnded  // revoked, or its user disabled or deleted
	refreshReused // spent before: the family is revoked now
)

// findRefresh parses and looks up a presented refresh token; the guard
// counts a malformed or unknown one as a failed credential check.
func (a *authService) findRefresh(ctx context.Context, secret string) (keystore.Hash, error) {
	ip := a.clientIP(ctx)
	if err := a.guard.check(ip); err != nil {
		return keystore.Hash{}, err
	}
	if secret == "" {
		return keystore.Hash{}, status.Error(codes.Unauthenticated, "Invalid credentials: refresh_token is required")
	}
	if a.sessions.refresh.Parse(secret) != nil {
		if err := a.guard.failed(ctx, ip); err != nil {
			return keystore.Hash{}, err
		}
		return keystore.Hash{}, errInvalidCredentials
	}
	return a.hasher.Hash(secret), nil
}

func (a *authService) Refresh(ctx context.Context, req *ingestgatev1.RefreshRequest) (*ingestgatev1.RefreshResponse, error) {
	ip := a.clientIP(ctx)
	if err := a.limitAuth(ctx, "refresh:ip:"+addrKey(ip), refreshPerIP, "refreshes from this address"); err != nil {
		return nil, err
	}
	h, err := a.findRefresh(ctx, req.GetRefreshToken())
	if err != nil {
		return nil, err
	}
	if err := a.limitAuth(ctx, "refresh:token:"+digest(string(h[:])), refreshPerToken, "refreshes of this token"); err != nil {
		return nil, err
	}
	now := a.now()
	var (
		outcome refreshOutcome
		u       keystore.User
		secret  string
	)
	// Every outcome commits: a reused token's family must stay revoked even
	// though the call fails.
	err = a.commit(ctx, "system", func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		outcome, secret = refreshOK, ""
		rt, err := tx.FindRefreshTokenByHash(ctx, h)
		if errors.Is(err, keystore.ErrNotFound) {
			outcome = refreshUnknown
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		revokeFamily := func(o refreshOutcome) error {
			outcome = o
			_, err := tx.RevokeRefreshTokens(ctx, rt.UserID, rt.FamilyID, now)
			return err
		}
		switch {
		case !rt.RevokeTime.IsZero():
			outcome = refreshEnded
			return nil, nil
		case !rt.SpentTime.IsZero():
			return a.reused(ctx, tx, rt, now, revokeFamily)
		case !now.Before(rt.ExpireTime):
			outcome = refreshExpired
			return nil, nil
		}
		if u, err = tx.GetUser(ctx, rt.UserID); err != nil {
			return nil, err // the user's deletion took its tokens with it
		}
		if u.Disabled {
			return nil, revokeFamily(refreshEnded)
		}
		if spent, err := tx.SpendRefreshToken(ctx, rt.ID, now); err != nil {
			return nil, err
		} else if !spent {
			return a.reused(ctx, tx, rt, now, revokeFamily)
		}
		secret, err = a.newRefreshToken(ctx, tx, u.ID, rt.FamilyID, now)
		return nil, err
	})
	if err != nil {
		return nil, a.storeError(ctx, err, "refresh token", "")
	}
	switch outcome {
	case refreshUnknown:
		if err := a.guard.failed(ctx, ip); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	case refreshExpired:
		return nil, status.Error(codes.Unauthenticated, "Token expired")
	case refreshEnded:
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: session ended; sign in again")
	case refreshReused:
		a.log.WarnContext(ctx, "refresh token used twice; every token of its sign-in is revoked", slog.String("client_ip", ip))
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: refresh token already used; every session of this sign-in is ended")
	}
	p, err := a.pair(u, secret, now)
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.RefreshResponse{
		AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, ExpiresIn: p.ExpiresIn,
		TokenType: p.TokenType, RefreshExpiresIn: p.RefreshExpiresIn,
	}, nil
}

func (a *authService) Logout(ctx context.Context, req *ingestgatev1.LogoutRequest) (*ingestgatev1.LogoutResponse, error) {
	h, err := a.findRefresh(ctx, req.GetRefreshToken())
	if err != nil {
		return nil, err
	}
	found := true
	err = a.store.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		rt, err := tx.FindRefreshTokenByHash(ctx, h)
		if errors.Is(err, keystore.ErrNotFound) {
			found = false
			return nil
		} else if err != nil {
			return err
		}
		_, err = tx.RevokeRefreshTokens(ctx, rt.UserID, rt.FamilyID, a.now())
		return err
	})
	if err != nil {
		return nil, a.storeError(ctx, err, "refresh token", "")
	}
	if !found {
		if err := a.guard.failed(ctx, a.clientIP(ctx)); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	}
	return &ingestgatev1.LogoutResponse{}, nil
}

func (a *authService) GetCurrentPrincipal(ctx context.Context, _ *ingestgatev1.GetCurrentPrincipalRequest) (*ingestgatev1.GetCurrentPrincipalResponse, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, errInvalidCredentials
	}
	resp := &ingestgatev1.GetCurrentPrincipalResponse{Actor: p.Actor}
	if k := p.apiKey; k != nil {
		resp.ApiKey = &ingestgatev1.ApiKeyPrincipal{Id: k.ID, DisplayPrefix: k.DisplayPrefix, WorkspaceIds: k.WorkspaceIDs}
		for _, perm := range k.Permissions {
			resp.ApiKey.Permissions = append(resp.ApiKey.Permissions, string(perm))
		}
		return resp, nil
	}
	resp.User = userToPB(*p.user, 0)
	ids, _ := p.visibleWorkspaces()
	for _, ws := range ids {
		m := &ingestgatev1.Membership{WorkspaceId: ws, Role: p.roles[ws]}
		for _, perm := range keystore.RolePermissions(p.roles[ws]) {
			m.Permissions = append(m.Permissions, string(perm))
		}
		resp.Memberships = append(resp.Memberships, m)
	}
	return resp, nil
}

func (a *authService) ChangePassword(ctx context.Context, req *ingestgatev1.ChangePasswordRequest) (*ingestgatev1.ChangePasswordResponse, error) {
	p := principalFrom(ctx)
	if p == nil || p.user == nil {
		return nil, status.Error(codes.FailedPrecondition, "only a signed-in user has a password to change")
	}
	if err := keystore.ValidatePassword(req.GetNewPassword()); err != nil {
		return nil, checkInput(err)
	}
	// Bounds guessing with a stolen access token, however many calls run
	// at once: the bucket is taken before the password is checked.
	if err := a.limitAuth(ctx, "password:user:"+p.user.ID, passwordChangesPerUser, "password attempts for this user"); err != nil {
		return nil, err
	}
	cur := req.GetCurrentPassword()
	ok := false
	if len(cur) <= keystore.MaxPasswordLen {
		var err error
		if ok, err = keystore.CheckPassword(ctx, p.user.PasswordHash, cur); err != nil {
			return nil, passwordError(err)
		}
	}
	if !ok {
		ip := a.clientIP(ctx)
		if err := a.guard.failed(ctx, ip); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: current_password is wrong")
	}
	hash, err := keystore.HashPassword(ctx, req.GetNewPassword())
	if err != nil {
		return nil, passwordError(err)
	}
	now := a.now()
	err = a.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		u, err := tx.GetUser(ctx, p.user.ID)
		if err != nil {
			return nil, err
		}
		u.PasswordHash, u.Version, u.UpdateTime = hash, u.Version+1, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
		if _, err := tx.RevokeRefreshTokens(ctx, u.ID, "", now); err != nil {
			return nil, err
		}
		return []keystore.Event{{UserID: u.ID, Type: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_PASSWORD_CHANGED}}, nil
	})
	if err != nil {
		return nil, a.storeError(ctx, err, "user", p.user.ID)
	}
	return &ingestgatev1.ChangePasswordResponse{}, nil
}
