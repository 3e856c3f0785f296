package runtime

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/storage"
)

// supervisorArg is the hidden first argument of the supervisor role:
// `skiff __supervise ID [attach]`.
const supervisorArg = "__supervise"

// SupervisorArg is exported for main's dispatch.
const SupervisorArg = supervisorArg

// supervisor holds one container for its whole life.
type supervisor struct {
	st     *storage.Store
	id     string
	c      *Container
	rootfs string
	hub    *attachHub
	log    *jsonLog
	report *os.File
	// consoleSock receives the pty master with -t.
	consoleSock *os.File
}

// Supervise is the supervisor's body. It reports on fd 3, one line:
// "listening" (when waitAttach), then "started PID" or "error CODE MSG".
func Supervise(id string, waitAttach bool) error {
	// Catch (not ignore: ignored signals stay ignored across exec, and a
	// shell in the container could not trap them) what a terminal or a
	// session could send.
	signal.Notify(make(chan os.Signal, 1), unix.SIGHUP, unix.SIGINT, unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU)
	s := &supervisor{id: id, report: os.NewFile(3, "report"), hub: newAttachHub()}
	err := s.setUp(waitAttach)
	if err != nil {
		s.fail(err)
		return err
	}
	code := s.loop()
	s.finish(code)
	return nil
}

func (s *supervisor) say(format string, args ...any) {
	if s.report != nil {
		fmt.Fprintf(s.report, format+"\n", args...)
	}
}

func (s *supervisor) setUp(waitAttach bool) error {
	var err error
	if s.st, err = storage.Open(); err != nil {
		return err
	}
	if s.c, err = readRecord(s.id); err != nil {
		return err
	}
	if err := os.MkdirAll(s.c.runDir(), 0o700); err != nil {
		return err
	}
	_ = os.Remove(s.c.attachSocket())
	l, err := net.Listen("unix", s.c.attachSocket())
	if err != nil {
		return fmt.Errorf("listening for attach: %w", err)
	}
	go s.hub.serve(l)
	if s.log, err = openLog(s.c.LogPath, s.c.HostConfig.LogConfig); err != nil {
		return err
	}
	if s.rootfs, err = s.st.Raw().Mount(s.id, ""); err != nil {
		return fmt.Errorf("mounting the container's root file system: %w", err)
	}
	if waitAttach {
		s.say("listening")
		select {
		case <-s.hub.first:
		case <-time.After(30 * time.Second):
		}
	}
	return nil
}

// fail reports a start error, records it and cleans up.
func (s *supervisor) fail(err error) {
	code := errdefs.ExitCode(err)
	s.say("error %d %s", code, strings.ReplaceAll(err.Error(), "\n", " "))
	if s.c != nil {
		_, _ = Update(s.id, func(c *Container) error {
			c.State.Error = err.Error()
			c.State.ExitCode = code
			c.State.SupervisorPid = 0
			if c.State.Status != StatusCreated {
				c.State.Status = StatusExited
				c.State.Running = false
				c.State.FinishedAt = time.Now().UTC()
			}
			return nil
		})
	}
	s.cleanUp(code)
}

// loop runs the container, again and again as its restart policy asks.
func (s *supervisor) loop() int {
	backoff := 100 * time.Millisecond
	first := true
	for {
		started := time.Now()
		code, err := s.runOnce(first)
		if err != nil {
			if first {
				s.fail(err)
				os.Exit(0)
			}
			code = errdefs.ExitCode(err)
		}
		first = false
		c, rerr := Update(s.id, func(c *Container) error {
			c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
			c.State.ExitCode = code
			c.State.FinishedAt = time.Now().UTC()
			c.State.Status = StatusExited
			if c.State.Health != nil {
				c.State.Health.Status = "unhealthy"
			}
			if err != nil {
				c.State.Error = err.Error()
			}
			if s.shouldRestart(c, code) {
				c.State.Status, c.State.Restarting = StatusRestarting, true
				c.RestartCount++
			}
			return nil
		})
		if rerr != nil || !c.State.Restarting {
			return code // clients hear the exit after the clean-up (--rm)
		}
		s.hub.exit(code) // attached clients end at the first exit, as in Docker
		// Docker's back-off: 100 ms doubling up to a minute, reset after
		// a run of 10 s; a stop during the wait wins.
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		if !s.sleepUnlessStopped(backoff) {
			_, _ = Update(s.id, func(c *Container) error {
				c.State.Status, c.State.Restarting = StatusExited, false
				return nil
			})
			return code
		}
		if backoff < time.Minute {
			backoff *= 2
		}
	}
}

