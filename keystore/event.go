package keystore

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// Proto is the wire form of e: what the API returns and what nodes
// broadcast to each other. A zero Time stays unset.
func (e Event) Proto() *ingestgatev1.KeyEvent {
	pb := &ingestgatev1.KeyEvent{
		WorkspaceId:   e.WorkspaceID,
		Sequence:      e.Sequence,
		Type:          e.Type,
		Actor:         e.Actor,
		IngestKeyId:   e.IngestKeyID,
		DeviceId:      e.DeviceID,
		ApiKeyId:      e.APIKeyID,
		UserId:        e.UserID,
		DisplayPrefix: e.DisplayPrefix,
		Reason:        e.Reason,
		ChangedFields: e.ChangedFields,
	}
	if !e.Time.IsZero() {
		pb.Time = timestamppb.New(e.Time)
	}
	return pb
}

// EventFromProto is the inverse of Event.Proto.
func EventFromProto(pb *ingestgatev1.KeyEvent) Event {
	e := Event{
		WorkspaceID:   pb.GetWorkspaceId(),
		Sequence:      pb.GetSequence(),
		Type:          pb.GetType(),
		Actor:         pb.GetActor(),
		IngestKeyID:   pb.GetIngestKeyId(),
		DeviceID:      pb.GetDeviceId(),
		APIKeyID:      pb.GetApiKeyId(),
		UserID:        pb.GetUserId(),
		DisplayPrefix: pb.GetDisplayPrefix(),
		Reason:        pb.GetReason(),
		ChangedFields: pb.GetChangedFields(),
	}
	if pb.Time != nil {
		e.Time = pb.GetTime().AsTime()
	}
	return e
}
