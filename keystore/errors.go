package keystore

import (
	"errors"
	"fmt"
)

// Sentinel errors cross the Store boundary; backend errors (SQL, network)
// never do unwrapped. Test with errors.Is.
var (
	// ErrNotFound: the record does not exist (or is in another workspace).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a record with that id exists, or another value that
	// must be unique is taken (a user's email, a refresh token's hash).
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotEmpty: a workspace still holds keys or devices.
	ErrNotEmpty = errors.New("workspace is not empty")
	// ErrInvalidTransition: the lifecycle change is not allowed from the
	// record's current status (for example activating a revoked key).
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrInvalidArgument: input failed validation.
	ErrInvalidArgument = errors.New("invalid argument")
)

// invalid returns an ErrInvalidArgument with a message meant for the caller.
func invalid(format string, args ...any) error {
	return &publicError{kind: ErrInvalidArgument, msg: fmt.Sprintf(format, args...)}
}

// transition returns an ErrInvalidTransition with a message for the caller.
func transition(format string, args ...any) error {
	return &publicError{kind: ErrInvalidTransition, msg: fmt.Sprintf(format, args...)}
}

// publicError carries a message that is safe to return to the caller; the
// server shows Error() as is.
type publicError struct {
	kind error
	msg  string
}

func (e *publicError) Error() string { return e.msg }
func (e *publicError) Unwrap() error { return e.kind }
