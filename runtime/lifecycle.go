package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/supervisor"
)

// session is a supervisor being started by this process.
type session struct {
	c      *container.Container
	report *bufio.Reader
	file   *os.File
	proc   *os.Process
	exited chan struct{} // closed once the supervisor is reaped
}

// spawn starts the container's supervisor, detached in its own session,
// with this process's environment less systemd's NOTIFY_SOCKET, plus env.
// With waitAttach it waits for the first attach before starting the
// container, so that no output is missed.
func spawn(c *container.Container, waitAttach bool, env ...string) (*session, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bin, err := supervisorBinary(self)
	if err != nil {
		return nil, err
	}
	starter, err := helperBinary(self, "skiff-start", "SKIFF_START")
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args := []string{container.SupervisorArg, c.ID}
	if waitAttach {
		args = append(args, "attach")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = supervisor.LeanEnv(supervisorEnv(append(env, supervisor.EnvSkiff+"="+self, supervisor.EnvStarter+"="+starter)...))
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	end := trace.Begin("fork and exec the supervisor")
	err = cmd.Start()
	end()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("starting the supervisor of %s: %w", c.Name, err)
	}
	w.Close()
	// Reap it when it ends: a long-lived caller (the API service) would
	// otherwise keep a zombie per container that ran.
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return &session{c: c, report: bufio.NewReader(r), file: r, proc: cmd.Process, exited: exited}, nil
}

// supervisorBinary finds skiff-supervisor: $SKIFF_SUPERVISOR, next to
// skiff, or in libexec.
func supervisorBinary(self string) (string, error) {
	return helperBinary(self, "skiff-supervisor", "SKIFF_SUPERVISOR")
}

// helperBinary finds one of the binaries skiff runs beside itself
// (skiff-supervisor, skiff-start): $env, next to skiff, or in libexec.
func helperBinary(self, name, env string) (string, error) {
	candidates := []string{
		os.Getenv(env),
		filepath.Join(filepath.Dir(self), name),
		"/usr/local/libexec/skiff/" + name,
		"/usr/libexec/skiff/" + name,
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found next to %s or in /usr/local/libexec/skiff: build it with make build and install skiff's binaries (./install.sh): %w", name, self, errdefs.ErrUnavailable)
}

// next reads the supervisor's next report line.
func (s *session) next() (string, error) {
	line, err := s.report.ReadString('\n')
	if err != nil {
		<-s.exited
		return "", fmt.Errorf("the supervisor of %s exited before it started the container: %w", s.c.Name, errdefs.ErrUnavailable)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		codeStr, msg, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeStr)
		<-s.exited
		return "", supervisor.ReportError(code, msg)
	}
	return line, nil
}

// started waits for "started PID" and lets the supervisor go on alone.
func (s *session) started() (int, error) {
	defer trace.Begin("wait for the supervisor to start it")()
	for {
		line, err := s.next()
		if err != nil {
			return 0, err
		}
		if rest, ok := strings.CutPrefix(line, "started "); ok {
			s.file.Close()
			pid, _ := strconv.Atoi(rest)
			return pid, nil
		}
	}
}

// Start starts a created or stopped container in the background.
func Start(id string) (*container.Container, error) { return StartNotify(id, "") }

// StartNotify is Start for a command run by a systemd Type=notify unit:
// socket is its NOTIFY_SOCKET ("" for none). Once the container has
// started it tells systemd as the container's --sdnotify mode says:
// MAINPID (its supervisor, which outlives this process) and READY=1; a
// container with mode container gets the socket mounted and says READY=1
// itself. A container already running is announced the same way.
func StartNotify(id, socket string) (*container.Container, error) {
	c, err := container.Lookup(id)
	if err != nil {
		return nil, err
	}
	switch c.State.Status {
	case container.StatusRunning, container.StatusRestarting, container.StatusPaused:
		// Docker: starting a running container is a no-op
		if state := notifyState(c, c.State.SupervisorPid); socket != "" && c.State.SupervisorPid > 0 && state != "" {
			return c, Notify(socket, state)
		}
		return c, nil
	case container.StatusDead:
		return nil, fmt.Errorf("container %s is dead (its supervisor was killed): remove it with rm -f, or recover it with skiff system check --repair or skiff start --all: %w", c.Name, errdefs.ErrConflict)
	}
	env, err := notifyEnv(c, socket)
	if err != nil {
		return nil, err
	}
	s, err := spawn(c, false, env...)
	if err != nil {
		return nil, err
	}
	if _, err := s.started(); err != nil {
		return nil, err
	}
	if socket != "" {
		if state := notifyState(c, s.proc.Pid); state != "" {
			if err := Notify(socket, state); err != nil {
				return c, fmt.Errorf("container %s started, but: %w", c.Name, err)
			}
		}
	}
	return c, nil
}

