package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	netpkg "github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/services"
	"github.com/skiff-project/skiff/storage"
)

// CheckOptions are `system check`'s.
type CheckOptions struct {
	Repair bool // fix what is found
	// Force also removes containers the storage library finds damaged, and
	// takes orphans younger than the grace period (a command may be making
	// them right now).
	Force bool
	// Quick leaves out the slow checks of the store (layer digests,
	// mounting every layer).
	Quick bool
}

// CheckFinding is one problem and what --repair does (or did) about it.
type CheckFinding struct {
	Object   string // what, e.g. "container 3f2a1b0c9d8e (web)"
	Problem  string
	Repair   string // what --repair does
	Repaired bool
	Err      string // why the repair failed
}

// CheckReport is what SystemCheck found and did.
type CheckReport struct {
	Findings []CheckFinding
}

// Unrepaired counts the problems left.
func (r *CheckReport) Unrepaired() int {
	n := 0
	for _, f := range r.Findings {
		if !f.Repaired {
			n++
		}
	}
	return n
}

// checkGrace is how old an orphan must be before a check without --force
// takes it: younger ones may belong to a command running now.
const checkGrace = time.Minute

// SystemCheck finds what a crash or a full disk can leave behind and,
// with Repair, fixes it: supervisors without containers, containers
// whose supervisor is gone, removals cut short, records without storage
// and storage without records, leftover build containers, mounts of
// stopped containers, duplicate names, stale network endpoints,
// half-stored images, half-created volumes, and what the storage
// library's own check finds.
func (e *Engine) SystemCheck(ctx context.Context, o CheckOptions) (*CheckReport, error) {
	st, err := e.store()
	if err != nil {
		return nil, err
	}
	c := &checker{e: e, st: st, o: o, rep: &CheckReport{}}
	for _, step := range []func() error{
		c.supervisors, c.deadContainers, c.removals, c.recordsWithoutStorage, c.storageWithoutRecords,
		c.buildContainers, c.mounts, c.duplicateNames, c.networkEndpoints, c.halfStoredImages,
		c.halfCreatedVolumes, c.keepers, c.store,
	} {
		if err := cancelled(ctx); err != nil {
			return c.rep, err
		}
		if err := step(); err != nil {
			return c.rep, err
		}
	}
	return c.rep, nil
}

type checker struct {
	e   *Engine
	st  *storage.Store
	o   CheckOptions
	rep *CheckReport
}

// found records a problem and, with --repair, runs fix.
func (c *checker) found(object, problem, repair string, fix func() error) {
	f := CheckFinding{Object: object, Problem: problem, Repair: repair}
	if c.o.Repair && fix != nil {
		if err := fix(); err != nil {
			f.Err = errdefs.Message(err)
		} else {
			f.Repaired = true
		}
	}
	c.rep.Findings = append(c.rep.Findings, f)
}

func ctrName(ctr *container.Container) string {
	return fmt.Sprintf("container %s (%s)", container.ShortID(ctr.ID), ctr.Name)
}

// idle reports whether no process holds ctr: no live supervisor, and no
// live command about to start it.
func idle(ctr *container.Container) bool {
	return (ctr.State.SupervisorPid == 0 || !container.Alive(ctr.State.SupervisorPid, ctr.ID)) && !ctr.Starting()
}

func (c *checker) supervisors() error {
	for _, s := range runtime.Supervisors() {
		if _, err := container.ReadRecord(s.ContainerID); !errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		pid := s.Pid
		c.found(fmt.Sprintf("supervisor %d", pid), "its container "+container.ShortID(s.ContainerID)+" is gone",
			"stop it", func() error { return unix.Kill(pid, unix.SIGKILL) })
	}
	return nil
}

func (c *checker) deadContainers() error {
	all, err := container.List()
	if err != nil {
		return err
	}
	for _, ctr := range all {
		if ctr.State.Status != container.StatusDead {
			continue
		}
		id := ctr.ID
		c.found(ctrName(ctr), "its supervisor is gone (dead)", "clean up its processes, mounts and networks and record it exited",
			func() error { return runtime.Recover(c.st, id) })
	}
	return nil
}

