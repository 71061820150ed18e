// Package sink owns durable telemetry: appending device batches so that an
// acknowledgement means the data survives a crash, and reading them back
// for consumers. Backends live in subpackages (sink/sqlite) and pass
// sink/sinktest.
//
// It depends on the generated contracts only; it never imports server.
package sink

import (
	"context"
	"errors"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// ErrClosed is returned by Append and Read after Close.
var ErrClosed = errors.New("sink: closed")

// ErrBadCursor is returned by Read for a cursor the backend did not issue.
var ErrBadCursor = errors.New("sink: malformed cursor")

// Batch is what one device sent in one message (a stream's TelemetryBatch or
// one Publish call).
type Batch struct {
	WorkspaceID string
	DeviceID    string
	IngestKeyID string
	// DedupeKey identifies the batch among the device's recent batches: a
	// batch whose (WorkspaceID, DeviceID, DedupeKey) was stored within the
	// backend's dedupe window is acknowledged as a duplicate and not stored
	// again. Empty: never deduplicated. The server uses "s:<seq>" for
	// streams and "i:<idempotency key>" for Publish.
	DedupeKey   string
	ReceiveTime time.Time
	// Records are stored in order. A record without a time is stored with
	// ReceiveTime. Callers must not modify them after Append.
	Records []*ingestgatev1.Record
}

// Result is the outcome of one Append.
type Result struct {
	// Duplicate: the batch had been stored before; this copy was dropped.
	Duplicate bool
	// Err is nil when the batch is durable (or a duplicate of a durable one).
	Err error
}

// Sink stores telemetry durably. All methods are safe for concurrent use.
type Sink interface {
	// Append queues b and returns a channel that receives exactly one Result
	// once b is durable or has failed. It blocks only while the backend's
	// bounded queue is full (or until ctx ends). Batches appended one after
	// another from one goroutine are stored in that order. Batches appended
	// concurrently are committed together (group commit), so throughput does
	// not fall to one sync per batch.
	//
	// If ctx ends before the batch is committed, the batch is not stored and
	// the Result carries ctx's error; once a commit holding the batch has
	// begun, the batch is stored even if ctx ends. This is what lets a
	// closed stream guarantee that nothing it received after the close is
	// stored.
	Append(ctx context.Context, b Batch) <-chan Result

	// Read returns up to q.Limit entries of one workspace after q.After, in
	// the order they were stored. With q.Wait > 0 and nothing to return yet,
	// it blocks until an entry arrives, q.Wait passes (returning none) or ctx
	// ends.
	Read(ctx context.Context, q Query) ([]Entry, error)

	// EndCursor returns the cursor of the newest stored entry of the
	// workspace, or "" when it has none, so a subscriber can start with only
	// new telemetry.
	EndCursor(ctx context.Context, workspaceID string) (string, error)

	// Close stops accepting batches, finishes the commits under way, and
	// releases resources. Appends still queued fail with ErrClosed.
	Close() error
}

// Query selects entries for Read.
type Query struct {
	WorkspaceID string
	// After is an opaque cursor from a previous Entry; empty means from the
	// beginning (EndCursor gives the end).
	After string
	// DeviceID, when set, keeps only that device's entries.
	DeviceID string
	// Limit caps the entries returned; 0 means the backend default (100).
	Limit int
	Wait  time.Duration
}

// Entry is one stored record with where it came from.
type Entry struct {
	// Cursor is opaque and increases with storage order within a workspace.
	Cursor      string
	WorkspaceID string
	DeviceID    string
	IngestKeyID string
	ReceiveTime time.Time
	Record      *ingestgatev1.Record
}

// DefaultReadLimit is the Limit used when a Query leaves it 0; MaxReadLimit
// caps it.
const (
	DefaultReadLimit = 100
	MaxReadLimit     = 1000
)

// Store appends b and waits for its Result: the blocking form of Append.
func Store(ctx context.Context, s Sink, b Batch) (Result, error) {
	select {
	case r := <-s.Append(ctx, b):
		return r, r.Err
	case <-ctx.Done():
		// The batch may still commit; the caller must not ack it.
		return Result{}, ctx.Err()
	}
}

// Commit describes one group commit to a backend's OnCommit hook (which
// feeds metrics): how many batches and records it held, how long storing
// them took, and whether it failed as a whole.
type Commit struct {
	Batches, Records int
	Duration         time.Duration
	Err              error
}
