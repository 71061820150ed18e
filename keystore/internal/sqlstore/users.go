package sqlstore

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var users = table{name: "users", keys: 1, cols: []string{
	"id", "email", "display_name", "password_hash", "disabled", "version",
	"create_time", "update_time", "last_login_time",
}}

// deleteUserSQL deletes a user and what belongs to it; the user's row goes
// last, after the rows whose foreign keys point at it.
var deleteUserSQL = []string{
	"DELETE FROM memberships WHERE user_id = $1",
	"DELETE FROM refresh_tokens WHERE user_id = $1",
}

func userArgs(d Dialect, u *keystore.User) []any {
	return []any{u.ID, u.Email, u.DisplayName, u.PasswordHash, u.Disabled, u.Version,
		d.TimeArg(u.CreateTime), d.TimeArg(u.UpdateTime), d.TimeArg(u.LastLoginTime)}
}

// userDest is where the users columns scan to, in order.
func userDest(d Dialect, u *keystore.User) []any {
	return []any{&u.ID, &u.Email, &u.DisplayName, &u.PasswordHash, &u.Disabled, &u.Version,
		d.TimeDest(&u.CreateTime), d.TimeDest(&u.UpdateTime), d.TimeDest(&u.LastLoginTime)}
}

func scanUser(d Dialect, sc Row) (keystore.User, error) {
	var u keystore.User
	err := sc.Scan(userDest(d, &u)...)
	return u, err
}

func (r Reader) GetUser(ctx context.Context, id string) (keystore.User, error) {
	u, err := scanUser(r.sql.d, r.db.QueryRow(ctx, r.sql.users.get, id))
	if err != nil {
		return keystore.User{}, r.sql.rowError("user", id, err)
	}
	return u, nil
}

func (r Reader) FindUserByEmail(ctx context.Context, email string) (keystore.User, error) {
	u, err := scanUser(r.sql.d, r.db.QueryRow(ctx, r.sql.users.find, email))
	if err != nil {
		// An email is personal data: keep it out of error messages.
		return keystore.User{}, r.sql.rowError("user", "by email", err)
	}
	return u, nil
}

// CreateUser relies on the primary key and the email's UNIQUE constraint:
// either failing is ErrAlreadyExists.
func (t *Tx) CreateUser(ctx context.Context, u keystore.User) error {
	if _, err := t.db.Exec(ctx, t.sql.users.insert, userArgs(t.sql.d, &u)...); err != nil {
		return t.sql.DBError(fmt.Sprintf("create user %q", u.ID), err)
	}
	return nil
}

func (t *Tx) UpdateUser(ctx context.Context, u keystore.User) error {
	n, err := t.db.Exec(ctx, t.sql.users.update, userArgs(t.sql.d, &u)...)
	return t.sql.affectedOne(n, err, "update", "user", u.ID)
}

func (t *Tx) DeleteUser(ctx context.Context, id string) error {
	for _, stmt := range t.sql.deleteUser {
		if _, err := t.db.Exec(ctx, stmt, id); err != nil {
			return t.sql.DBError(fmt.Sprintf("delete user %q", id), err)
		}
	}
	n, err := t.db.Exec(ctx, t.sql.users.delete, id)
	return t.sql.affectedOne(n, err, "delete", "user", id)
}