func (c *checker) removals() error {
	all, err := container.List()
	if err != nil {
		return err
	}
	for _, ctr := range all {
		if ctr.State.Status != container.StatusRemoving {
			continue
		}
		id := ctr.ID
		c.found(ctrName(ctr), "its removal was interrupted", "finish removing it", func() error {
			_, err := runtime.Remove(c.st, id, true, false)
			return err
		})
	}
	return nil
}

func (c *checker) recordsWithoutStorage() error {
	all, err := container.List()
	if err != nil {
		return err
	}
	for _, ctr := range all {
		if _, err := c.st.Raw().Container(ctr.ID); err == nil || !errors.Is(err, cstorage.ErrContainerUnknown) && !errors.Is(err, cstorage.ErrNotAContainer) {
			continue
		}
		if !idle(ctr) || time.Since(ctr.Created) < checkGrace && !c.o.Force {
			continue // being created right now, or still running
		}
		ctr := ctr
		c.found(ctrName(ctr), "it has no storage layer", "remove its record", func() error {
			_, err := runtime.Remove(c.st, ctr.ID, true, true)
			return err
		})
	}
	return nil
}

func (c *checker) storageWithoutRecords() error {
	raw := c.st.Raw()
	ctrs, err := raw.Containers()
	if err != nil {
		return err
	}
	for _, sc := range ctrs {
		if _, err := container.ReadRecord(sc.ID); !errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if time.Since(sc.Created) < checkGrace && !c.o.Force {
			continue // a create or a build making it right now
		}
		id := sc.ID
		what := "storage container " + container.ShortID(id)
		if len(sc.Names) > 0 {
			what += " (" + strings.Join(sc.Names, ", ") + ")"
		}
		c.found(what, "it has no container record (left by an interrupted create, rm or build)", "unmount and delete it", func() error {
			_, _ = raw.Unmount(id, true)
			if err := raw.DeleteContainer(id); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
				return err
			}
			return nil
		})
	}
	return nil
}

func (c *checker) buildContainers() error {
	all, err := container.List()
	if err != nil {
		return err
	}
	for _, ctr := range all {
		if !strings.HasPrefix(ctr.Name, "skiff-build-") || ctr.State.Running || !idle(ctr) ||
			time.Since(ctr.Created) < checkGrace && !c.o.Force {
			continue
		}
		id := ctr.ID
		c.found(ctrName(ctr), "a RUN step's container left by an interrupted build", "remove it", func() error {
			_, err := runtime.Remove(c.st, id, true, true)
			return err
		})
	}
	return nil
}

func (c *checker) mounts() error {
	all, err := container.List()
	if err != nil {
		return err
	}
	raw := c.st.Raw()
	for _, ctr := range all {
		if ctr.State.Running || !idle(ctr) {
			continue
		}
		if n, err := raw.Mounted(ctr.ID); err != nil || n == 0 {
			continue
		}
		id := ctr.ID
		c.found(ctrName(ctr), "its file system is still mounted but it is not running", "unmount it", func() error {
			_, err := raw.Unmount(id, true)
			return err
		})
	}
	return nil
}

func (c *checker) duplicateNames() error {
	all, err := container.List() // newest first
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := len(all) - 1; i >= 0; i-- {
		ctr := all[i]
		if !seen[ctr.Name] {
			seen[ctr.Name] = true
			continue
		}
		id, name := ctr.ID, ctr.Name+"_"+ctr.ID[:6]
		c.found(ctrName(ctr), "another container has the same name", "rename it "+name, func() error {
			return runtime.Rename(c.st, id, name)
		})
	}
	return nil
}

