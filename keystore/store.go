package keystore

import (
	"context"
)

// Store is the durable home of workspaces, keys, devices and the audit log.
//
// Rules every backend follows (keystore/storetest checks them):
//   - Get*/Find* return ErrNotFound when nothing matches. Records are scoped
//     by workspace: asking for a key or device under another workspace id is
//     ErrNotFound, never the other workspace's record.
//   - Create* return ErrAlreadyExists for a duplicate id; Update* and
//     Delete* return ErrNotFound for a missing record.
//   - Values round-trip exactly: times at microsecond precision in UTC, nil
//     and empty maps and slices alike read back as empty (nil).
//   - Writes happen inside ReadWrite: all of a callback's writes commit
//     together, or none do.
//   - Backend errors never cross the interface unwrapped as sentinel errors.
type Store interface {
	Reader
	// ReadWrite runs fn in a transaction and commits when it returns nil; an
	// error rolls back and is returned as is; a panic rolls back and
	// continues. fn may be retried by a backend on serialization failures, so
	// it must not have side effects beyond tx, and must not call ReadWrite.
	ReadWrite(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
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
}

// Tx is a transaction: reads see its own writes.
type Tx interface {
	Reader

	CreateWorkspace(ctx context.Context, w Workspace) error
	UpdateWorkspace(ctx context.Context, w Workspace) error
	// DeleteWorkspace returns ErrNotEmpty while the workspace holds ingest
	// keys or devices, unless cascade is set; with cascade it deletes them.
	// The workspace's audit log is never deleted: it is history, and a
	// workspace created again with the same id continues its sequence.
	DeleteWorkspace(ctx context.Context, id string, cascade bool) error

	// CreateIngestKey returns ErrNotFound when the workspace does not exist.
	CreateIngestKey(ctx context.Context, k IngestKey) error
	UpdateIngestKey(ctx context.Context, k IngestKey) error
	DeleteIngestKey(ctx context.Context, workspaceID, id string) error

	// CreateDevice returns ErrNotFound when the workspace does not exist.
	CreateDevice(ctx context.Context, d Device) error
	UpdateDevice(ctx context.Context, d Device) error
	DeleteDevice(ctx context.Context, workspaceID, id string) error

	CreateAPIKey(ctx context.Context, k APIKey) error
	UpdateAPIKey(ctx context.Context, k APIKey) error
	DeleteAPIKey(ctx context.Context, id string) error

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
