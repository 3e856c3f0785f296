package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	ctypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/supervisor"
)

// AttachStreams are the caller's ends of a container's streams.
type AttachStreams = supervisor.AttachStreams

// ExecOptions describe a command to run in a running container.
type ExecOptions = runtime.ExecOptions

// LogOptions select what ContainerLogs writes.
type LogOptions = supervisor.LogOptions

// ErrDetached ends an attach on the detach keys: the container runs on.
var ErrDetached = supervisor.ErrDetached

// StopOptions are `stop`'s and `restart`'s: the signal (default the
// container's stop signal, else SIGTERM) and the seconds to wait before
// SIGKILL (default the container's stop timeout, else 10).
type StopOptions struct {
	Signal  string
	Timeout *int
}

// RemoveOptions are `rm`'s: Force kills a running container first,
// Volumes removes its anonymous volumes too.
type RemoveOptions struct {
	Force   bool
	Volumes bool
}

// ParseSignal accepts TERM, SIGTERM, sigterm or a number.
func ParseSignal(s string) (unix.Signal, error) { return runtime.ParseSignal(s) }

// ContainerStart starts a created or stopped container in the
// background; a running one is left as it is, as in Docker.
func (e *Engine) ContainerStart(ctx context.Context, ref string) error {
	c, err := runtime.Start(ref)
	if err == nil {
		e.log.Debug("container started", "id", c.ID)
	}
	return err
}

// ContainerStartAttached starts a container that is not running with
// the caller attached from its first byte; started, when set, gets the
// pid of its process once it runs. It returns when the container exits
// (its status) or the caller detaches (ErrDetached).
func (e *Engine) ContainerStartAttached(ctx context.Context, ref string, streams AttachStreams, started func(pid int)) (int, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return 0, err
	}
	if c.State.Running {
		return 0, fmt.Errorf("container %s is already running: use attach: %w", c.Name, errdefs.ErrConflict)
	}
	a, err := runtime.StartAttached(c, streams)
	if err != nil {
		return 0, err
	}
	if started != nil {
		started(a.Pid)
	}
	return a.Stream(streams)
}

// ContainerAttach joins a running container's streams until it exits
// (its status) or the caller detaches (ErrDetached).
func (e *Engine) ContainerAttach(ctx context.Context, ref string, streams AttachStreams) (int, error) {
	return runtime.Attach(ref, streams)
}

// ContainerStop stops a running container; a stopped one is left as it is.
func (e *Engine) ContainerStop(ctx context.Context, ref string, o StopOptions) error {
	if o.Signal != "" {
		if _, err := runtime.ParseSignal(o.Signal); err != nil {
			return err
		}
	}
	_, err := runtime.Stop(ref, o.Timeout, o.Signal)
	return err
}

// ContainerRestart stops a container (as ContainerStop) and starts it.
func (e *Engine) ContainerRestart(ctx context.Context, ref string, o StopOptions) error {
	if err := e.ContainerStop(ctx, ref, o); err != nil {
		return err
	}
	return e.ContainerStart(ctx, ref)
}

// ContainerKill sends a signal (default KILL) to a running container.
func (e *Engine) ContainerKill(ctx context.Context, ref, signal string) error {
	if signal == "" {
		signal = "KILL"
	}
	sig, err := runtime.ParseSignal(signal)
	if err != nil {
		return err
	}
	_, err = runtime.Kill(ref, sig)
	return err
}

// ContainerRemove removes a container: a running one only with Force.
func (e *Engine) ContainerRemove(ctx context.Context, ref string, o RemoveOptions) error {
	return e.withStore(func(st *storage.Store) error {
		_, err := runtime.Remove(st, ref, o.Force, o.Volumes)
		return err
	})
}

// ContainerWait blocks until the container stops and returns its exit
// code; cancelling ctx ends the wait.
func (e *Engine) ContainerWait(ctx context.Context, ref string) (int, error) {
	return runtime.Wait(ctx, ref)
}

// ContainerRename gives a container a new name.
func (e *Engine) ContainerRename(ctx context.Context, ref, name string) error {
	return e.withStore(func(st *storage.Store) error { return runtime.Rename(st, ref, name) })
}

// ContainerPause freezes a running container (needs the freezer cgroup).
func (e *Engine) ContainerPause(ctx context.Context, ref string) error { return runtime.Pause(ref) }

// ContainerUnpause thaws a paused container.
func (e *Engine) ContainerUnpause(ctx context.Context, ref string) error { return runtime.Unpause(ref) }

// ContainerExec runs a command in a running container and returns its
// exit status as an *errdefs.ExitStatus when it is not 0.
func (e *Engine) ContainerExec(ctx context.Context, ref string, o ExecOptions) error {
	return runtime.Exec(ref, o)
}

// ContainerLogs writes a container's log to stdout and stderr; with
// Follow it goes on until the container stops or ctx is cancelled.
func (e *Engine) ContainerLogs(ctx context.Context, ref string, o LogOptions, stdout, stderr io.Writer) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	return supervisor.ReadLogs(c, o, stdout, stderr, ctx.Done())
}