// Attached is a started container whose output this process streams.
type Attached struct {
	C   *container.Container
	Pid int
	ac  *supervisor.Conn
}

// StartAttached starts c with this process attached from the first byte.
func StartAttached(c *container.Container, streams supervisor.AttachStreams) (*Attached, error) {
	s, err := spawn(c, true)
	if err != nil {
		return nil, err
	}
	if line, err := s.next(); err != nil {
		return nil, err
	} else if line != "listening" {
		return nil, fmt.Errorf("unexpected supervisor report %q", line)
	}
	ac, err := supervisor.Dial(c, streams)
	if err != nil {
		_ = s.proc.Kill()
		return nil, fmt.Errorf("attaching to %s: %w", c.Name, err)
	}
	pid, err := s.started()
	if err != nil {
		ac.Close()
		return nil, err
	}
	return &Attached{C: c, Pid: pid, ac: ac}, nil
}

// Stream copies until the container exits and returns its status.
func (a *Attached) Stream(streams supervisor.AttachStreams) (int, error) { return a.ac.Stream(streams) }

// HandedOver reports whether the container exited and is this caller's to
// remove (streams.RemoveOnExit); Close tells the supervisor it is done.
func (a *Attached) HandedOver() bool { return a.ac.HandedOver() }

// Close ends the session.
func (a *Attached) Close() error { return a.ac.Close() }

// Attach joins a running container's streams.
func Attach(ref string, streams supervisor.AttachStreams) (int, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return 0, err
	}
	if !c.State.Running {
		return 0, fmt.Errorf("cannot attach to container %s: it is not running (start it first): %w", c.Name, errdefs.ErrConflict)
	}
	ac, err := supervisor.Dial(c, streams)
	if err != nil {
		return 0, fmt.Errorf("attaching to %s: %w", c.Name, err)
	}
	return ac.Stream(streams)
}

// ParseSignal accepts TERM, SIGTERM, sigterm or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalid("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.Invalid("invalid signal %q: use a name like TERM or KILL, or a number", s)
}

// Kill sends sig to a running container's main process.
func Kill(ref string, sig unix.Signal) (*container.Container, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, fmt.Errorf("cannot kill container %s: it is not running: %w", c.Name, errdefs.ErrConflict)
	}
	if sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT {
		_, _ = container.Update(c.ID, func(c *container.Container) error { c.State.StoppedByUser = true; return nil })
	}
	if err := unix.Kill(c.State.Pid, sig); err != nil && err != unix.ESRCH {
		return nil, fmt.Errorf("signalling container %s: %w", c.Name, err)
	}
	return c, nil
}

