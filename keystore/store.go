package keystore

import (
	"context"
	"time"
)

// Store is the durable home of workspaces, keys, devices, users (with their
// memberships and refresh tokens), signing keys and the audit log.
//
// Rules every backend follows (keystore/storetest checks them):
//   - Get*/Find* return ErrNotFound when nothing matches. Records are scoped
//     by workspace: asking for a key, device or membership under another
//     workspace id is ErrNotFound, never the other workspace's record.
//   - Create* return ErrAlreadyExists for a duplicate id (or another value
//     the database keeps unique: a user's email, a refresh token's hash);
//     Update* and Delete* return ErrNotFound for a missing record.
//   - Values round-trip exactly: times at microsecond precision in UTC, nil
//     and empty maps and slices alike read back as empty (nil). The
//     exception is usage, which Tx does not write (see RecordUsage).
//   - Writes happen inside ReadWrite: all of a callback's writes commit
//     together, or none do. The one exception is RecordUsage.
//   - Backend errors never cross the interface unwrapped as sentinel errors.
type Store interface {
	Reader
	// ReadWrite runs fn in a transaction and commits when it returns nil; an
	// error rolls back and is returned as is; a panic rolls back and
	// continues. fn may be retried by a backend on serialization failures, so
	// it must not have side effects beyond tx, and must not call ReadWrite.
	ReadWrite(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// RecordUsage adds what a node saw since its last flush, in a
	// transaction of its own: all of it is stored, or none of it.
	//   - For each KeyUsage it adds Records and Batches to the ingest key's
	//     RecordsReceived and BatchesReceived, and sets its LastUsedTime to
	//     the later of the stored time and LastUsed. Entries for one key add
	//     up, as separate calls would. A counter that would pass
	//     math.MaxInt64 (what a SQL BIGINT holds) stays at math.MaxInt64.
	//   - For each DeviceSeen it sets the device's LastSeenTime to the later
	//     of the stored time and LastSeen.
	//   - A zero LastUsed or LastSeen leaves the stored time as it is.
	//   - Keys and devices that do not exist in the given workspace are
	//     skipped without error: they may have been deleted since.
	//   - It writes nothing else (not even UpdateTime) and appends no audit
	//     event: usage is not a management change.
	// Usage (an ingest key's LastUsedTime, RecordsReceived and
	// BatchesReceived, a device's LastSeenTime) is written only here: Tx's
	// Create methods start it empty and its Update methods leave it as
	// stored, so a management update racing a flush never rolls it back.
	// Like ReadWrite, it must not be called from a ReadWrite callback.
	RecordUsage(ctx context.Context, keys []KeyUsage, devices []DeviceSeen) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Reader holds the queries; it is used both outside and inside transactions.
type Reader interface {
	GetWorkspace(ctx context.Context, id string) (Workspace, error)
	// ListWorkspaces orders by id ascending.
	ListWorkspaces(ctx context.Context, q WorkspaceQuery) ([]Workspace, error)

	GetIngestKey(ctx context.Context, workspaceID, id string) (IngestKey, error)
	// ListIngestKeys orders by id descending, which is newest first because
	// ids are time-ordered.
	ListIngestKeys(ctx context.Context, q IngestKeyQuery) ([]IngestKey, error)
	// FindIngestKeyByHash matches the current or the previous secret's hash,
	// in any workspace, regardless of status or expiry (the caller decides).
	FindIngestKeyByHash(ctx context.Context, h Hash) (IngestKey, error)

	GetDevice(ctx context.Context, workspaceID, id string) (Device, error)
	// ListDevices orders by id ascending.
	ListDevices(ctx context.Context, q DeviceQuery) ([]Device, error)

	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys orders by id descending (newest first).
	ListAPIKeys(ctx context.Context, q APIKeyQuery) ([]APIKey, error)
	// FindAPIKeyByHash matches the current or previous secret's hash.
	FindAPIKeyByHash(ctx context.Context, h Hash) (APIKey, error)

	// ListEvents returns one log's events in sequence order.
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)

	GetUser(ctx context.Context, id string) (User, error)
	// FindUserByEmail matches the stored email exactly: the caller
	// normalizes (NormalizeEmail) before storing and before looking up.
	FindUserByEmail(ctx context.Context, email string) (User, error)
	// ListMembers returns the users who are members of q.WorkspaceID, each
	// with their role there, ordered by user id ascending. A workspace
	// without members, or that does not exist, lists nothing.
	ListMembers(ctx context.Context, q MemberQuery) ([]Member, error)
	// ListMemberships returns every workspace role of one user, ordered by
	// workspace id; nothing for an unknown user.
	ListMemberships(ctx context.Context, userID string) ([]Membership, error)
	// GetMembership returns ErrNotFound when the user is not a member of
	// the workspace (or either does not exist).
	GetMembership(ctx context.Context, userID, workspaceID string) (Membership, error)

	// FindRefreshTokenByHash matches regardless of spent, revoked or expired
	// (the caller decides). A zero hash matches nothing.
	FindRefreshTokenByHash(ctx context.Context, h Hash) (RefreshToken, error)

	// ListSigningKeys returns every signing key, oldest first: by
	// CreateTime (a zero time first), then by id.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
}

// Tx is a transaction: reads see its own writes.
type Tx interface {
	Reader

	CreateWorkspace(ctx context.Context, w Workspace) error
	UpdateWorkspace(ctx context.Context, w Workspace) error
	// DeleteWorkspace returns ErrNotEmpty while the workspace holds ingest
	// keys or devices, unless cascade is set; with cascade it deletes them.
	// Memberships never make a workspace non-empty: they are deleted with
	// it either way (the users stay). The workspace's audit log is never
	// deleted: it is history, and a workspace created again with the same
	// id continues its sequence.
	DeleteWorkspace(ctx context.Context, id string, cascade bool) error

	// CreateIngestKey returns ErrNotFound when the workspace does not exist.
	// The key starts without usage: k's LastUsedTime, RecordsReceived and
	// BatchesReceived are ignored (see Store.RecordUsage).
	CreateIngestKey(ctx context.Context, k IngestKey) error
	// UpdateIngestKey writes every field but the usage, which keeps its
	// stored value whatever k holds.
	UpdateIngestKey(ctx context.Context, k IngestKey) error
	DeleteIngestKey(ctx context.Context, workspaceID, id string) error

	// CreateDevice returns ErrNotFound when the workspace does not exist.
	// The device starts never seen: d.LastSeenTime is ignored.
	CreateDevice(ctx context.Context, d Device) error
	// UpdateDevice writes every field but LastSeenTime, which keeps its
	// stored value.
	UpdateDevice(ctx context.Context, d Device) error
	DeleteDevice(ctx context.Context, workspaceID, id string) error

	CreateAPIKey(ctx context.Context, k APIKey) error
	UpdateAPIKey(ctx context.Context, k APIKey) error
	DeleteAPIKey(ctx context.Context, id string) error

	// CreateUser returns ErrAlreadyExists for a duplicate id or email.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser writes every field (PasswordHash, Disabled, Version and
	// LastLoginTime included). It returns ErrAlreadyExists when the new
	// email is another user's.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser deletes the user with its memberships and refresh tokens.
	DeleteUser(ctx context.Context, id string) error

	// PutMembership creates m.UserID's role in m.WorkspaceID or, when the
	// user is a member there already, updates Role and UpdateTime and keeps
	// the stored CreateTime. It returns ErrNotFound when the user or the
	// workspace does not exist.
	PutMembership(ctx context.Context, m Membership) error
	// DeleteMembership returns ErrNotFound when the user is not a member of
	// the workspace.
	DeleteMembership(ctx context.Context, userID, workspaceID string) error

	// CreateRefreshToken returns ErrNotFound when the user does not exist,
	// ErrAlreadyExists for a duplicate id or hash.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// SpendRefreshToken sets the token's SpentTime to at and returns true if
	// it was unspent; it returns false (and changes nothing) when the token
	// was spent already, so of two exchanges of one token exactly one wins.
	// Revocation and expiry are not checked (the caller decides). It
	// returns ErrNotFound for a missing token, ErrInvalidArgument for a
	// zero at (which would leave the token unspent).
	SpendRefreshToken(ctx context.Context, id string, at time.Time) (bool, error)
	// RevokeRefreshTokens sets RevokeTime to at on every token of userID
	// not yet revoked: those of one family when familyID is not empty, all
	// of the user's otherwise. It returns how many tokens it changed (0 for
	// none, or an unknown user), ErrInvalidArgument for a zero at.
	RevokeRefreshTokens(ctx context.Context, userID, familyID string, at time.Time) (int, error)
	// DeleteExpiredRefreshTokens deletes the tokens whose ExpireTime is
	// before before (a token with a zero ExpireTime never expires) and
	// returns how many it deleted.
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int, error)

	// CreateSigningKey returns ErrAlreadyExists for a duplicate id. Signing
	// keys are never updated or deleted.
	CreateSigningKey(ctx context.Context, k SigningKey) error

	// AppendEvent assigns the next sequence of the event's log (its
	// workspace's, or the global log for an empty WorkspaceID), starting at 1
	// and increasing by one per event, and returns the stored event. The
	// workspace need not exist (its deletion is logged in its own log).
	AppendEvent(ctx context.Context, e Event) (Event, error)
}

