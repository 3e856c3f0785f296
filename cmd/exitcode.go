package cmd

import (
	"errors"
	"os"

	"golang.org/x/term"

	"github.com/skiff-project/skiff/errdefs"
)

// Exit statuses, as Docker's CLI has them: a command that fails exits 1;
// a flag it cannot parse (unknown, or a bad value) exits 125; run (and
// create's options, exec's start) use errdefs' 125/126/127, and run,
// start -a, attach and exec pass the container's (or process's) own
// status through.
const (
	exitFailed = 1
	exitUsage  = errdefs.ExitEngine
)

// statusError is an error with the status skiff exits with (docker/cli's
// cli.StatusError); any other error exits 1.
type statusError struct {
	err  error
	code int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus gives err the exit status code, unless it has one already.
func withStatus(code int, err error) error {
	var se *statusError
	var st *errdefs.ExitStatus
	if err == nil || errors.As(err, &se) || errors.As(err, &st) {
		return err
	}
	return &statusError{err: err, code: code}
}

// runStatus gives err run's exit status: 125 when skiff failed, 126 when
// the command cannot be invoked, 127 when it does not exist.
func runStatus(err error) error { return withStatus(errdefs.ExitCode(err), err) }

// exitCode is the status skiff exits with after err.
func exitCode(err error) int {
	var st *errdefs.ExitStatus
	var se *statusError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return st.Code
	case errors.As(err, &se):
		return se.code
	}
	return exitFailed
}

// failed is the exit status of a command that reported its errors itself
// (one line per argument that failed).
func failed() error { return &errdefs.ExitStatus{Code: exitFailed} }

// errNotTTY is Docker's refusal to attach a container's terminal to input
// that is not one (run -it, exec -it, attach to a -t container from a pipe).
var errNotTTY = errors.New("the input device is not a TTY: use -t (and -i) only from a terminal, or leave -t out when stdin is a pipe or a file")

// checkTTY refuses to attach stdin to a container's terminal when stdin
// is not a terminal, as Docker's CLI does, before anything is made.
func checkTTY(stdin, tty bool) error {
	if stdin && tty && !term.IsTerminal(int(os.Stdin.Fd())) {
		return errNotTTY
	}
	return nil
}