// Stop sends the stop signal, waits up to timeout, then kills.
func Stop(ref string, timeout *int, signal string) (*container.Container, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status == container.StatusRestarting {
		_, _ = container.Update(c.ID, func(c *container.Container) error { c.State.StoppedByUser = true; return nil })
		waitNotRunning(c.ID, 5*time.Second)
		return c, nil
	}
	if c.State.Status == container.StatusDead && c.State.Pid > 0 && !startedBeforeBoot(c) && pidAlive(c.State.Pid) {
		// The supervisor is gone but the process is not: stop it all the same.
		if sig, err := ParseSignal(firstNonEmpty(signal, c.Config.StopSignal, "SIGTERM")); err == nil {
			_ = unix.Kill(c.State.Pid, sig)
		}
		if !waitPidExit(c.State.Pid, 10*time.Second) {
			_ = unix.Kill(c.State.Pid, unix.SIGKILL)
			waitPidExit(c.State.Pid, 5*time.Second)
		}
		return c, nil
	}
	if !c.State.Running {
		return c, nil // Docker: stopping a stopped container succeeds
	}
	sigName := firstNonEmpty(signal, c.Config.StopSignal, "SIGTERM")
	sig, err := ParseSignal(sigName)
	if err != nil {
		return nil, err
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	_, _ = container.Update(c.ID, func(c *container.Container) error { c.State.StoppedByUser = true; return nil })
	if c.State.Paused {
		_ = Unpause(c.ID)
	}
	_ = unix.Kill(c.State.Pid, sig)
	if t < 0 || !waitPidExit(c.State.Pid, time.Duration(t)*time.Second) {
		_ = unix.Kill(c.State.Pid, unix.SIGKILL)
	}
	waitNotRunning(c.ID, 10*time.Second)
	return c, nil
}

// waitPidExit waits until pid is gone (or a zombie): told by the kernel
// through a pidfd, else by polling.
func waitPidExit(pid int, d time.Duration) bool {
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		return pidfdExited(fd, d)
	}
	deadline := time.Now().Add(d)
	for {
		if !pidAlive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pidAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after the command name in parentheses
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// waitNotRunning polls the record until the supervisor has recorded the
// exit (or is gone).
func waitNotRunning(id string, d time.Duration) *container.Container {
	deadline := time.Now().Add(d)
	for {
		c, err := container.ReadRecord(id)
		if err != nil {
			return nil
		}
		if !c.State.Running && !c.State.Restarting {
			return c
		}
		if time.Now().After(deadline) {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait blocks until the container stops and returns its exit code;
// cancelling ctx ends the wait with ctx's error. Unlike Docker's, a wait
// on a created container waits for it to run and stop.
func Wait(ctx context.Context, ref string) (int, error) {
	return waitUntil(ctx, ref, false, func(c *container.Container, _ time.Time) bool { return stopped(c) })
}

// WaitFor waits as Docker's API does and returns the exit code: with
// neither flag until c is not running (at once for a created one), with
// nextExit until it stops after this call, with removed until it stops
// and its record is gone.
func WaitFor(ctx context.Context, ref string, nextExit, removed bool) (int, error) {
	return waitUntil(ctx, ref, removed, func(c *container.Container, since time.Time) bool {
		done := !c.State.Running && c.State.Status != container.StatusRestarting
		if nextExit {
			done = done && (c.State.FinishedAt.After(since) || stopped(c) && c.State.Error != "" && c.State.StartedAt.IsZero())
		}
		return done
	})
}

// waitUntil polls ref's record until done says so (or, with removed,
// until the record is gone) and returns the exit code. A container
// removed before its stop was seen (--rm) gets its code from its die
// event.
func waitUntil(ctx context.Context, ref string, removed bool, done func(c *container.Container, since time.Time) bool) (int, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return 0, err
	}
	since := time.Now()
	for {
		cur, err := container.ReadRecord(c.ID)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			return dieCode(ctx, c, since), nil
		case err == nil:
			c = cur
			if !removed && done(c, since) {
				return c.State.ExitCode, nil
			}
		}
		// Another error reading the record is read again. Short waits
		// are the common ones (run --rm): look often at first.
		every := 50 * time.Millisecond
		if time.Since(since) < time.Second {
			every = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(every):
		}
	}
}

// dieCode is the exit code in c's last die event since t, else the last
// one its record showed.
func dieCode(ctx context.Context, c *container.Container, t time.Time) int {
	code := c.State.ExitCode
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = events.Read(ctx, events.ReadOptions{Since: t.Add(-time.Second), Match: func(m events.Message) bool {
		return m.Type == events.ContainerEventType && m.Action == "die" && m.Actor.ID == c.ID
	}}, func(m events.Message) error {
		if n, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
			code = n
		}
		return nil
	})
	return code
}

// stopped reports whether a container has stopped for wait: it exited,
// is dead or being removed, or its start failed (created, no supervisor,
// an error and its exit code recorded) or it ran before.
func stopped(c *container.Container) bool {
	switch c.State.Status {
	case container.StatusExited, container.StatusDead, container.StatusRemoving:
		return true
	case container.StatusCreated:
		return c.State.SupervisorPid == 0 && (!c.State.StartedAt.IsZero() || c.State.Error != "")
	}
	return false
}

// Remove deletes a container; a running one only with force (killed
// first). A dead one (supervisor gone) is cleaned up by hand. It returns
// the container removed, or nil when another process (its supervisor,
// for --rm) removed it meanwhile.
func Remove(st *storage.Store, ref string, force, volumes bool) (*container.Container, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	// The networks (as root with published ports, iptables-save and
	// iptables-restore for its rules) are let go beside the rest: they
	// share nothing with the store.
	var aside sync.WaitGroup
	defer aside.Wait()
	leave := func() {
		defer trace.Begin("leave networks")()
		network.DetachAll(c.ID)
	}
	switch c.State.Status {
	case container.StatusRunning, container.StatusRestarting, container.StatusPaused:
		if !force {
			return nil, fmt.Errorf("cannot remove container %s: it is %s: stop it first or use rm -f: %w", c.Name, c.State.Status, errdefs.ErrConflict)
		}
		_, _ = container.Update(c.ID, func(c *container.Container) error {
			c.State.StoppedByUser, c.State.RemovalInProgress = true, true
			return nil
		})
		aside.Go(leave) // while it is killed; again below, for what a restart joined meanwhile
		if c.State.Paused {
			_ = Unpause(c.ID)
		}
		end := trace.Begin("kill it and wait for its supervisor")
		if c.State.Pid > 0 {
			_ = unix.Kill(c.State.Pid, unix.SIGKILL)
		}
		waitSupervisorGone(c, 10*time.Second)
		end()
	case container.StatusDead:
		if !force {
			return nil, fmt.Errorf("cannot remove container %s: it is dead and may still hold processes: use rm -f: %w", c.Name, errdefs.ErrConflict)
		}
	}
	// From here on a kill leaves a container that says it is being removed
	// and that rm -f (or a create of its name) finishes removing.
	if _, err := container.Update(c.ID, func(c *container.Container) error {
		c.State.Status, c.State.Running, c.State.Restarting, c.State.Paused = container.StatusRemoving, false, false, false
		return nil
	}); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, nil // removed meanwhile (--rm)
		}
		return nil, fmt.Errorf("removing container %s: %w", c.Name, err)
	}
	// Whatever is left (a killed supervisor leaves all of it).
	end := trace.Begin("libcontainer: destroy")
	destroyState(c.ID)
	if c.State.Pid > 0 && c.State.Status == container.StatusDead && !startedBeforeBoot(c) && pidAlive(c.State.Pid) {
		_ = unix.Kill(c.State.Pid, unix.SIGKILL)
		waitPidExit(c.State.Pid, 5*time.Second)
	}
	end()
	unmountShm(c.ID) // --ipc shareable
	aside.Go(leave)
	unlock, err := container.Lock(c.ID)
	if err != nil {
		return nil, nil // removed meanwhile (--rm)
	}
	defer unlock()
	raw := st.Raw()
	end = trace.Begin("unmount the root file system")
	_, _ = raw.Unmount(c.ID, true)
	end()
	defer trace.Begin("remove the container")()
	if err := raw.DeleteContainer(c.ID); err != nil && !isUnknownContainer(err) {
		return nil, fmt.Errorf("removing container %s: %w", c.Name, err)
	}
	_ = os.RemoveAll(c.RunDir())
	if err := os.RemoveAll(c.Dir()); err != nil {
		return nil, fmt.Errorf("removing container %s: %w", c.Name, err)
	}
	container.UnlinkName(c.Name, c.ID)
	if volumes {
		removeVolumes(c.HostConfig.AnonymousVolumes)
	}
	return c, nil
}

