package engine

import (
	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// Steps are the hidden commands a container's supervisor runs with the
// skiff binary for the heavy parts of a container's life, which need
// libcontainer and the image store that the small supervisor lacks.
var Steps = []string{"__start", "__cleanup", "__health"}

// RunStep runs one step for the container id, inside the user's
// namespace: __start mounts and starts it, __cleanup [remove] undoes a
// start (and removes it), __health runs its health check once. A
// container's supervisor runs __start and __health with skiff-start
// (runtime.StarterMain), the same code in a small binary.
func RunStep(step, id string, args []string) error {
	if step != "__cleanup" {
		return runtime.RunStep(step, id)
	}
	if !reference.IsID(id) {
		return errdefs.Invalid("skiff %s takes a full container ID: it is run by a container's supervisor, not by hand", step)
	}
	if err := userns.Enter(); err != nil {
		return err
	}
	return cleanupStep(nil, id, len(args) > 0 && args[0] == "remove")
}

// cleanupStep undoes a start; with remove (--rm) it removes the container
// and records its destroy, as Docker's daemon does for AutoRemove. st is
// the caller's open store (nil: the step opens one).
func cleanupStep(st *storage.Store, id string, remove bool) error {
	var c *container.Container
	if remove {
		c, _ = container.ReadRecord(id)
	}
	if err := runtime.CleanupStep(st, id, remove); err != nil {
		return err
	}
	if c != nil {
		if _, err := container.ReadRecord(id); isNotFound(err) {
			containerEvent(c, "destroy", nil)
		}
	}
	return nil
}
