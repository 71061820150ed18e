package sqlstore

import (
	"github.com/ingestgate/ingestgate/keystore"
)

// Queries is the keystore's SQL rendered for one Dialect. A backend builds
// it once (New) and reads and writes through the Reader and Tx it makes.
type Queries struct {
	d    Dialect
	name string // d.Name(), the prefix of error messages

	workspaces, ingestKeys, apiKeys, devices, events statements
	users, memberships, refreshTokens, signingKeys   statements
	// workspaceInUse and deleteWorkspace serve Tx.DeleteWorkspace.
	workspaceInUse  string
	deleteWorkspace []string
	nextSequence    string
	// deleteUser deletes what belongs to a user, before users.delete.
	deleteUser                 []string
	listMembers, putMembership string
	spendRefreshToken          string
	refreshTokenExists         string
	revokeUserTokens           string
	revokeFamily               string
	deleteExpiredTokens        string
}

// New renders every statement for d.
func New(d Dialect) *Queries {
	q := &Queries{
		d:    d,
		name: d.Name(),

		workspaces: workspaces.statements(d),
		ingestKeys: ingestKeys.statements(d),
		apiKeys:    apiKeys.statements(d),
		devices:    devices.statements(d),
		events:     events.statements(d),

		users:         users.statements(d),
		memberships:   memberships.statements(d),
		refreshTokens: refreshTokens.statements(d),
		signingKeys:   signingKeys.statements(d),

		workspaceInUse: render(d, workspaceInUseSQL),
		nextSequence:   render(d, nextSequenceSQL),

		listMembers:         listMembersSQL(),
		putMembership:       render(d, putMembershipSQL()),
		spendRefreshToken:   render(d, spendRefreshTokenSQL),
		refreshTokenExists:  render(d, refreshTokenExistsSQL),
		revokeUserTokens:    render(d, revokeUserTokensSQL),
		revokeFamily:        render(d, revokeFamilySQL),
		deleteExpiredTokens: render(d, deleteExpiredTokensSQL),
	}
	q.ingestKeys.find = render(d, findByHashSQL(q.ingestKeys.sel))
	q.apiKeys.find = render(d, findByHashSQL(q.apiKeys.sel))
	q.users.find = render(d, q.users.sel+" WHERE email = $1")
	q.refreshTokens.find = render(d, q.refreshTokens.sel+" WHERE hash = $1")
	for _, s := range deleteWorkspaceSQL {
		q.deleteWorkspace = append(q.deleteWorkspace, render(d, s))
	}
	for _, s := range deleteUserSQL {
		q.deleteUser = append(q.deleteUser, render(d, s))
	}
	return q
}

// HotQueries are the statements worth preparing once per connection: the
// by-hash lookups, which run on every credential check the verifier's
// cache misses, and the reads of an ingest key and a device that every
// device stream's open makes; preparing is a large part of their cost (a
// tenth of a node's CPU in a reconnect storm). pgx prepares and caches
// every statement per connection by itself; database/sql does not.
func (q *Queries) HotQueries() []string {
	return []string{q.ingestKeys.find, q.apiKeys.find, q.ingestKeys.get, q.devices.get}
}

// Reader implements keystore.Reader once, for a pool and for transactions.
type Reader struct {
	sql *Queries
	db  Querier
}

var _ keystore.Reader = Reader{}

// Reader reads through db: a pool, or a transaction.
func (q *Queries) Reader(db Querier) Reader { return Reader{sql: q, db: db} }

// filter starts a list query's conditions.
func (r Reader) filter() filter { return filter{d: r.sql.d} }

// Tx is a keystore.Tx: the Reader over the transaction plus the writes.
type Tx struct {
	Reader
	// logs are the audit logs AppendEvent wrote to, in order: the rows a
	// PostgreSQL backend serializes writers on (see Logs).
	logs []string
}

// Logs returns the audit logs this transaction appended to (each once),
// so a backend whose attempt lost a conflict on a log's counter can take
// that log's lock before the next attempt.
func (t *Tx) Logs() []string { return t.logs }

var _ keystore.Tx = (*Tx)(nil)

// Tx reads and writes through db, a transaction the backend begins,
// commits and (on PostgreSQL) retries.
func (q *Queries) Tx(db Querier) *Tx { return &Tx{Reader: q.Reader(db)} }