// pidfdExited waits up to d for the process of pidfd fd to exit.
func pidfdExited(fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := max(int(time.Until(deadline).Milliseconds()), 0)
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// waitSupervisorGone waits up to d for c's supervisor to exit.
func waitSupervisorGone(c *container.Container, d time.Duration) {
	pid := c.State.SupervisorPid
	if pid <= 0 {
		return
	}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		if container.Alive(pid, c.ID) { // the pidfd is the supervisor's, not a reused pid's
			pidfdExited(fd, d)
		}
		return
	}
	deadline := time.Now().Add(d)
	for c.State.SupervisorPid > 0 && container.Alive(c.State.SupervisorPid, c.ID) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// isUnknownContainer reports whether the storage library says a container
// is not there: already gone counts as removed.
func isUnknownContainer(err error) bool {
	return errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrNotAContainer) ||
		err != nil && strings.Contains(err.Error(), "container not known")
}

// Rename gives a container a new name.
func Rename(st *storage.Store, ref, name string) error {
	if err := container.ValidName(name); err != nil {
		return err
	}
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	if c.Name == name {
		return fmt.Errorf("cannot rename %s: the new name is the same as the current one: %w", c.Name, errdefs.ErrConflict)
	}
	if other, err := container.Lookup(name); err == nil && other.ID != c.ID && other.Name == name {
		return fmt.Errorf("cannot rename %s to %s: the name is already in use: %w", c.Name, name, errdefs.ErrConflict)
	}
	if err := st.Raw().SetNames(c.ID, []string{name}); err != nil {
		return fmt.Errorf("renaming %s: %w", c.Name, err)
	}
	if _, err = container.Update(c.ID, func(c *container.Container) error { c.Name = name; return nil }); err != nil {
		return err
	}
	container.UnlinkName(c.Name, c.ID)
	container.LinkName(name, c.ID)
	return network.Rename(c.ID, name)
}

// freezerError explains why pause is impossible rootless on cgroup v1.
func freezerError(c *container.Container, err error) error {
	return fmt.Errorf("cannot pause container %s: the freezer cgroup is not available to a rootless user on this host (cgroup v1 without delegation): %v: %w", c.Name, err, errdefs.ErrUnavailable)
}