func (s *supervisor) shouldRestart(c *Container, code int) bool {
	p := c.HostConfig.RestartPolicy
	switch p.Name {
	case "always", "unless-stopped":
		return !c.State.StoppedByUser
	case "on-failure":
		return code != 0 && !c.State.StoppedByUser && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

func (s *supervisor) sleepUnlessStopped(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
		if c, err := readRecord(s.id); err != nil || c.State.StoppedByUser {
			return false
		}
	}
	return true
}

// runOnce starts the container, streams its output until it exits and
// returns its exit status.
func (s *supervisor) runOnce(first bool) (int, error) {
	c, err := readRecord(s.id)
	if err != nil {
		return 0, err
	}
	s.c = c
	// The private network's namespace is made first so that slirp4netns
	// comes up while the container is being created.
	var nsPath string
	var slirp *netns.Slirp
	if mode, _ := netns.ParseMode(c.HostConfig.NetworkMode); mode == netns.ModePrivate {
		nsPath = filepath.Join(c.runDir(), "netns")
		if err := netns.NewPinned(nsPath); err != nil {
			return 0, err
		}
		defer netns.RemovePinned(nsPath)
		if slirp, err = netns.StartSlirp(nsPath); err != nil {
			return 0, err
		}
		defer slirp.Stop()
		if len(c.HostConfig.PortBindings) > 0 {
			fw, bound, err := netns.Publish(nsPath, c.HostConfig.PortBindings, isRootlessNow())
			if err != nil {
				return 0, err
			}
			defer fw.Close()
			defer clearPorts(s.id)
			if _, err := Update(s.id, func(c *Container) error { c.NetworkSettings.Ports = bound; return nil }); err != nil {
				return 0, err
			}
		}
	}
	pr, err := prepare(c, s.rootfs, nsPath)
	if err != nil {
		return 0, err
	}
	if old, err := libcontainer.Load(stateRoot(), c.ID); err == nil {
		_ = old.Destroy() // left over from a killed supervisor
	}
	lc, err := libcontainer.Create(stateRoot(), c.ID, pr.config)
	if err != nil {
		return 0, fmt.Errorf("creating container %s: %w", shortID(c.ID), err)
	}
	defer func() { _ = lc.Destroy() }()
	proc := &libcontainer.Process{
		Args: pr.args, Env: pr.env, Cwd: pr.cwd,
		UID: pr.user.UID, GID: pr.user.GID, AdditionalGroups: pr.user.Groups,
		Init: true,
	}
	outs, closeChild, err := s.wireStdio(proc, c)
	if err != nil {
		return 0, err
	}
	if err := lc.Start(proc); err != nil {
		closeChild()
		return 0, startError(pr.args[0], err)
	}
	closeChild()
	var copiers sync.WaitGroup
	if c.Config.Tty {
		master, err := s.receivePty(proc)
		if err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return 0, err
		}
		defer master.Close()
		outs = []streamOut{{r: master, t: frameStdout, stream: "stdout"}}
	}
	if slirp != nil {
		if err := slirp.Wait(); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return 0, err
		}
	}
	for _, o := range outs {
		copiers.Add(1)
		go func(o streamOut) {
			defer copiers.Done()
			sp := &lineSplitter{stream: o.stream, log: s.log}
			_, _ = io.Copy(io.MultiWriter(sp, hubWriter{s.hub, o.t}), o.r)
			sp.flush()
		}(o)
	}
	if err := lc.Exec(); err != nil {
		_ = proc.Signal(unix.SIGKILL)
		_, _ = proc.Wait()
		return 0, startError(pr.args[0], err)
	}
	pid, _ := proc.Pid()
	now := time.Now().UTC()
	if _, err := Update(s.id, func(c *Container) error {
		c.State = State{
			Status: StatusRunning, Running: true, Pid: pid, StartedAt: now,
			SupervisorPid: os.Getpid(), StoppedByUser: false,
		}
		if c.Config.Healthcheck != nil {
			c.State.Health = &HealthState{Status: "starting", Log: []HealthLog{}}
		}
		return nil
	}); err != nil {
		_ = proc.Signal(unix.SIGKILL)
	}
	if first {
		s.say("started %d", pid)
	}
	// What starting took (libcontainer, the store) is not needed to wait.
	debug.FreeOSMemory()
	stopHealth := s.startHealth(c, lc, pr)
	code := waitStatus(proc)
	stopHealth()
	done := make(chan struct{})
	go func() { copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // a leaked descriptor holds a pipe open
	}
	return code, nil
}

