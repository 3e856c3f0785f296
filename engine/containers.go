package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	ctypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/internal/trace"
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

// FormatLogAttrs is log attributes as `logs --details` shows them:
// k=v,k=v, sorted, query-escaped (Docker's).
func FormatLogAttrs(attrs map[string]string) string { return container.FormatLogAttrs(attrs) }

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

// ParseDetachKeys parses Docker's key sequence, e.g. ctrl-p,ctrl-q.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			ch := k[5]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
			case ch == '@':
				out = append(out, 0)
			case ch >= '[' && ch <= '_':
				out = append(out, ch-'['+27)
			default:
				return nil, errdefs.Invalid("invalid --detach-keys %q: unknown key %q", s, k)
			}
		default:
			return nil, errdefs.Invalid("invalid --detach-keys %q: use keys like a or ctrl-p, separated by commas", s)
		}
	}
	return out, nil
}

// ParseSignal accepts TERM, SIGTERM, sigterm or a number.
func ParseSignal(s string) (unix.Signal, error) { return runtime.ParseSignal(s) }

// ContainerStart starts a created or stopped container in the
// background; a running one is left as it is, as in Docker.
func (e *Engine) ContainerStart(ctx context.Context, ref string) error {
	return e.ContainerStartNotify(ctx, ref, "")
}

// ContainerStartNotify is ContainerStart for a command that systemd runs
// in a Type=notify unit: notifySocket is its NOTIFY_SOCKET ("" for none).
// Once the container has started, systemd hears what the container's
// --sdnotify mode says: MAINPID=<its supervisor> and READY=1
// (supervisor), MAINPID only, the socket being mounted into the container
// for its application (container), or nothing (ignore).
func (e *Engine) ContainerStartNotify(ctx context.Context, ref, notifySocket string) error {
	wait := e.mountAside(ref)
	c, err := runtime.StartNotify(ref, notifySocket)
	wait(err)
	if err == nil {
		e.log.Debug("container started", "id", c.ID, "notify", notifySocket != "")
	}
	return err
}

// mountAside mounts the root file system of the container ref names, if
// it is not running, on another thread while its supervisor and
// skiff-start come up: skiff-start, whose first work that was, then
// takes it as mounted (runtime.HandOverRootfs). The returned func waits
// for it; given the start's error, it takes its mount back (the failed
// start's clean-up may have come first).
// A failure to mount is left to skiff-start, which reports it.
func (e *Engine) mountAside(ref string) func(startErr error) {
	done := make(chan func())
	go func() {
		undo := func() {}
		defer func() { done <- undo }()
		c, err := container.Lookup(ref)
		if err != nil || c.State.Running || c.State.Restarting || c.State.Paused {
			return
		}
		st, err := e.store()
		if err != nil {
			return
		}
		defer trace.Begin("mount the root file system (aside)")()
		if dir, err := st.Raw().Mount(c.ID, ""); err == nil {
			runtime.HandOverRootfs(c, dir) // skiff-start takes it as mounted
			undo = func() {
				runtime.WithdrawRootfs(c)
				_, _ = st.Raw().Unmount(c.ID, false)
			}
		}
	}()
	return func(startErr error) {
		undo := <-done
		if startErr != nil {
			undo()
		}
	}
}

// ContainerStartAttached starts a container that is not running with
// the caller attached from its first byte; started, when set, gets the
// pid of its process once it runs. It returns when the container exits
// (its status) or the caller detaches (ErrDetached).
func (e *Engine) ContainerStartAttached(ctx context.Context, ref string, streams AttachStreams, started func(pid int)) (int, error) {
	a, err := e.ContainerStartWith(ctx, ref, streams)
	if err != nil {
		return 0, err
	}
	if started != nil {
		started(a.Pid)
	}
	defer trace.Begin("attached until it exits")()
	return a.Stream(streams)
}

// Attachment is a container started with the caller attached: Stream
// copies its streams until it exits (its status) or the caller detaches.
type Attachment struct {
	Pid int
	a   *runtime.Attached
	e   *Engine
}

// Stream copies until the container exits and returns its status. A
// --rm container is removed here, by the process that has it attached,
// before Stream returns (the supervisor hands it over).
func (a *Attachment) Stream(streams AttachStreams) (int, error) {
	code, err := a.a.Stream(streams)
	if a.a.HandedOver() {
		end := trace.Begin("remove the container (--rm)")
		err := a.e.withStore(func(st *storage.Store) error { return cleanupStep(st, a.a.C.ID, true) })
		if err != nil {
			a.e.log.Debug("removing the --rm container; its supervisor will", "id", a.a.C.ID, "err", err)
		}
		_ = a.a.Close()
		end()
	}
	return code, err
}

