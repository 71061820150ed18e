package redis

import (
	"errors"

	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

var (
	// Proto field names match the REST gateway's JSON, so one parser reads both.
	marshalOptions = protojson.MarshalOptions{UseProtoNames: true}
	// Unknown fields are dropped so a node reads events from a newer release.
	unmarshalOptions = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// encode returns the wire payload of e (see the package doc).
func encode(e keystore.Event) ([]byte, error) {
	return marshalOptions.Marshal(e.Proto())
}

// decode parses a wire payload. An event without a type carries nothing a
// node could act on, so it is rejected like any other malformed payload.
func decode(payload []byte) (keystore.Event, error) {
	var pb ingestgatev1.KeyEvent
	if err := unmarshalOptions.Unmarshal(payload, &pb); err != nil {
		return keystore.Event{}, err
	}
	if pb.GetType() == ingestgatev1.KeyEventType_KEY_EVENT_TYPE_UNSPECIFIED {
		return keystore.Event{}, errors.New("event has no type")
	}
	return keystore.EventFromProto(&pb), nil
}
