package sdk

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// ErrClosed is returned by Send and Flush, and by Err, after Close.
var ErrClosed = errors.New("sdk: client closed")

// ErrInvalidRecord is wrapped by the error Send returns for a record the
// server would refuse. Send then accepts none of the records of that call.
var ErrInvalidRecord = errors.New("invalid record")

// TerminalError is why a Client stopped for good: the server closed the
// stream for a reason that a reconnect cannot fix (the key was revoked,
// deactivated, deleted, expired or rotated past its grace period; the device
// is out of the key's scope or was deleted; or the server refused a batch).
// Find it with errors.As; status.Code also works on it.
type TerminalError struct {
	// Reason is from the server's Goodbye; GOODBYE_REASON_UNSPECIFIED when
	// the stream was refused without one (for example a wrong key at
	// connect).
	Reason ingestgatev1.GoodbyeReason
	// Code is the stream's final status: Unauthenticated, PermissionDenied
	// or InvalidArgument; or ResourceExhausted when a batch exceeded the
	// server's message limit (WithMaxBatchBytes set above it).
	Code codes.Code
	// Message is the server's explanation, from the Goodbye when it sent
	// one, else from the status.
	Message string
}

func (e *TerminalError) Error() string {
	var b strings.Builder
	b.WriteString("sdk: stream closed for good: ")
	b.WriteString(e.Code.String())
	if e.Reason != ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED {
		b.WriteString(" (")
		b.WriteString(strings.TrimPrefix(e.Reason.String(), "GOODBYE_REASON_"))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// GRPCStatus lets status.Code and status.FromError see the final status.
func (e *TerminalError) GRPCStatus() *status.Status {
	return status.New(e.Code, e.Error())
}

// isTerminal reports whether a stream that ended with st must not be
// retried: credentials that will not become valid again, or a batch the
// server refuses, which resending would only repeat. gRPC itself refuses a
// message over the server's size limit, with RESOURCE_EXHAUSTED and this
// message; that only happens when WithMaxBatchBytes exceeds the server's
// limit, and unlike "too many streams" it would fail the same way forever.
func isTerminal(st *status.Status) bool {
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
		return true
	case codes.ResourceExhausted:
		return strings.Contains(st.Message(), "received message larger than max")
	}
	return false
}

// invalidRecord builds the error Send returns for the i-th record.
func invalidRecord(i int, format string, args ...any) error {
	return fmt.Errorf("sdk: record %d: %w: %s", i, ErrInvalidRecord, fmt.Sprintf(format, args...))
}