// ContainerTop lists the processes of a running container with ps and
// psArgs (default -ef), as Docker does: ps runs on the host and only the
// container's processes are kept, host pids and all.
func (e *Engine) ContainerTop(ctx context.Context, ref string, psArgs []string) (ctypes.TopResponse, error) {
	var res ctypes.TopResponse
	c, err := container.Lookup(ref)
	if err != nil {
		return res, err
	}
	pids, err := runtime.ContainerPids(c)
	if err != nil {
		return res, err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", psArgs...).CombinedOutput()
	if err != nil {
		return res, errdefs.Invalid("top: ps %s: %s", strings.Join(psArgs, " "), strings.TrimSpace(string(out)))
	}
	return topResponse(string(out), pids)
}

// topResponse splits ps's output into Docker's titles and rows, keeping
// the rows of pids; the last column (the command) keeps its spaces.
func topResponse(out string, pids []int) (ctypes.TopResponse, error) {
	var res ctypes.TopResponse
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	res.Titles = strings.Fields(lines[0])
	col := -1
	for i, h := range res.Titles {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return res, errdefs.Invalid("top: ps output has no PID column: include pid in the ps options")
	}
	want := map[string]bool{}
	for _, p := range pids {
		want[fmt.Sprint(p)] = true
	}
	res.Processes = [][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col || !want[f[col]] {
			continue
		}
		if n := len(res.Titles); len(f) > n {
			f = append(f[:n-1], strings.Join(f[n-1:], " "))
		}
		res.Processes = append(res.Processes, f)
	}
	return res, nil
}

// statsInterval is how long a CPU sample lasts.
const statsInterval = 200 * time.Millisecond

// ContainerStats is one container's resource use (`stats --no-stream`).
type ContainerStats struct {
	ID, Name   string
	CPUPercent float64
	MemUsage   uint64
	MemLimit   uint64
	MemPercent float64
	Pids       uint64
}

// ContainerStats samples the resource use of the given containers, or
// of every running one (every one with all) when refs is empty.
func (e *Engine) ContainerStats(ctx context.Context, refs []string, all bool) ([]ContainerStats, error) {
	var ctrs []*container.Container
	if len(refs) == 0 {
		list, err := container.List()
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if c.State.Running || all {
				ctrs = append(ctrs, c)
			}
		}
	}
	for _, ref := range refs {
		c, err := container.Lookup(ref)
		if err != nil {
			return nil, err
		}
		ctrs = append(ctrs, c)
	}
	out := make([]ContainerStats, 0, len(ctrs))
	for _, c := range ctrs {
		s, err := runtime.Stats(c, statsInterval)
		if err != nil {
			return nil, err
		}
		out = append(out, ContainerStats{ID: c.ID, Name: c.Name, CPUPercent: s.CPUPercent, MemUsage: s.MemUsage,
			MemLimit: s.MemLimit, MemPercent: s.MemPercent, Pids: s.Pids})
	}
	return out, nil
}

// ContainerChanges lists what changed in a container's file system
// against its image (A added, C changed, D deleted), mount points left out.
func (e *Engine) ContainerChanges(ctx context.Context, ref string) ([]ctypes.FilesystemChange, error) {
	var out []ctypes.FilesystemChange
	err := e.withStore(func(st *storage.Store) error {
		c, err := container.Lookup(ref)
		if err != nil {
			return err
		}
		changes, err := st.Changes(c.ID, mountPoints(c))
		if err != nil {
			return err
		}
		kinds := map[string]ctypes.ChangeType{"C": ctypes.ChangeModify, "A": ctypes.ChangeAdd, "D": ctypes.ChangeDelete}
		for _, ch := range changes {
			out = append(out, ctypes.FilesystemChange{Kind: kinds[ch.Kind], Path: ch.Path})
		}
		return nil
	})
	return out, err
}

// mountPoints are where a container has mounts: their mount points in its
// layer are the runtime's, not changes of the user.
func mountPoints(c *container.Container) []string {
	var out []string
	for _, m := range c.HostConfig.Mounts {
		out = append(out, m.Destination)
	}
	return out
}

// ExportTarget is where an export goes: Writer, or Path, a file written
// atomically (a failure leaves nothing under its name).
type ExportTarget struct {
	Writer io.Writer
	Path   string
}

// ContainerExport writes a container's file system as a tar.
func (e *Engine) ContainerExport(ctx context.Context, ref string, to ExportTarget) error {
	return e.withStore(func(st *storage.Store) error {
		c, err := container.Lookup(ref)
		if err != nil {
			return err
		}
		if to.Path == "" {
			return st.Export(ctx, c.ID, to.Writer)
		}
		return ondisk.WriteStream(to.Path, 0o644, func(f *os.File) error { return st.Export(ctx, c.ID, f) })
	})
}

// CopyOptions are `cp`'s flags.
type CopyOptions = runtime.CopyOptions

// CopyFromContainer copies ctrPath out of a container into hostDest, or
// as a tar stream to w when hostDest is "-".
func (e *Engine) CopyFromContainer(ctx context.Context, ref, ctrPath, hostDest string, w io.Writer, o CopyOptions) error {
	return e.withStore(func(st *storage.Store) error { return runtime.CopyFrom(st, ref, ctrPath, hostDest, w, o) })
}

// CopyToContainer copies hostSrc (or the tar stream r when hostSrc is
// "-") into a container at ctrPath.
func (e *Engine) CopyToContainer(ctx context.Context, ref, hostSrc string, r io.Reader, ctrPath string, o CopyOptions) error {
	return e.withStore(func(st *storage.Store) error { return runtime.CopyTo(st, ref, hostSrc, r, ctrPath, o) })
}

// isNotFound reports whether err is of the not-found class.
func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
