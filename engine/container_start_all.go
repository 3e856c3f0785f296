package engine

import (
	"context"
	"slices"
	"strings"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// restartPolicies are the values of the restart-policy filter.
var restartPolicies = []string{"no", "on-failure", "always", "unless-stopped"}

// StartAllOptions are `start --all`'s: Filters select the containers
// (restart-policy=, name=, id=, label=, status=, network=; one key's
// values are alternatives, different keys must all match).
type StartAllOptions struct {
	Filters Filters
}

// StartAllResult is one container `start --all` started, or failed to.
type StartAllResult struct {
	ID, Name string
	Err      error
}

// ContainerStartAll starts every container that matches o's filters and
// is not running, oldest first, as Podman's `start --all` does; it is
// what brings containers back after a reboot or a new login
// (`--filter restart-policy=always --filter restart-policy=unless-stopped`,
// from the skiff-restart.service unit). Containers whose supervisor died
// with the machine (dead) are cleaned up first (as system check --repair
// does) and started again. As Docker's daemon does when it starts, it
// skips unless-stopped and on-failure containers the user stopped, and
// on-failure ones that exited with status 0. Service replicas are left to
// their service's keeper. One container failing does not stop the others.
func (e *Engine) ContainerStartAll(ctx context.Context, o StartAllOptions) ([]StartAllResult, error) {
	if err := checkStartAllFilters(o.Filters); err != nil {
		return nil, err
	}
	all, err := container.List()
	if err != nil {
		return nil, err
	}
	slices.Reverse(all) // oldest first: a container:NAME network's owner first
	var out []StartAllResult
	for _, c := range all {
		if err := cancelled(ctx); err != nil {
			return out, err
		}
		if !startAllWants(o.Filters, c) {
			continue
		}
		res := StartAllResult{ID: c.ID, Name: c.Name}
		if c.State.Status == container.StatusDead {
			res.Err = e.withStore(func(st *storage.Store) error {
				return runtime.RecoverWith(st, c.ID, "its supervisor was gone (the machine restarted, or it was killed); cleaned up by skiff start --all")
			})
		}
		if res.Err == nil {
			res.Err = e.ContainerStart(ctx, c.ID)
		}
		out = append(out, res)
	}
	return out, nil
}

// checkStartAllFilters refuses filters start --all does not know.
func checkStartAllFilters(f Filters) error {
	if err := f.check("restart-policy", "name", "id", "label", "status", "network"); err != nil {
		return err
	}
	for _, v := range f["restart-policy"] {
		if !slices.Contains(restartPolicies, v) {
			return errdefs.Invalid("invalid filter restart-policy=%s: restart-policy is one of %s", v, strings.Join(restartPolicies, ", "))
		}
	}
	for _, v := range f["status"] {
		if !slices.Contains(containerStatuses, v) {
			return errdefs.Invalid("invalid filter status=%s: status is one of %s", v, strings.Join(containerStatuses, ", "))
		}
	}
	return nil
}

// startAllWants reports whether start --all starts c.
func startAllWants(f Filters, c *container.Container) bool {
	switch c.State.Status {
	case container.StatusRunning, container.StatusRestarting, container.StatusPaused, container.StatusRemoving:
		return false
	}
	if _, replica := c.Config.Labels[LabelServiceID]; replica {
		return false
	}
	policy := c.HostConfig.RestartPolicy.Name
	if policy == "" {
		policy = "no"
	}
	if !f.any("restart-policy", func(v string) bool { return v == policy }) || !matchContainer(f, c, nil) {
		return false
	}
	switch policy {
	case "unless-stopped":
		return !c.State.StoppedByUser
	case "on-failure":
		return c.State.Status == container.StatusDead || !c.State.StoppedByUser && c.State.Status == container.StatusExited && c.State.ExitCode != 0
	}
	return true
}