// Page bounds a list: at most Limit records that come after the record with
// id After in the list's order (so below After for newest-first lists).
// Limit 0 means no limit.
type Page struct {
	After string
	Limit int
}

// WorkspaceQuery filters ListWorkspaces.
type WorkspaceQuery struct {
	Page
	// IDs, when not empty, keeps only these workspaces.
	IDs []string
}

// IngestKeyQuery filters ListIngestKeys. Zero values do not filter.
type IngestKeyQuery struct {
	Page
	WorkspaceID string
	Status      Status
	// NameContains matches case-insensitively.
	NameContains string
	// Label keeps keys whose label Label.Key equals Label.Value.
	Label *Tag
}

// DeviceQuery filters ListDevices.
type DeviceQuery struct {
	Page
	WorkspaceID string
	// Tags keeps devices carrying every one of these tags.
	Tags     []Tag
	IDPrefix string
}

// APIKeyQuery filters ListAPIKeys.
type APIKeyQuery struct {
	Page
	Status Status
}

// EventQuery selects from one log.
type EventQuery struct {
	// WorkspaceID empty: the global log.
	WorkspaceID string
	// AfterSequence: events with a greater sequence (oldest first); with
	// NewestFirst, events with a smaller sequence, or all when 0.
	AfterSequence uint64
	NewestFirst   bool
	IngestKeyID   string
	DeviceID      string
	Limit         int
}

// MemberQuery selects ListMembers' workspace. Page.After is a user id.
type MemberQuery struct {
	WorkspaceID string
	Page
}

// KeyUsage is what one node saw of one ingest key since its last flush.
type KeyUsage struct {
	WorkspaceID, KeyID string
	// LastUsed is when the node last accepted a batch with the key.
	LastUsed         time.Time
	Records, Batches uint64
}

// DeviceSeen is when one node last saw a device.
type DeviceSeen struct {
	WorkspaceID, DeviceID string
	LastSeen              time.Time
}
