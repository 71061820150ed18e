package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

var refreshTokens = table{name: "refresh_tokens", keys: 1, cols: []string{
	"id", "user_id", "family_id", "hash", "create_time", "expire_time", "spent_time", "revoke_time",
}}

// Statements of the refresh token writes beyond insert. Spending and
// revoking change only rows not yet spent or revoked, so the affected row
// count says what happened; on PostgreSQL the row lock (and SERIALIZABLE)
// makes the second of two concurrent spends see the first.
const (
	spendRefreshTokenSQL  = "UPDATE refresh_tokens SET spent_time = $2 WHERE id = $1 AND spent_time IS NULL"
	refreshTokenExistsSQL = "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE id = $1)"
	revokeUserTokensSQL   = "UPDATE refresh_tokens SET revoke_time = $2 WHERE user_id = $1 AND revoke_time IS NULL"
	revokeFamilySQL       = "UPDATE refresh_tokens SET revoke_time = $3 WHERE user_id = $1 AND family_id = $2 AND revoke_time IS NULL"
	// A NULL expire_time (no expiry) is never before anything.
	deleteExpiredTokensSQL = "DELETE FROM refresh_tokens WHERE expire_time < $1"
)

func refreshTokenArgs(d Dialect, rt *keystore.RefreshToken) []any {
	return []any{rt.ID, rt.UserID, rt.FamilyID, hashArg(rt.Hash),
		d.TimeArg(rt.CreateTime), d.TimeArg(rt.ExpireTime), d.TimeArg(rt.SpentTime), d.TimeArg(rt.RevokeTime)}
}

func scanRefreshToken(d Dialect, sc Row) (keystore.RefreshToken, error) {
	var rt keystore.RefreshToken
	err := sc.Scan(&rt.ID, &rt.UserID, &rt.FamilyID, hashCol{&rt.Hash},
		d.TimeDest(&rt.CreateTime), d.TimeDest(&rt.ExpireTime), d.TimeDest(&rt.SpentTime), d.TimeDest(&rt.RevokeTime))
	return rt, err
}

func (r Reader) FindRefreshTokenByHash(ctx context.Context, h keystore.Hash) (keystore.RefreshToken, error) {
	if h.IsZero() {
		return keystore.RefreshToken{}, fmt.Errorf("%s: find refresh token: zero hash: %w", r.sql.name, keystore.ErrNotFound)
	}
	rt, err := scanRefreshToken(r.sql.d, r.db.QueryRow(ctx, r.sql.refreshTokens.find, h[:]))
	if err != nil {
		// The hash is a secret's digest: keep it out of error messages.
		return keystore.RefreshToken{}, r.sql.rowError("refresh token", "by hash", err)
	}
	return rt, nil
}

// CreateRefreshToken relies on the user foreign key (missing user:
// ErrNotFound) and on the primary key and the hash's UNIQUE constraint
// (ErrAlreadyExists).
func (t *Tx) CreateRefreshToken(ctx context.Context, rt keystore.RefreshToken) error {
	if _, err := t.db.Exec(ctx, t.sql.refreshTokens.insert, refreshTokenArgs(t.sql.d, &rt)...); err != nil {
		if t.sql.d.IsForeignKeyViolation(err) {
			return t.sql.notFound("user", rt.UserID)
		}
		return t.sql.DBError(fmt.Sprintf("create refresh token %q", rt.ID), err)
	}
	return nil
}

func (t *Tx) SpendRefreshToken(ctx context.Context, id string, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, fmt.Errorf("%s: spend refresh token %q: zero time: %w", t.sql.name, id, keystore.ErrInvalidArgument)
	}
	n, err := t.db.Exec(ctx, t.sql.spendRefreshToken, id, t.sql.d.TimeArg(at))
	if err != nil {
		return false, t.sql.DBError(fmt.Sprintf("spend refresh token %q", id), err)
	}
	if n > 0 {
		return true, nil
	}
	// Spent already, or missing.
	var exists bool
	if err := t.db.QueryRow(ctx, t.sql.refreshTokenExists, id).Scan(&exists); err != nil {
		return false, t.sql.DBError(fmt.Sprintf("spend refresh token %q", id), err)
	}
	if !exists {
		return false, t.sql.notFound("refresh token", id)
	}
	return false, nil
}

func (t *Tx) RevokeRefreshTokens(ctx context.Context, userID, familyID string, at time.Time) (int, error) {
	if at.IsZero() {
		return 0, fmt.Errorf("%s: revoke refresh tokens of user %q: zero time: %w", t.sql.name, userID, keystore.ErrInvalidArgument)
	}
	var (
		n   int64
		err error
	)
	if familyID == "" {
		n, err = t.db.Exec(ctx, t.sql.revokeUserTokens, userID, t.sql.d.TimeArg(at))
	} else {
		n, err = t.db.Exec(ctx, t.sql.revokeFamily, userID, familyID, t.sql.d.TimeArg(at))
	}
	if err != nil {
		return 0, t.sql.DBError(fmt.Sprintf("revoke refresh tokens of user %q", userID), err)
	}
	return int(n), nil
}

func (t *Tx) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int, error) {
	n, err := t.db.Exec(ctx, t.sql.deleteExpiredTokens, t.sql.d.TimeArg(before))
	if err != nil {
		return 0, t.sql.DBError("delete expired refresh tokens", err)
	}
	return int(n), nil
}
