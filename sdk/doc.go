// Package sdk is the Go device SDK for ingestgate. A Client holds one
// long-lived TelemetryService.Connect stream, batches the records given to
// Send, resends every unacknowledged batch after a reconnect, and stops for
// good when the server closes the stream for a credential reason.
//
// It imports only the generated contracts and gRPC; it never imports server,
// keystore or sink, so firmware builds carry nothing of the server.
//
// # Delivery
//
// Every batch carries a seq: the first batch of a Client gets the Unix time in
// nanoseconds at Dial, and each later batch the next integer, so seqs stay
// unique for a device across process restarts. (A device whose clock is not
// set yet starts at a random seq instead.) A batch resent after a
// reconnect keeps its seq, and the server acknowledges a seq it already
// stored as a duplicate without storing it again. Records therefore reach
// storage exactly once as long as the server's dedupe window (24 hours)
// covers the outage and the process does not exit with unacknowledged
// batches.
//
// # Flow
//
// At most WithMaxInFlight batches await their ack at a time. When the
// server sends Throttle (the key is over its rate), the client sends no new
// batch for its retry_after; batches owed from before a reconnect still go
// out first. While a stream is down, records wait in the bounded buffer (see
// Overflow).
//
// # Errors
//
// A stream ended with UNAUTHENTICATED, PERMISSION_DENIED or INVALID_ARGUMENT
// is final: the Client stops, never reconnects, and reports a *TerminalError
// from Err, Send and Flush. Any other end of a stream (server shutdown,
// operator disconnect, idle timeout, network loss, UNAVAILABLE,
// RESOURCE_EXHAUSTED for too many streams, DEADLINE_EXCEEDED) is retried
// with exponential backoff and full jitter; a client with nothing left to
// send reconnects on its next Send.
//
// The ingest key is sent only in the authorization header of the stream; the
// SDK never logs it or puts it in an error.
package sdk
