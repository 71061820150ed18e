package storetest

import (
	"crypto/sha256"
	"math"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

// zone is deliberately not UTC: stores must hand times back in UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// at returns distinct times at microsecond precision in zone; the µs offset
// makes sure a backend that keeps only milliseconds or seconds fails.
func at(n int) time.Time {
	base := time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, zone)
	return base.Add(time.Duration(n) * (time.Hour + 17*time.Microsecond))
}

// utc is what a store returns for a time at microsecond precision.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func hashOf(s string) keystore.Hash { return sha256.Sum256([]byte(s)) }

func nilMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nilSlice[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func newWorkspace(id string) keystore.Workspace {
	return keystore.Workspace{ID: id, DisplayName: "Workspace " + id, CreateTime: at(1), UpdateTime: at(2)}
}

func wantWorkspace(w keystore.Workspace) keystore.Workspace {
	w.CreateTime, w.UpdateTime = utc(w.CreateTime), utc(w.UpdateTime)
	return w
}

// fullCredential sets every field, with hashes derived from seed.
func fullCredential(seed string) keystore.Credential {
	return keystore.Credential{
		Hash:                  hashOf(seed + "/current"),
		DisplayPrefix:         "ig_ikv1_AbC9eF",
		Status:                keystore.StatusInactive,
		ExpireTime:            at(100),
		RevokeTime:            at(101),
		RevokeReason:          "leaked in a CI log — \"rotate\"",
		PreviousHash:          hashOf(seed + "/previous"),
		PreviousDisplayPrefix: "ig_ikv1_ZyX0vU",
		PreviousExpireTime:    at(102),
		LastUsedTime:          at(103),
	}
}

// activeCredential is a plain active key with a current secret only.
func activeCredential(seed string) keystore.Credential {
	return keystore.Credential{Hash: hashOf(seed), DisplayPrefix: "ig_ikv1_" + seed[len(seed)-6:], Status: keystore.StatusActive}
}

func wantCredential(c keystore.Credential) keystore.Credential {
	c.ExpireTime, c.RevokeTime = utc(c.ExpireTime), utc(c.RevokeTime)
	c.PreviousExpireTime, c.LastUsedTime = utc(c.PreviousExpireTime), utc(c.LastUsedTime)
	return c
}

// fullIngestKey sets every field to a non-zero value, including text that
// needs escaping and the largest uint32 limit. Its usage is set too, for
// Create and Update to ignore.
func fullIngestKey(ws string) keystore.IngestKey {
	id := keystore.NewID("ik_")
	return keystore.IngestKey{
		ID:          id,
		WorkspaceID: ws,
		Name:        "Pümp station ☃ 'north'",
		Description: "line one\nline two\twith \"quotes\" and \\backslash",
		Labels:      map[string]string{"env": "prod", "team.name-x": "ops \"A\" ü", "n": "42"},
		Scope: keystore.Scope{
			DeviceIDs: []string{"dev-1", "Dev.2:x"},
			Tags:      []keystore.Tag{{Key: "site", Value: "berlin"}, {Key: "line", Value: "3"}},
		},
		Limits:          keystore.Limits{RecordsPerSecond: math.MaxUint32, MaxStreams: 7},
		Credential:      fullCredential(id),
		RecordsReceived: 1 << 40,
		BatchesReceived: 77,
		CreateTime:      at(3),
		UpdateTime:      at(4),
	}
}

// simpleIngestKey is an active key with a name and labels, for lists.
func simpleIngestKey(ws, name string, labels map[string]string) keystore.IngestKey {
	id := keystore.NewID("ik_")
	return keystore.IngestKey{
		ID: id, WorkspaceID: ws, Name: name, Labels: labels,
		Scope:      keystore.Scope{AllDevices: true},
		Credential: activeCredential(id),
		CreateTime: at(5), UpdateTime: at(5),
	}
}

// wantIngestKey is k as a store returns it while no usage is recorded:
// Create and Update ignore the usage fields.
func wantIngestKey(k keystore.IngestKey) keystore.IngestKey {
	return wantIngestKeyUsage(k, usage{})
}

// usage is what RecordUsage stored for a key or, with last only, a device.
type usage struct {
	last             time.Time
	records, batches uint64
}

// wantIngestKeyUsage is k as a store returns it with usage u recorded.
func wantIngestKeyUsage(k keystore.IngestKey, u usage) keystore.IngestKey {
	k.Labels = nilMap(k.Labels)
	k.Scope.DeviceIDs = nilSlice(k.Scope.DeviceIDs)
	k.Scope.Tags = nilSlice(k.Scope.Tags)
	k.Credential = wantCredential(k.Credential)
	k.CreateTime, k.UpdateTime = utc(k.CreateTime), utc(k.UpdateTime)
	k.LastUsedTime, k.RecordsReceived, k.BatchesReceived = utc(u.last), u.records, u.batches
	return k
}

// fullDevice sets every field, LastSeenTime for Create and Update to ignore.
func fullDevice(ws, id string) keystore.Device {
	return keystore.Device{
		WorkspaceID:  ws,
		ID:           id,
		DisplayName:  "Boiler ☃ \"B\"",
		Tags:         map[string]string{"site": "berlin", "line.no-x": "3 ü"},
		CreateTime:   at(6),
		UpdateTime:   at(7),
		LastSeenTime: at(8),
	}
}

// wantDevice is d as a store returns it while it was never seen: Create
// and Update ignore LastSeenTime.
func wantDevice(d keystore.Device) keystore.Device {
	return wantDeviceSeen(d, time.Time{})
}

// wantDeviceSeen is d as a store returns it when RecordUsage last saw it
// at last.
func wantDeviceSeen(d keystore.Device, last time.Time) keystore.Device {
	d.Tags = nilMap(d.Tags)
	d.CreateTime, d.UpdateTime, d.LastSeenTime = utc(d.CreateTime), utc(d.UpdateTime), utc(last)
	return d
}

func fullAPIKey() keystore.APIKey {
	id := keystore.NewID("ak_")
	c := fullCredential(id)
	c.DisplayPrefix, c.PreviousDisplayPrefix = "ig_mkv1_AbC9eF", "ig_mkv1_ZyX0vU"
	return keystore.APIKey{
		ID:           id,
		Name:         "CI deployer ü",
		Description:  "rotates keys\nnightly",
		Permissions:  []keystore.Permission{keystore.PermKeysWrite, keystore.PermKeysRead, keystore.PermEventsRead},
		WorkspaceIDs: []string{"ws-b", "ws-a"},
		Credential:   c,
		CreateTime:   at(9),
		UpdateTime:   at(10),
	}
}

func simpleAPIKey(status keystore.Status) keystore.APIKey {
	id := keystore.NewID("ak_")
	c := activeCredential(id)
	c.Status = status
	return keystore.APIKey{
		ID: id, Name: "key " + id, Permissions: []keystore.Permission{keystore.PermAdmin},
		Credential: c, CreateTime: at(11), UpdateTime: at(11),
	}
}

func wantAPIKey(k keystore.APIKey) keystore.APIKey {
	k.Permissions = nilSlice(k.Permissions)
	k.WorkspaceIDs = nilSlice(k.WorkspaceIDs)
	k.Credential = wantCredential(k.Credential)
	k.CreateTime, k.UpdateTime = utc(k.CreateTime), utc(k.UpdateTime)
	return k
}

func fullEvent(ws string) keystore.Event {
	return keystore.Event{
		WorkspaceID:   ws,
		Type:          ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_ROTATED,
		Time:          at(12),
		Actor:         "ak_01jexampleactor ü",
		IngestKeyID:   "ik_01jexamplekey",
		DeviceID:      "Dev.2:x",
		APIKeyID:      "ak_01jexampleapikey",
		UserID:        "us_01jexampleuser",
		DisplayPrefix: "ig_ikv1_AbC9eF",
		Reason:        "scheduled \"rotation\"\nsecond line",
		ChangedFields: []string{"name", "labels", "scope"},
	}
}

// wantEvent is e as stored with sequence seq.
func wantEvent(e keystore.Event, seq uint64) keystore.Event {
	e.Sequence = seq
	e.Time = utc(e.Time)
	e.ChangedFields = nilSlice(e.ChangedFields)
	return e
}

// fullUser sets every field to a non-zero value.
func fullUser(id, email string) keystore.User {
	return keystore.User{
		ID:            id,
		Email:         email,
		DisplayName:   "Ada Lovelace ü \"A\"\nsecond line",
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		Disabled:      true,
		Version:       1<<40 + 3,
		CreateTime:    at(20),
		UpdateTime:    at(21),
		LastLoginTime: at(22),
	}
}

// newUser is an enabled user who never signed in, with an email of its id.
func newUser(id string) keystore.User {
	return keystore.User{
		ID: id, Email: id + "@example.com", DisplayName: "User " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + id, Version: 1,
		CreateTime: at(23), UpdateTime: at(23),
	}
}

func wantUser(u keystore.User) keystore.User {
	u.CreateTime, u.UpdateTime, u.LastLoginTime = utc(u.CreateTime), utc(u.UpdateTime), utc(u.LastLoginTime)
	return u
}

func newMembership(userID, ws string, role keystore.Role) keystore.Membership {
	return keystore.Membership{UserID: userID, WorkspaceID: ws, Role: role, CreateTime: at(24), UpdateTime: at(25)}
}

func wantMembership(m keystore.Membership) keystore.Membership {
	m.CreateTime, m.UpdateTime = utc(m.CreateTime), utc(m.UpdateTime)
	return m
}

func wantMember(u keystore.User, role keystore.Role) keystore.Member {
	return keystore.Member{User: wantUser(u), Role: role}
}

// newRefreshToken is an unspent, unrevoked token expiring at expire, with
// a hash of its own.
func newRefreshToken(userID, familyID string, expire time.Time) keystore.RefreshToken {
	id := keystore.NewID("rt_")
	return keystore.RefreshToken{
		ID: id, UserID: userID, FamilyID: familyID, Hash: hashOf(id),
		CreateTime: at(30), ExpireTime: expire,
	}
}

// fullRefreshToken sets every field, spent and revoked included.
func fullRefreshToken(userID string) keystore.RefreshToken {
	t := newRefreshToken(userID, "fam_"+keystore.NewID(""), at(31))
	t.SpentTime, t.RevokeTime = at(32), at(33)
	return t
}

func wantRefreshToken(t keystore.RefreshToken) keystore.RefreshToken {
	t.CreateTime, t.ExpireTime = utc(t.CreateTime), utc(t.ExpireTime)
	t.SpentTime, t.RevokeTime = utc(t.SpentTime), utc(t.RevokeTime)
	return t
}

// signingKey has key bytes derived from id that include zero bytes and
// bytes above 0x7f, which text columns would mangle.
func signingKey(id string, created time.Time) keystore.SigningKey {
	h := hashOf(id)
	priv := append([]byte{0, 0xff, 0x80, 0}, h[:]...)
	priv = append(priv, h[:]...)
	return keystore.SigningKey{ID: id, Algorithm: "EdDSA", PrivateKey: priv, PublicKey: append([]byte{0}, h[:]...), CreateTime: created}
}

func wantSigningKey(k keystore.SigningKey) keystore.SigningKey {
	k.PrivateKey, k.PublicKey = nilSlice(k.PrivateKey), nilSlice(k.PublicKey)
	k.CreateTime = utc(k.CreateTime)
	return k
}

func workspaceID(w keystore.Workspace) string          { return w.ID }
func ingestKeyID(k keystore.IngestKey) string          { return k.ID }
func deviceID(d keystore.Device) string                { return d.ID }
func apiKeyID(k keystore.APIKey) string                { return k.ID }
func memberID(m keystore.Member) string                { return m.ID }
func membershipWorkspace(m keystore.Membership) string { return m.WorkspaceID }
func signingKeyID(k keystore.SigningKey) string        { return k.ID }
