// Package redis is the cluster bus: a bus.Bus over Redis pub/sub, so a key
// event committed on one node reaches every node. It imports bus, keystore
// and the generated API types, never server. Its name matches go-redis's,
// so import it under another, e.g. busredis.
//
// # Wire format
//
// Every node PUBLISHes to and SUBSCRIBEs to one channel, Prefix+"key-events"
// ("ingestgate:key-events" by default; see Options.Prefix). Each message is
// one ingestgate.v1.KeyEvent (proto/ingestgate/v1/event.proto) encoded as
// protojson with the proto field names, the same JSON the REST gateway
// serves, for example:
//
//	{"workspace_id":"ws_1","sequence":"42","type":"KEY_EVENT_TYPE_INGEST_KEY_REVOKED",
//	 "time":"2026-11-25T10:11:12.345678Z","actor":"api_key:ak_1",
//	 "ingest_key_id":"ik_1","reason":"device stolen"}
//
// Any language can follow key events with a plain Redis client
// (redis-cli SUBSCRIBE ingestgate:key-events) and decode the payload with
// its protobuf JSON parser. Readers accept what protojson accepts: field
// names in proto or lowerCamel form, enums by name or number, 64-bit
// integers as strings or numbers; unknown fields are ignored so older nodes
// read what newer ones publish. A payload that does not decode, or has no
// event type, is logged and skipped.
//
// # Delivery
//
// Redis pub/sub is at most once: what is published while a node is
// disconnected is lost to it. The bus implements bus.Resubscriber so the
// node revalidates against the store after every (re)subscription; the
// events themselves are in the store's audit log before they are published.
package redis
