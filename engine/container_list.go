package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// ContainerListOptions are `ps`'s.
type ContainerListOptions struct {
	All  bool // stopped containers too (Last and status filters imply it)
	Last int  // only the Last most recently created; < 0 for no limit
	Size bool // SizeRw and SizeRootFs
	// Filters: status, name, id, label, ancestor, exited, before, since,
	// network, volume, health.
	Filters Filters
}

var containerStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// ContainerList lists containers, newest first, as Docker's ps does.
func (e *Engine) ContainerList(ctx context.Context, o ContainerListOptions) ([]ctypes.Summary, error) {
	f := o.Filters
	if err := checkContainerFilters(f); err != nil {
		return nil, err
	}
	showAll := o.All || o.Last >= 0 || len(f["status"]) > 0 || len(f["exited"]) > 0
	// before= and since= name containers: keep those created between.
	var before, since *container.Container
	for key, dst := range map[string]**container.Container{"before": &before, "since": &since} {
		for _, ref := range f[key] {
			c, err := container.Lookup(ref)
			if err != nil {
				return nil, fmt.Errorf("filter %s=%s: %w", key, ref, err)
			}
			*dst = c
		}
	}
	var ancestors []string
	var st *storage.Store
	if len(f["ancestor"]) > 0 || o.Size {
		var err error
		if st, err = e.store(); err != nil {
			return nil, err
		}
	}
	for _, ref := range f["ancestor"] {
		if img, err := st.LookupImage(ref); err == nil {
			ancestors = append(ancestors, img.ID)
		}
	}
	// The containers come as Brief containers (what summarize and
	// matchContainer read, from the ps index), on a few goroutines.
	type listed struct {
		created time.Time
		imageID string
		sm      ctypes.Summary
	}
	var mu sync.Mutex
	var all []*listed
	err := container.EachBrief(func(c *container.Container) {
		if !showAll && !c.State.Running && !c.State.Restarting && !c.State.Paused ||
			before != nil && !c.Created.Before(before.Created) || since != nil && !c.Created.After(since.Created) ||
			!matchContainer(f, c, ancestors) {
			return
		}
		l := &listed{created: c.Created, imageID: c.ImageID, sm: summarize(c)}
		mu.Lock()
		all = append(all, l)
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].created.After(all[j].created) })
	if o.Last >= 0 && len(all) > o.Last {
		all = all[:o.Last]
	}
	out := make([]ctypes.Summary, 0, len(all))
	for _, l := range all {
		if o.Size {
			l.sm.SizeRw, l.sm.SizeRootFs = containerSizes(st, l.sm.ID, l.imageID)
		}
		out = append(out, l.sm)
	}
	return out, nil
}

// checkContainerFilters refuses filters ps does not know and values that
// can never match.
func checkContainerFilters(f Filters) error {
	if err := f.check("status", "name", "id", "label", "ancestor", "exited", "before", "since", "network", "volume", "health"); err != nil {
		return err
	}
	for _, v := range f["status"] {
		if !slices.Contains(containerStatuses, v) {
			return errdefs.Invalid("invalid filter status=%s: status is one of %s", v, strings.Join(containerStatuses, ", "))
		}
	}
	for _, v := range f["exited"] {
		if _, err := strconv.Atoi(v); err != nil {
			return errdefs.Invalid("invalid filter exited=%s: exited takes a number", v)
		}
	}
	for _, v := range f["health"] {
		if !slices.Contains([]string{"starting", "healthy", "unhealthy", "none"}, v) {
			return errdefs.Invalid("invalid filter health=%s: health is one of starting, healthy, unhealthy, none", v)
		}
	}
	return nil
}

// matchContainer applies the filters; ancestors are the image IDs the
// ancestor filters name.
func matchContainer(f Filters, c *container.Container, ancestors []string) bool {
	health := "none"
	if c.State.Health != nil {
		health = c.State.Health.Status
	}
	return f.any("status", func(v string) bool { return c.State.Status == v }) &&
		f.any("exited", func(v string) bool {
			return c.State.Status == container.StatusExited && strconv.Itoa(c.State.ExitCode) == v
		}) &&
		f.any("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		f.any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		f.labels("label", c.Config.Labels) &&
		f.any("ancestor", func(v string) bool { return c.Image == v || slices.Contains(ancestors, c.ImageID) }) &&
		f.any("network", func(v string) bool {
			_, on := c.NetworkSettings.Networks[v]
			return on || c.HostConfig.NetworkMode == v
		}) &&
		f.any("volume", func(v string) bool {
			return slices.ContainsFunc(c.HostConfig.Mounts, func(m container.Mount) bool { return m.Source == v || m.Destination == v })
		}) &&
		f.any("health", func(v string) bool { return health == v })
}

// ContainerPrune removes stopped containers (created, exited, dead) that
// match the filters (label, until). It reports what it removed and the
// space the containers' layers took.
func (e *Engine) ContainerPrune(ctx context.Context, f Filters) (ctypes.PruneReport, error) {
	var rep ctypes.PruneReport
	if err := f.check("label", "label!", "until"); err != nil {
		return rep, err
	}
	until, err := untilFilter(f)
	if err != nil {
		return rep, err
	}
	err = e.withStore(func(st *storage.Store) error {
		all, err := container.List()
		if err != nil {
			return err
		}
		for _, c := range all {
			if err := cancelled(ctx); err != nil {
				return err
			}
			if !prunable(c) || !f.labels("label", c.Config.Labels) || len(f["label!"]) > 0 && labelsMatchAny(f["label!"], c.Config.Labels) ||
				!until.IsZero() && !c.Created.Before(until) {
				continue
			}
			size, _ := st.Raw().ContainerSize(c.ID)
			removed, err := runtime.Remove(st, c.ID, c.State.Status != container.StatusExited, false)
			if err != nil {
				if isNotFound(err) || errors.Is(err, errdefs.ErrConflict) {
					continue // removed or started meanwhile
				}
				return err
			}
			if removed == nil {
				continue // removed meanwhile by another command
			}
			containerEvent(removed, "destroy", nil)
			rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
			rep.SpaceReclaimed += uint64(size)
		}
		return nil
	})
	if err == nil {
		pruneEvent(events.ContainerEventType, &rep.SpaceReclaimed)
	}
	return rep, err
}

// prunable reports whether a prune may take c: stopped, and not a created
// container whose supervisor is starting it right now.
func prunable(c *container.Container) bool {
	switch c.State.Status {
	case container.StatusExited, container.StatusDead, container.StatusRemoving:
		return true
	case container.StatusCreated:
		return c.State.SupervisorPid == 0 && !c.Starting()
	}
	return false
}

func labelsMatchAny(specs []string, labels map[string]string) bool {
	return slices.ContainsFunc(specs, func(s string) bool { return hasLabel(labels, s) })
}