// Pause freezes a running container (needs a usable freezer cgroup).
func Pause(ref string) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	if c.State.Paused {
		return fmt.Errorf("container %s is already paused: %w", c.Name, errdefs.ErrConflict)
	}
	if !c.State.Running {
		return fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrConflict)
	}
	if rootlessCgroupV1() {
		return freezerError(c, fmt.Errorf("no cgroup"))
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return err
	}
	if err := lc.Pause(); err != nil {
		return freezerError(c, err)
	}
	_, err = container.Update(c.ID, func(c *container.Container) error {
		c.State.Paused, c.State.Status = true, container.StatusPaused
		return nil
	})
	return err
}

// Unpause thaws a paused container.
func Unpause(ref string) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	if !c.State.Paused {
		return fmt.Errorf("container %s is not paused: %w", c.Name, errdefs.ErrConflict)
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return err
	}
	if err := lc.Resume(); err != nil {
		return err
	}
	_, err = container.Update(c.ID, func(c *container.Container) error {
		c.State.Paused, c.State.Status = false, container.StatusRunning
		return nil
	})
	return err
}

// rootlessCgroupV1 reports whether this is a rootless process on a host
// whose cgroups it cannot write (v1 or hybrid, no delegation).
func rootlessCgroupV1() bool {
	if !paths.Rootless() {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	return true
}

// ContainerPids lists the host pids of the processes in c's pid namespace.
func ContainerPids(c *container.Container) ([]int, error) {
	if !c.State.Running {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrConflict)
	}
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.State.Pid))
	if err != nil {
		return nil, fmt.Errorf("reading the pid namespace of %s: %w", c.Name, err)
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid")); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Connect puts a container on a user-defined network: at once when it is
// running, at its next start otherwise.
func Connect(ref, name string, aliases []string) error {
	return ConnectWith(ref, name, ConnectOptions{Aliases: aliases})
}

// ConnectWith is Connect with network connect's options (see
// runtime/isolation_connect.go).
func ConnectWith(ref, name string, o ConnectOptions) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	// Keep the network from being pruned until the record names it.
	unlockNet, err := network.Lock()
	if err != nil {
		return err
	}
	n, err := network.Lookup(name)
	if err != nil {
		unlockNet()
		return err
	}
	if !c.OwnNetwork() {
		unlockNet()
		return fmt.Errorf("container %s uses --network %s, which cannot join other networks: %w", c.Name, c.HostConfig.NetworkMode, errdefs.ErrConflict)
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; ok {
		unlockNet()
		return fmt.Errorf("container %s is already connected to network %s: %w", c.Name, n.Name, errdefs.ErrConflict)
	}
	links, err := o.check(c, n)
	if err != nil {
		unlockNet()
		return err
	}
	hadOutbound := c.Outbound()
	c, err = container.Update(c.ID, func(c *container.Container) error {
		if c.NetworkSettings.Networks == nil {
			c.NetworkSettings.Networks = map[string]*container.EndpointSettings{}
		}
		c.NetworkSettings.Networks[n.Name] = &container.EndpointSettings{NetworkID: n.ID, Aliases: o.Aliases, Gateway: n.Gateway, Internal: n.Internal, IPAMConfig: o.ipam()}
		c.HostConfig.Isolation.Links = append(c.HostConfig.Isolation.Links, links...)
		return nil
	})
	unlockNet()
	if err != nil {
		return err
	}
	if !c.State.Running {
		return nil
	}
	if _, err := connect(c, n.Name); err != nil {
		_, _ = container.Update(c.ID, func(c *container.Container) error { delete(c.NetworkSettings.Networks, n.Name); return nil })
		return err
	}
	if !hadOutbound && c.Outbound() {
		// The supervisor starts slirp4netns for it; return when it is up,
		// as Docker's connect returns with the route in place.
		network.WaitForLink(c.NetNSPath(), "tap0", 5*time.Second)
	}
	return nil
}

// Disconnect takes a container off a user-defined network.
func Disconnect(ref, name string) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	n, err := network.Lookup(name)
	if err != nil {
		return err
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; !ok {
		return fmt.Errorf("container %s is not connected to network %s: %w", c.Name, n.Name, errdefs.ErrNotFound)
	}
	if c.State.Running {
		if err := network.Detach(n.Name, c.ID); err != nil && !isNotFoundErr(err) {
			return err
		}
	}
	_, err = container.Update(c.ID, func(c *container.Container) error { delete(c.NetworkSettings.Networks, n.Name); return nil })
	return err
}

func isNotFoundErr(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
