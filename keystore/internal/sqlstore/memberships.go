package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/ingestgate/ingestgate/keystore"
)

var memberships = table{name: "memberships", keys: 2, cols: []string{
	"user_id", "workspace_id", "role", "create_time", "update_time",
}}

// putMembershipSQL creates a membership or changes its role and update
// time, keeping the stored create time.
func putMembershipSQL() string {
	return memberships.insertSQL() +
		" ON CONFLICT (user_id, workspace_id) DO UPDATE SET role = excluded.role, update_time = excluded.update_time"
}

// listMembersSQL selects the users columns and the member's role, from a
// workspace's memberships joined to their users.
func listMembersSQL() string {
	cols := make([]string, 0, len(users.cols)+1)
	for _, c := range users.cols {
		cols = append(cols, "u."+c)
	}
	cols = append(cols, "m.role")
	return "SELECT " + strings.Join(cols, ", ") + " FROM memberships m JOIN users u ON u.id = m.user_id"
}

func membershipArgs(d Dialect, m *keystore.Membership) []any {
	return []any{m.UserID, m.WorkspaceID, int64(m.Role), d.TimeArg(m.CreateTime), d.TimeArg(m.UpdateTime)}
}

func scanMembership(d Dialect, sc Row) (keystore.Membership, error) {
	var m keystore.Membership
	err := sc.Scan(&m.UserID, &m.WorkspaceID, &m.Role, d.TimeDest(&m.CreateTime), d.TimeDest(&m.UpdateTime))
	return m, err
}

func scanMember(d Dialect, sc Row) (keystore.Member, error) {
	var m keystore.Member
	err := sc.Scan(append(userDest(d, &m.User), &m.Role)...)
	return m, err
}

func (r Reader) GetMembership(ctx context.Context, userID, workspaceID string) (keystore.Membership, error) {
	m, err := scanMembership(r.sql.d, r.db.QueryRow(ctx, r.sql.memberships.get, userID, workspaceID))
	if err != nil {
		return keystore.Membership{}, r.sql.rowError("membership", userID+" in "+workspaceID, err)
	}
	return m, nil
}

func (r Reader) ListMemberships(ctx context.Context, userID string) ([]keystore.Membership, error) {
	f := r.filter()
	f.where("user_id = " + f.arg(userID))
	query, args := f.build(r.sql.memberships.sel, "workspace_id", 0)
	return queryAll(ctx, r, "memberships", scanMembership, query, args...)
}

// ListMembers always filters by workspace: an empty WorkspaceID lists
// nothing rather than every membership (a Member does not say where).
func (r Reader) ListMembers(ctx context.Context, q keystore.MemberQuery) ([]keystore.Member, error) {
	f := r.filter()
	f.where("m.workspace_id = " + f.arg(q.WorkspaceID))
	if q.After != "" {
		f.where("u.id > " + f.arg(q.After))
	}
	query, args := f.build(r.sql.listMembers, "u.id", q.Limit)
	return queryAll(ctx, r, "members", scanMember, query, args...)
}

// PutMembership is one upsert; a foreign key violation means the user or
// the workspace is missing (the database does not say which).
func (t *Tx) PutMembership(ctx context.Context, m keystore.Membership) error {
	if _, err := t.db.Exec(ctx, t.sql.putMembership, membershipArgs(t.sql.d, &m)...); err != nil {
		if t.sql.d.IsForeignKeyViolation(err) {
			return fmt.Errorf("%s: put membership: user %q or workspace %q: %w", t.sql.name, m.UserID, m.WorkspaceID, keystore.ErrNotFound)
		}
		return t.sql.DBError(fmt.Sprintf("put membership of user %q in workspace %q", m.UserID, m.WorkspaceID), err)
	}
	return nil
}

func (t *Tx) DeleteMembership(ctx context.Context, userID, workspaceID string) error {
	n, err := t.db.Exec(ctx, t.sql.memberships.delete, userID, workspaceID)
	return t.sql.affectedOne(n, err, "delete", "membership", userID+" in "+workspaceID)
}
