package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ingestgate/ingestgate/keystore"
)

// storeError turns an error from the keystore into a gRPC status at the
// service boundary. what and id name the record for the caller's message;
// causes that are not the caller's business are logged and hidden.
func (s *Server) storeError(ctx context.Context, err error, what, id string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status, e.g. from require
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return status.Errorf(codes.NotFound, "%s %q not found", what, id)
	case errors.Is(err, keystore.ErrAlreadyExists):
		return status.Errorf(codes.AlreadyExists, "%s %q already exists", what, id)
	case errors.Is(err, keystore.ErrNotEmpty):
		return status.Errorf(codes.FailedPrecondition, "%s %q still holds ingest keys or devices; delete them first or set force", what, id)
	case errors.Is(err, keystore.ErrInvalidTransition):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, keystore.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if st := contextStatus(err); st != nil {
		return st
	}
	s.log.ErrorContext(ctx, "store call failed", slog.String("record", what), slog.Any("error", err))
	return status.Error(codes.Internal, "internal error")
}

// invalidArg is a validation failure with a message for the caller.
func invalidArg(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}

// checkInput maps a keystore validation error to InvalidArgument.
func checkInput(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(codes.InvalidArgument, err.Error())
}

// retryAfter is RESOURCE_EXHAUSTED with RetryInfo, which the gateway turns
// into 429 with Retry-After: msg says what is limited, wait when to retry.
func retryAfter(wait time.Duration, format string, args ...any) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf(format, args...))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}

// passwordError maps a failed password hash or check (not a wrong
// password) to a status: the node is computing as many as it queues, or
// the caller went away.
func passwordError(err error) error {
	if errors.Is(err, keystore.ErrPasswordBusy) {
		return status.Error(codes.Unavailable, "too many sign-ins at once; retry in a moment")
	}
	if st := contextStatus(err); st != nil {
		return st
	}
	return status.Error(codes.Internal, "internal error")
}

// contextStatus is the status of a call cut short by its context, or nil
// when err is not a context's.
func contextStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	return nil
}
