package runtime

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/userns"
)

// The steps of skiff-start (runtime/skiff-start), the small binary a
// container's supervisor runs to start the container and to probe its
// health; `skiff __start` and `skiff __health` run the same code.
const (
	StepStart  = "__start"
	StepHealth = "__health"
)

// StarterMain is skiff-start's body: skiff-start __start|__health ID.
// Errors go to stderr as skiff prints them.
func StarterMain(args []string) int {
	// As skiff's steps at its default --log-level warn: the libraries
	// (libcontainer, the storage library) say only their errors.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	logrus.SetLevel(logrus.ErrorLevel)
	end := trace.Begin("the whole command")
	var err error
	if len(args) < 2 || (args[1] != StepStart && args[1] != StepHealth) {
		err = errdefs.Invalid("skiff-start is run by a container's supervisor (skiff-start __start|__health ID): it is not a command")
	} else {
		err = RunStep(args[1], strings.Join(args[2:], " "))
	}
	end()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s\n", errdefs.Message(err))
		return 1 // as skiff's steps; a start's 125/126/127 reach the supervisor in the report
	}
	return 0
}

// RunStep runs __start or __health for the container id inside the
// user's namespace.
func RunStep(step, id string) error {
	if !reference.IsID(id) {
		return errdefs.Invalid("%s %s takes a full container ID: it is run by a container's supervisor, not by hand", filepath.Base(os.Args[0]), step)
	}
	if err := userns.Enter(); err != nil {
		return err
	}
	switch step {
	case StepStart:
		return StartStep(id)
	case StepHealth:
		return HealthStep(id)
	}
	return errdefs.Invalid("unknown step %q", step)
}
