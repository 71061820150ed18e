// Package redis is a sink.Sink over Redis Streams: one stream per
// workspace, which downstream services consume with consumer groups. It
// imports sink and the generated API types, never server. Its name matches
// go-redis's, so import it under another, e.g. sinkredis.
//
// # Entry format
//
// Workspace W's telemetry is the stream Prefix+"telemetry:"+W
// ("ingestgate:telemetry:ws_1" by default; see Options.Prefix). Each
// record is one stream entry, in the order the device sent it, with four
// fields:
//
//	device_id      the device that sent it
//	ingest_key_id  the ingest key it authenticated with
//	receive_time   when the gateway received its batch, RFC 3339 with
//	               nanoseconds, in UTC ("2026-11-25T10:11:12.123456789Z")
//	record         one ingestgate.v1.Record (proto/ingestgate/v1) as
//	               protojson with the proto field names; its time is
//	               always set (a record sent without one carries
//	               receive_time)
//
// for example:
//
//	XADD ingestgate:telemetry:ws_1 MAXLEN ~ 10000000 * device_id dev_1
//	  ingest_key_id ik_1 receive_time 2026-11-25T10:11:12.123456789Z
//	  record {"time":"2026-11-25T10:11:11Z","name":"temp.celsius","number_value":21.5}
//
// Any language can consume it with a plain Redis client (XGROUP CREATE
// ingestgate:telemetry:ws_1 mygroup 0, then XREADGROUP GROUP mygroup me
// STREAMS ingestgate:telemetry:ws_1 >) and decode the record with its
// protobuf JSON parser. Readers should ignore fields and JSON members they
// do not know: later versions may add some. The entry ID is the cursor
// that Read returns, so a subscriber of the gateway and a consumer group
// agree on positions.
//
// The sink also writes dedupe keys, Prefix+"dedupe:"+W+":"+device+":"+key
// (with '%' and ':' in W and device percent-encoded, so that IDs holding a
// colon cannot collide), plain strings that expire after
// Options.DedupeWindow; consumers ignore them.
//
// # Durability
//
// A batch's Result arrives once Redis has answered the script that stored
// it. That means durable only if the operator runs Redis with
// "appendonly yes" and "appendfsync always": then Redis fsyncs the AOF
// before it replies. With "appendfsync everysec" (the Redis default) an
// acknowledged batch can be lost in the last second before a crash of the
// Redis host, and without AOF everything since the last RDB snapshot. With
// replicas, a failover can lose what had not reached the replica yet. New
// logs a warning when it can see (CONFIG GET) that AOF is not fsyncing
// every write.
//
// A batch whose Result is an error other than a context's or
// sink.ErrInvalidRecord (Redis unreachable, a timeout) may or may not have
// been stored; the caller does not acknowledge it, the device resends it,
// and the dedupe key makes the second copy a duplicate if the first got
// through.
//
// # Retention
//
// Every XADD trims the stream to about Options.MaxLen entries (MAXLEN ~,
// 10 million by default; Unlimited turns trimming off), dropping the
// oldest. A subscriber whose cursor has been trimmed away
// continues with the oldest entry that is left: what was trimmed is
// skipped, not reported. Consumer groups have the same exposure; size
// MaxLen for the slowest consumer.
//
// # Concurrency
//
// Append checks and encodes the batch in the caller's goroutine and queues
// it; one writer goroutine takes whatever is queued and sends it in one
// pipeline: SCRIPT LOAD of a small Lua script, then one EVALSHA of it per
// batch (group commit: one round trip for many batches). The script claims the dedupe key with SET
// NX PX and XADDs the records in one atomic step, so a duplicate is never
// half stored and a batch that was not stored never claims its key. Read
// uses XRANGE, and for Wait, XREAD BLOCK, which Redis itself wakes when
// any node appends, so waiting reads work across gateway nodes.
//
// # Redis version and Cluster
//
// Redis 6.2 or later (exclusive XRANGE ranges). In Redis Cluster the
// script touches two keys, the stream and the dedupe key, which must hash
// to the same slot: set Prefix to a hash tag such as "{ingestgate}:",
// which puts all of the sink's keys in one slot.
package redis
