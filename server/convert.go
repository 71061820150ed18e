package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

// Conversions between keystore records and wire messages. Hashes never leave
// the keystore types: no wire message has a field for them.

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func workspaceToPB(w keystore.Workspace) *ingestgatev1.Workspace {
	return &ingestgatev1.Workspace{
		Id:          w.ID,
		DisplayName: w.DisplayName,
		CreateTime:  ts(w.CreateTime),
		UpdateTime:  ts(w.UpdateTime),
	}
}

func scopeToPB(s keystore.Scope) *ingestgatev1.KeyScope {
	out := &ingestgatev1.KeyScope{AllDevices: s.AllDevices, DeviceIds: s.DeviceIDs}
	for _, t := range s.Tags {
		out.Tags = append(out.Tags, t.String())
	}
	return out
}

// scopeFromPB parses a wire scope; nil means all devices.
func scopeFromPB(s *ingestgatev1.KeyScope) (keystore.Scope, error) {
	if s == nil {
		return keystore.Scope{AllDevices: true}, nil
	}
	tags, err := keystore.ParseTags(s.GetTags())
	if err != nil {
		return keystore.Scope{}, err
	}
	return keystore.NormalizeScope(keystore.Scope{AllDevices: s.GetAllDevices(), DeviceIDs: s.GetDeviceIds(), Tags: tags})
}

func ingestKeyToPB(k keystore.IngestKey, now time.Time) *ingestgatev1.IngestKey {
	return &ingestgatev1.IngestKey{
		Id:                       k.ID,
		WorkspaceId:              k.WorkspaceID,
		Name:                     k.Name,
		Description:              k.Description,
		Labels:                   k.Labels,
		DisplayPrefix:            k.DisplayPrefix,
		Status:                   k.Status,
		Scope:                    scopeToPB(k.Scope),
		ExpireTime:               ts(k.ExpireTime),
		Expired:                  k.Expired(now),
		Limits:                   &ingestgatev1.KeyLimits{RecordsPerSecond: k.Limits.RecordsPerSecond, MaxStreams: k.Limits.MaxStreams},
		RevokeTime:               ts(k.RevokeTime),
		RevokeReason:             k.RevokeReason,
		PreviousSecretExpireTime: previousExpiry(&k.Credential, now),
		PreviousDisplayPrefix:    previousPrefix(&k.Credential, now),
		CreateTime:               ts(k.CreateTime),
		UpdateTime:               ts(k.UpdateTime),
		LastUsedTime:             ts(k.LastUsedTime),
		RecordsReceived:          k.RecordsReceived,
		BatchesReceived:          k.BatchesReceived,
	}
}

// ingestKeyPB and devicePB add what only this node knows: its live streams.
func (s *Server) ingestKeyPB(k keystore.IngestKey, now time.Time) *ingestgatev1.IngestKey {
	pb := ingestKeyToPB(k, now)
	pb.LiveStreams = int32(s.streams.CountKey(k.ID))
	return pb
}

func (s *Server) devicePB(d keystore.Device) *ingestgatev1.Device {
	pb := deviceToPB(d)
	pb.LiveStreams = int32(s.streams.CountDevice(d.WorkspaceID, d.ID))
	return pb
}

func apiKeyToPB(k keystore.APIKey, now time.Time) *ingestgatev1.ApiKey {
	perms := make([]string, len(k.Permissions))
	for i, p := range k.Permissions {
		perms[i] = string(p)
	}
	return &ingestgatev1.ApiKey{
		Id:                       k.ID,
		Name:                     k.Name,
		Description:              k.Description,
		Permissions:              perms,
		WorkspaceIds:             k.WorkspaceIDs,
		DisplayPrefix:            k.DisplayPrefix,
		Status:                   k.Status,
		ExpireTime:               ts(k.ExpireTime),
		Expired:                  k.Expired(now),
		RevokeTime:               ts(k.RevokeTime),
		RevokeReason:             k.RevokeReason,
		PreviousSecretExpireTime: previousExpiry(&k.Credential, now),
		PreviousDisplayPrefix:    previousPrefix(&k.Credential, now),
		CreateTime:               ts(k.CreateTime),
		UpdateTime:               ts(k.UpdateTime),
		LastUsedTime:             ts(k.LastUsedTime),
	}
}

// A previous secret whose grace period is over is history, not state.
func previousExpiry(c *keystore.Credential, now time.Time) *timestamppb.Timestamp {
	if c.PreviousHash.IsZero() || !now.Before(c.PreviousExpireTime) {
		return nil
	}
	return ts(c.PreviousExpireTime)
}

func previousPrefix(c *keystore.Credential, now time.Time) string {
	if previousExpiry(c, now) == nil {
		return ""
	}
	return c.PreviousDisplayPrefix
}

func deviceToPB(d keystore.Device) *ingestgatev1.Device {
	return &ingestgatev1.Device{
		Id:           d.ID,
		WorkspaceId:  d.WorkspaceID,
		DisplayName:  d.DisplayName,
		Tags:         d.Tags,
		CreateTime:   ts(d.CreateTime),
		UpdateTime:   ts(d.UpdateTime),
		LastSeenTime: ts(d.LastSeenTime),
	}
}

// userToPB converts a user, with their role in the workspace asked about
// (0 when none). The password hash never leaves the server.
func userToPB(u keystore.User, role keystore.Role) *ingestgatev1.User {
	return &ingestgatev1.User{
		Id: u.ID, Email: u.Email, DisplayName: u.DisplayName, Role: role, Disabled: u.Disabled,
		CreateTime: ts(u.CreateTime), UpdateTime: ts(u.UpdateTime), LastLoginTime: ts(u.LastLoginTime),
	}
}