// ContainerStartWith starts a container that is not running with the
// caller attached from its first byte, and returns once it runs.
func (e *Engine) ContainerStartWith(ctx context.Context, ref string, streams AttachStreams) (*Attachment, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Running {
		return nil, fmt.Errorf("container %s is already running: use attach: %w", c.Name, errdefs.ErrConflict)
	}
	containerEvent(c, "attach", nil) // before its start, as Docker's run
	streams.RemoveOnExit = c.HostConfig.AutoRemove
	wait := e.mountAside(c.ID)
	a, err := runtime.StartAttached(c, streams)
	wait(err)
	if err != nil {
		return nil, err
	}
	e.log.Debug("container started attached", "id", c.ID)
	return &Attachment{Pid: a.Pid, a: a, e: e}, nil
}

// ContainerAttach joins a running container's streams until it exits
// (its status) or the caller detaches (ErrDetached).
func (e *Engine) ContainerAttach(ctx context.Context, ref string, streams AttachStreams) (int, error) {
	if c, err := container.Lookup(ref); err == nil && c.State.Running {
		containerEvent(c, "attach", nil)
	}
	return runtime.Attach(ref, streams)
}

// ContainerStop stops a running container; a stopped one is left as it is.
func (e *Engine) ContainerStop(ctx context.Context, ref string, o StopOptions) error {
	if o.Signal != "" {
		if _, err := runtime.ParseSignal(o.Signal); err != nil {
			return err
		}
	}
	c, err := runtime.Stop(ref, o.Timeout, o.Signal)
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Restarting || c.State.Status == container.StatusRestarting {
		containerEvent(c, "stop", nil)
	}
	return nil
}

