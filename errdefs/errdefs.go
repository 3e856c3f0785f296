// Package errdefs holds the few error classes every skiff package wraps its
// errors in, and their mapping to Docker's exit codes. It knows nothing of
// images or containers.
package errdefs

import (
	"errors"
	"fmt"
	"strings"
)

// The error classes. Wrap them with %w and context: step, object, cause, fix.
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrConflict        = errors.New("conflict")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrUnavailable     = errors.New("unavailable")
	ErrNotImplemented  = errors.New("not implemented")
	// ErrCannotInvoke means the container's command exists but cannot be
	// executed (exit 126).
	ErrCannotInvoke = errors.New("cannot invoke")
	// ErrCommandNotFound means the container's command does not exist
	// (exit 127).
	ErrCommandNotFound = errors.New("command not found")
)

// Exit codes shared with Docker.
const (
	ExitEngine       = 125
	ExitCannotInvoke = 126
	ExitNotFound     = 127
)

// ExitStatus is returned when the container ran and exited with Code; the
// CLI exits with the same code and prints nothing.
type ExitStatus struct{ Code int }

func (e *ExitStatus) Error() string { return fmt.Sprintf("container exited with status %d", e.Code) }

// Invalid returns an ErrInvalidArgument with a formatted message.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidArgument)
}

// NotFound returns an ErrNotFound with a formatted message.
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotFound)
}

// ExitCode maps an error to the status the CLI exits with.
func ExitCode(err error) int {
	var st *ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return st.Code
	case errors.Is(err, ErrCannotInvoke):
		return ExitCannotInvoke
	case errors.Is(err, ErrCommandNotFound):
		return ExitNotFound
	default:
		return ExitEngine
	}
}

// classes are the error classes, in the order Message strips them.
var classes = []error{ErrNotFound, ErrInvalidArgument, ErrConflict, ErrUnavailable, ErrAlreadyExists, ErrNotImplemented, ErrCannotInvoke, ErrCommandNotFound}

// Message is err's text for a user: on one line, without the class
// suffixes that only matter for exit codes and HTTP statuses.
func Message(err error) string {
	s := err.Error()
	for trimmed := true; trimmed; {
		trimmed = false
		for _, class := range classes {
			if t := strings.TrimSuffix(s, ": "+class.Error()); t != s {
				s, trimmed = t, true
			}
		}
	}
	return strings.ReplaceAll(s, "\n", " ")
}