type streamOut struct {
	r      io.Reader
	t      byte
	stream string
}

// wireStdio gives the process pipes (or a console socket with -t) and
// returns the supervisor's ends.
func (s *supervisor) wireStdio(proc *libcontainer.Process, c *Container) ([]streamOut, func(), error) {
	var child []*os.File
	closeChild := func() {
		for _, f := range child {
			f.Close()
		}
	}
	if c.Config.Tty {
		parent, ch, err := utils.NewSockPair("console")
		if err != nil {
			return nil, nil, err
		}
		proc.ConsoleSocket = ch
		proc.ConsoleWidth, proc.ConsoleHeight = 80, 24
		if w, h := s.hub.lastSize(); w > 0 && h > 0 {
			proc.ConsoleWidth, proc.ConsoleHeight = w, h
		}
		s.consoleSock = parent
		child = append(child, ch)
		return nil, closeChild, nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	proc.Stdout, proc.Stderr = outW, errW
	child = append(child, outW, errW)
	if c.Config.OpenStdin {
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		proc.Stdin = inR
		child = append(child, inR)
		s.hub.setStdin(inW)
	}
	return []streamOut{{outR, frameStdout, "stdout"}, {errR, frameStderr, "stderr"}}, closeChild, nil
}

// receivePty takes the pty master from the container's init and wires
// it to attach (input, resize).
func (s *supervisor) receivePty(proc *libcontainer.Process) (*os.File, error) {
	defer s.consoleSock.Close()
	f, err := utils.RecvFile(s.consoleSock)
	if err != nil {
		return nil, fmt.Errorf("receiving the container's pty: %w", err)
	}
	cons, err := console.ConsoleFromFile(f)
	if err != nil {
		return nil, err
	}
	_ = console.ClearONLCR(cons.Fd())
	s.hub.setStdin(nopCloser{f})
	s.hub.setResize(func(w, h uint16) { _ = cons.Resize(console.WinSize{Width: w, Height: h}) })
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// finish records the end, removes what --rm asks for and releases the
// attached clients.
func (s *supervisor) finish(code int) {
	_, _ = Update(s.id, func(c *Container) error {
		c.State.SupervisorPid = 0
		return nil
	})
	s.cleanUp(code)
}

func (s *supervisor) cleanUp(code int) {
	if s.log != nil {
		s.log.close()
	}
	if s.st != nil {
		_, _ = s.st.Raw().Unmount(s.id, true)
		if s.c != nil && s.c.HostConfig.AutoRemove {
			_ = s.st.Raw().DeleteContainer(s.id)
			_ = os.RemoveAll(filepath.Join(ContainersDir(), s.id))
		}
		s.st.Close()
	}
	s.hub.exit(code)
	if s.c != nil {
		_ = os.RemoveAll(s.c.runDir())
	}
}

func waitStatus(p *libcontainer.Process) int {
	ps, err := p.Wait()
	if ps == nil {
		if err != nil {
			return 255
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return ps.ExitCode()
}

// clearPorts forgets the published ports of a stopped container.
func clearPorts(id string) {
	_, _ = Update(id, func(c *Container) error { c.NetworkSettings.Ports = nil; return nil })
}
