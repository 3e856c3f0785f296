package engine

import (
	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
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
// start (and removes it), __health runs its health check once.
func RunStep(step, id string, args []string) error {
	if !fullID(id) {
		return errdefs.Invalid("skiff %s takes a full container ID: it is run by a container's supervisor, not by hand", step)
	}
	if err := userns.Enter(); err != nil {
		return err
	}
	switch step {
	case "__start":
		return runtime.StartStep(id)
	case "__cleanup":
		return cleanupStep(nil, id, len(args) > 0 && args[0] == "remove")
	case "__health":
		return runtime.HealthStep(id)
	}
	return errdefs.Invalid("unknown step %q", step)
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

// fullID reports whether id is a container's full ID (64 hex digits).
func fullID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