// ContainerRestart stops a container (as ContainerStop) and starts it.
func (e *Engine) ContainerRestart(ctx context.Context, ref string, o StopOptions) error {
	if err := e.ContainerStop(ctx, ref, o); err != nil {
		return err
	}
	if err := e.ContainerStart(ctx, ref); err != nil {
		return err
	}
	if c, err := container.Lookup(ref); err == nil {
		containerEvent(c, "restart", nil)
	}
	return nil
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
	c, err := runtime.Kill(ref, sig)
	if err != nil {
		return err
	}
	containerEvent(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// ContainerRemove removes a container: a running one only with Force.
func (e *Engine) ContainerRemove(ctx context.Context, ref string, o RemoveOptions) error {
	return e.withStore(func(st *storage.Store) error {
		c, err := runtime.Remove(st, ref, o.Force, o.Volumes)
		if err == nil && c != nil { // nil: its supervisor removed it (--rm) and said so
			containerEvent(c, "destroy", nil)
		}
		return err
	})
}

// ContainerWait blocks until the container stops and returns its exit
// code; cancelling ctx ends the wait.
func (e *Engine) ContainerWait(ctx context.Context, ref string) (int, error) {
	return runtime.Wait(ctx, ref)
}

// Conditions of ContainerWaitFor, as Docker's API names them.
const (
	WaitNotRunning = "not-running" // now, if it is not running
	WaitNextExit   = "next-exit"   // the next time it stops
	WaitRemoved    = "removed"     // once it is removed
)

// ContainerWaitFor waits, as Docker's API does, for a condition and
// returns the container's exit code: not-running returns at once when
// the container is not running (created containers too), next-exit waits
// for the exit after this call, removed for the record to go.
func (e *Engine) ContainerWaitFor(ctx context.Context, ref, condition string) (int, error) {
	if err := CheckWaitCondition(condition); err != nil {
		return 0, err
	}
	return runtime.WaitFor(ctx, ref, condition == WaitNextExit, condition == WaitRemoved)
}

// CheckWaitCondition refuses a condition ContainerWaitFor does not know,
// for callers that must answer before they wait.
func CheckWaitCondition(condition string) error {
	switch condition {
	case "", WaitNotRunning, WaitNextExit, WaitRemoved:
		return nil
	}
	return errdefs.Invalid("invalid wait condition %q: want not-running, next-exit or removed", condition)
}

// ContainerRename gives a container a new name.
func (e *Engine) ContainerRename(ctx context.Context, ref, name string) error {
	return e.withStore(func(st *storage.Store) error {
		old, err := container.Lookup(ref)
		if err != nil {
			return err
		}
		if err := runtime.Rename(st, ref, name); err != nil {
			return err
		}
		if c, err := container.ReadRecord(old.ID); err == nil {
			containerEvent(c, "rename", map[string]string{"oldName": "/" + old.Name})
		}
		return nil
	})
}

// ContainerPause freezes a running container (needs the freezer cgroup).
func (e *Engine) ContainerPause(ctx context.Context, ref string) error {
	return afterEvent(ref, "pause", runtime.Pause(ref))
}

// ContainerUnpause thaws a paused container.
func (e *Engine) ContainerUnpause(ctx context.Context, ref string) error {
	return afterEvent(ref, "unpause", runtime.Unpause(ref))
}

// afterEvent records a container's event when the call that returned err
// succeeded, and returns err.
func afterEvent(ref string, action events.Action, err error) error {
	if err != nil {
		return err
	}
	if c, lerr := container.Lookup(ref); lerr == nil {
		containerEvent(c, action, nil)
	}
	return nil
}

// ContainerExec runs a command in a running container and returns its
// exit status as an *errdefs.ExitStatus when it is not 0. Its events are
// Docker's: exec_create and exec_start (with the command) once the
// process runs, exec_die (exitCode) when it ends.
func (e *Engine) ContainerExec(ctx context.Context, ref string, o ExecOptions) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	id := o.ID
	if id == "" {
		id = NewID()
	}
	cmdline := strings.Join(o.Cmd, " ")
	started := false
	caller := o.Started
	o.Started = func(pid int) {
		started = true
		containerEvent(c, events.Action("exec_create: "+cmdline), map[string]string{"execID": id})
		containerEvent(c, events.Action("exec_start: "+cmdline), map[string]string{"execID": id})
		if caller != nil {
			caller(pid)
		}
	}
	err = runtime.Exec(ref, o)
	var st *errdefs.ExitStatus
	switch {
	case errors.Is(err, ErrDetached):
		containerEvent(c, "exec_detach", map[string]string{"execID": id})
	case started && !o.Detach && (err == nil || errors.As(err, &st)):
		containerEvent(c, "exec_die", map[string]string{"execID": id, "exitCode": strconv.Itoa(errdefs.ExitCode(err))})
	}
	return err
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
	if res, err = topResponse(string(out), pids); err != nil {
		return res, err
	}
	containerEvent(c, "top", nil)
	return res, nil
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
			err = st.Export(ctx, c.ID, to.Writer)
		} else {
			err = ondisk.WriteStream(to.Path, 0o644, func(f *os.File) error { return st.Export(ctx, c.ID, f) })
		}
		if err == nil {
			containerEvent(c, "export", nil)
		}
		return err
	})
}

// CopyOptions are `cp`'s flags.
type CopyOptions = runtime.CopyOptions

// CopyFromContainer copies ctrPath out of a container into hostDest, or
// as a tar stream to w when hostDest is "-".
func (e *Engine) CopyFromContainer(ctx context.Context, ref, ctrPath, hostDest string, w io.Writer, o CopyOptions) error {
	return e.withStore(func(st *storage.Store) error {
		return afterEvent(ref, "archive-path", runtime.CopyFrom(st, ref, ctrPath, hostDest, w, o))
	})
}

// PathStat describes a path in a container.
type PathStat = runtime.PathStat

// ContainerStatPath describes a path in a container (the API's archive
// HEAD), without following a final symlink.
func (e *Engine) ContainerStatPath(ctx context.Context, ref, ctrPath string) (*PathStat, error) {
	var ps *PathStat
	err := e.withStore(func(st *storage.Store) (err error) {
		ps, err = runtime.StatPath(st, ref, ctrPath)
		return err
	})
	return ps, err
}

// CopyToContainer copies hostSrc (or the tar stream r when hostSrc is
// "-") into a container at ctrPath.
func (e *Engine) CopyToContainer(ctx context.Context, ref, hostSrc string, r io.Reader, ctrPath string, o CopyOptions) error {
	return e.withStore(func(st *storage.Store) error {
		return afterEvent(ref, "extract-to-dir", runtime.CopyTo(st, ref, hostSrc, r, ctrPath, o))
	})
}

// isNotFound reports whether err is of the not-found class.
func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
