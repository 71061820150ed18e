package keystore

import (
	"slices"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// Status and EventType reuse the wire enums: they are part of the contract
// and the audit log stores them as numbers.
type (
	Status    = ingestgatev1.KeyStatus
	EventType = ingestgatev1.KeyEventType
)

const (
	StatusActive   = ingestgatev1.KeyStatus_KEY_STATUS_ACTIVE
	StatusInactive = ingestgatev1.KeyStatus_KEY_STATUS_INACTIVE
	StatusRevoked  = ingestgatev1.KeyStatus_KEY_STATUS_REVOKED
)

// Workspace is a tenant.
type Workspace struct {
	ID          string
	DisplayName string
	CreateTime  time.Time
	UpdateTime  time.Time
}

// Tag is one `key=value` pair of a key's scope.
type Tag struct {
	Key, Value string
}

func (t Tag) String() string { return t.Key + "=" + t.Value }

// Scope says which devices an ingest key admits.
type Scope struct {
	AllDevices bool
	DeviceIDs  []string
	Tags       []Tag
}

// Admits reports whether a device with this id and these tags is in scope.
func (s Scope) Admits(deviceID string, tags map[string]string) bool {
	if s.AllDevices {
		return true
	}
	if slices.Contains(s.DeviceIDs, deviceID) {
		return true
	}
	for _, t := range s.Tags {
		if v, ok := tags[t.Key]; ok && v == t.Value {
			return true
		}
	}
	return false
}

// Limits bound what one ingest key may do; zero means the server default.
type Limits struct {
	RecordsPerSecond uint32
	MaxStreams       uint32
}

// Credential is the part ingest keys and API keys share: the hashed secret,
// its rotation slot and the lifecycle status. Its methods implement the
// lifecycle rules; they change the value and return ErrInvalidTransition
// (with a message for the caller) when the change is not allowed.
type Credential struct {
	Hash          Hash
	DisplayPrefix string
	Status        Status
	// ExpireTime zero: never expires.
	ExpireTime   time.Time
	RevokeTime   time.Time
	RevokeReason string
	// PreviousHash is accepted until PreviousExpireTime after a rotation.
	PreviousHash          Hash
	PreviousDisplayPrefix string
	PreviousExpireTime    time.Time
	// LastUsedTime is usage: for an ingest key it is written only by
	// Store.RecordUsage, never by Tx.CreateIngestKey or Tx.UpdateIngestKey.
	// API keys have no RecordUsage and write it through their Tx methods.
	LastUsedTime time.Time
}

// Expired reports whether the key has passed its expiry at now.
func (c *Credential) Expired(now time.Time) bool {
	return !c.ExpireTime.IsZero() && !now.Before(c.ExpireTime)
}

// Deactivate makes an active key inactive. It reports whether anything
// changed: deactivating an inactive key is a no-op.
func (c *Credential) Deactivate() (bool, error) {
	switch c.Status {
	case StatusRevoked:
		return false, transition("key is revoked; a revoked key cannot be deactivated")
	case StatusInactive:
		return false, nil
	}
	c.Status = StatusInactive
	return true, nil
}

// Activate makes an inactive key active again; activating an active key is
// a no-op.
func (c *Credential) Activate() (bool, error) {
	switch c.Status {
	case StatusRevoked:
		return false, transition("key is revoked; revocation is final, create a new key instead")
	case StatusActive:
		return false, nil
	}
	c.Status = StatusActive
	return true, nil
}

// Revoke makes the key unusable for good, including any previous secret
// still in its grace period.
func (c *Credential) Revoke(reason string, now time.Time) error {
	if c.Status == StatusRevoked {
		return transition("key is already revoked")
	}
	c.Status = StatusRevoked
	c.RevokeTime = now
	c.RevokeReason = reason
	c.clearPrevious()
	return nil
}

// Rotate installs a new secret. The current one becomes the previous secret,
// accepted until now+grace; with zero grace it stops working at once. Any
// earlier previous secret is dropped.
func (c *Credential) Rotate(newHash Hash, newDisplayPrefix string, grace time.Duration, now time.Time) error {
	if c.Status == StatusRevoked {
		return transition("key is revoked; a revoked key cannot be rotated")
	}
	if grace > 0 {
		c.PreviousHash = c.Hash
		c.PreviousDisplayPrefix = c.DisplayPrefix
		c.PreviousExpireTime = now.Add(grace)
	} else {
		c.clearPrevious()
	}
	c.Hash = newHash
	c.DisplayPrefix = newDisplayPrefix
	return nil
}

// CheckUpdatable refuses changes to a revoked key.
func (c *Credential) CheckUpdatable() error {
	if c.Status == StatusRevoked {
		return transition("key is revoked; a revoked key cannot be changed, only deleted")
	}
	return nil
}

func (c *Credential) clearPrevious() {
	c.PreviousHash = Hash{}
	c.PreviousDisplayPrefix = ""
	c.PreviousExpireTime = time.Time{}
}

// IngestKey is a device credential.
type IngestKey struct {
	ID          string
	WorkspaceID string
	Name        string
	Description string
	Labels      map[string]string
	Scope       Scope
	Limits      Limits
	Credential
	// RecordsReceived and BatchesReceived count the records and batches
	// nodes accepted with the key since it was created. With LastUsedTime
	// they are the key's usage, written only by Store.RecordUsage: they
	// start at 0, and Tx.UpdateIngestKey leaves them as stored, whatever
	// these fields hold.
	RecordsReceived uint64
	BatchesReceived uint64
	CreateTime      time.Time
	UpdateTime      time.Time
}

// APIKey is a management credential.
type APIKey struct {
	ID          string
	Name        string
	Description string
	Permissions []Permission
	// WorkspaceIDs empty: every workspace.
	WorkspaceIDs []string
	Credential
	CreateTime time.Time
	UpdateTime time.Time
}

// Device is a registered device.
type Device struct {
	WorkspaceID string
	ID          string
	DisplayName string
	Tags        map[string]string
	CreateTime  time.Time
	UpdateTime  time.Time
	// LastSeenTime is usage, written only by Store.RecordUsage: it starts
	// unset, and Tx.UpdateDevice leaves it as stored.
	LastSeenTime time.Time
}

// Event is one audit log entry. Sequence is assigned by Tx.AppendEvent.
type Event struct {
	// WorkspaceID empty: the global log.
	WorkspaceID   string
	Sequence      uint64
	Type          EventType
	Time          time.Time
	Actor         string
	IngestKeyID   string
	DeviceID      string
	APIKeyID      string
	UserID        string // the user a user event is about
	DisplayPrefix string
	Reason        string
	ChangedFields []string
}