func (c *checker) networkEndpoints() error {
	nets, err := netpkg.List()
	if err != nil {
		return err
	}
	for _, n := range nets {
		for id, ep := range n.Containers {
			ctr, err := container.ReadRecord(id)
			if err == nil && (ctr.State.Running || !idle(ctr)) {
				continue
			}
			netName, ctrID := n.Name, id
			c.found(fmt.Sprintf("network %s", n.Name), fmt.Sprintf("container %s (%s) is on it but not running", container.ShortID(id), ep.Name),
				"take it off the network", func() error { return netpkg.Detach(netName, ctrID) })
		}
	}
	left, err := netpkg.Unforwarded()
	for _, id := range left {
		ctrID := id
		c.found("container "+container.ShortID(id), "iptables rules forward published ports to it, but no network holds it",
			"remove the rules", func() error { return netpkg.RemoveForwarding(ctrID) })
	}
	return err
}

func (c *checker) halfStoredImages() error {
	ids, err := c.st.HalfStoredImages()
	if err != nil {
		return err
	}
	for _, id := range ids {
		id := id
		c.found("image "+container.ShortID(id), "its config is missing (left by an interrupted pull, load, import, commit or build)",
			"remove it (pull or load it again)", func() error { return c.st.RemoveHalfStored(id) })
	}
	return nil
}

func (c *checker) halfCreatedVolumes() error {
	names, err := storage.HalfCreatedVolumes()
	if err != nil {
		return err
	}
	for _, name := range names {
		name := name
		c.found("volume directory "+name, "it has no volume record (left by an interrupted create)", "remove it",
			func() error { return storage.RemoveHalfCreatedVolume(name) })
	}
	return nil
}

// keepers finds services whose keeper is gone (killed, or the host
// restarted) and services whose removal was cut short.
func (c *checker) keepers() error {
	all, err := services.List()
	if err != nil {
		return err
	}
	for _, s := range all {
		id := s.ID
		if alive, err := services.KeeperAlive(id); err != nil || alive {
			continue
		}
		c.found(fmt.Sprintf("service %s (%s)", id[:12], s.Spec.Name), "its keeper is not running: failed replicas are not replaced and its ports are not published",
			"start it (any skiff service command does too)", func() error { return startKeeper(id) })
	}
	for _, id := range services.HalfRemoved() {
		c.found("service directory "+id, "it has no service record (left by an interrupted service rm)", "remove its replicas and the directory",
			func() error {
				if err := c.e.removeReplicas(context.Background(), id); err != nil {
					return err
				}
				return services.Remove(id)
			})
	}
	return nil
}

// store runs the storage library's own check of layers, images and
// container layers.
func (c *checker) store() error {
	opts := cstorage.CheckMost()
	if c.o.Quick {
		opts = &cstorage.CheckOptions{LayerData: true, ImageData: true, ContainerData: true}
	}
	raw := c.st.Raw()
	report, err := raw.Check(opts)
	if err != nil {
		return fmt.Errorf("checking the image store: %w", err)
	}
	damaged := len(report.Layers) + len(report.ROLayers) + len(report.Images) + len(report.ROImages) + len(report.Containers)
	if damaged == 0 {
		return nil
	}
	repaired := false
	fix := func() error {
		if repaired {
			return nil
		}
		repaired = true
		if errs := raw.Repair(report, &cstorage.RepairOptions{RemoveContainers: c.o.Force}); len(errs) > 0 {
			return errors.Join(errs...)
		}
		return nil
	}
	for kind, m := range map[string]map[string][]error{"layer": report.Layers, "image": report.Images, "read-only layer": report.ROLayers, "read-only image": report.ROImages} {
		for id, errs := range m {
			c.found(kind+" "+container.ShortID(id), errdefs.Message(errors.Join(errs...)), "remove it and what is built on it", fix)
		}
	}
	for id, errs := range report.Containers {
		how, f := "remove it (with --force)", fix
		if !c.o.Force {
			f = nil
		}
		c.found("storage container "+container.ShortID(id), errdefs.Message(errors.Join(errs...)), how, f)
	}
	return nil
}
