package keystore

import (
	"reflect"
	"testing"
	"time"
)

// Proto and EventFromProto carry every field, so nodes broadcasting an
// event and the API returning it lose nothing.
func TestEventProtoRoundTrip(t *testing.T) {
	for _, e := range []Event{
		{
			WorkspaceID: "ws-a", Sequence: 42, Type: EventType(11),
			Time:  time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC),
			Actor: "ak_actor", IngestKeyID: "ik_1", DeviceID: "dev-1", APIKeyID: "ak_1", UserID: "us_1",
			DisplayPrefix: "ig_ikv1_AbC9eF", Reason: "why", ChangedFields: []string{"name", "role"},
		},
		{UserID: "us_only"},
		{},
	} {
		pb := e.Proto()
		if pb.GetUserId() != e.UserID {
			t.Errorf("Proto().UserId = %q, want %q", pb.GetUserId(), e.UserID)
		}
		if got := EventFromProto(pb); !reflect.DeepEqual(got, e) {
			t.Errorf("EventFromProto(Proto()) = %+v, want %+v", got, e)
		}
	}
}
