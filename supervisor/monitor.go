package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
)

// EnvSkiff names the skiff binary the supervisor runs for the clean-up:
// `skiff __cleanup ID`.
const EnvSkiff = "_SKIFF_BINARY"

// EnvStarter names skiff-start, the small binary the supervisor runs to
// start the container and probe its health: `skiff-start __start ID`,
// `skiff-start __health ID` (runtime/skiff-start).
const EnvStarter = "_SKIFF_START_BINARY"

// EnvNotifySocket passes systemd's notify socket (NOTIFY_SOCKET of the
// command that started the container) to `skiff-start __start` through the
// supervisor, for a container whose --sdnotify is container: the socket
// is bind-mounted into it. The supervisor itself never gets
// NOTIFY_SOCKET.
const EnvNotifySocket = "_SKIFF_NOTIFY_SOCKET"

// EnvTermSize passes the attached terminal's size (WxH) to `skiff-start __start`.
const EnvTermSize = "_SKIFF_TERM_SIZE"

// monitor holds one container for its whole life.
type monitor struct {
	id      string
	skiff   string
	starter string
	c       *container.Container
	hub     *attachHub
	log     *jsonLog
	report  *os.File // to the CLI that started us, until "started"

	diag *diag // supervisor.log in the container's directory

	mu         sync.Mutex
	managed    map[int]bool // children reaped by their own Wait
	cleaned    bool         // the last run's clean-up is done
	removing   bool         // rm -f removes the container: no clean-up here
	pidCleared bool         // the exit's record already says no supervisor
	ran        bool         // the last run started the container
}

// Main is the supervisor binary's body: skiff-supervisor __supervise ID
// [attach]. It reports on fd 3, one line at a time: "listening" (with
// attach), then "started PID" or "error CODE MSG".
func Main(args []string) int {
	lean() // supervisor/lean.go
	if len(args) == 2 && args[1] == DrainArg {
		return drain()
	}
	if len(args) < 3 || args[1] != container.SupervisorArg {
		fmt.Fprintln(os.Stderr, "skiff-supervisor is started by skiff run and skiff start; it is not a command")
		return 2
	}
	// Catch, not ignore: ignored signals would stay ignored in the
	// container's processes.
	signal.Notify(make(chan os.Signal, 1), unix.SIGHUP, unix.SIGINT, unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU, unix.SIGTERM)
	// Orphans of the container (and the container itself, once the skiff
	// process that started it exits) become our children.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	m := &monitor{id: args[2], skiff: os.Getenv(EnvSkiff), starter: os.Getenv(EnvStarter), report: os.NewFile(3, "report"), hub: newAttachHub(), managed: map[int]bool{}}
	m.diag = openDiag(m.id)
	m.diag.printf("supervising container %s", m.id)
	events.Logf = m.diag.printf
	if m.skiff == "" || m.starter == "" {
		m.fail(fmt.Errorf("the supervisor needs %s and %s", EnvSkiff, EnvStarter))
		return 1
	}
	if err := m.setUp(len(args) > 3 && args[3] == "attach"); err != nil {
		m.fail(err)
		return 1
	}
	go m.reapOrphans()
	code := m.loop()
	m.diag.printf("container exited with status %d; finishing", code)
	m.finish(code)
	return 0
}

func (m *monitor) say(format string, a ...any) {
	if m.report != nil {
		fmt.Fprintf(m.report, format+"\n", a...)
	}
}

func (m *monitor) setUp(waitAttach bool) error {
	var err error
	if m.c, err = container.ReadLight(m.id); err != nil {
		return err
	}
	if err := os.MkdirAll(m.c.RunDir(), 0o700); err != nil {
		return err
	}
	_ = os.Remove(m.c.AttachSocket())
	l, err := net.Listen("unix", m.c.AttachSocket())
	if err != nil {
		return fmt.Errorf("listening for attach: %w", err)
	}
	go m.hub.serve(l)
	if m.log, err = openLog(m.c.LogPath, m.c.HostConfig.LogConfig); err != nil {
		return err
	}
	if waitAttach {
		m.say("listening")
		select {
		case <-m.hub.first:
		case <-time.After(30 * time.Second):
		}
	}
	return nil
}

// fail reports a start error to the CLI, records it and cleans up.
func (m *monitor) fail(err error) {
	code := errdefs.ExitCode(err)
	m.diag.printf("start failed (status %d): %v", code, err)
	m.dropRunDir()
	m.say("error %d %s", code, strings.ReplaceAll(err.Error(), "\n", " "))
	if m.c != nil {
		_, _ = container.UpdateLight(m.id, func(c *container.Container) error {
			c.State.Error = err.Error()
			c.State.ExitCode = code
			c.State.SupervisorPid = 0
			if c.State.Status != container.StatusCreated {
				c.State.Status = container.StatusExited
				c.State.Running = false
				c.State.FinishedAt = time.Now().UTC()
			}
			return nil
		})
	}
	m.cleanUp(code, false)
}

// loop runs the container, again and again as its restart policy asks.
func (m *monitor) loop() int {
	backoff := 100 * time.Millisecond
	first := true
	for {
		started := time.Now()
		code, err := m.runOnce(first)
		if err != nil {
			if first {
				m.fail(err)
				os.Exit(0)
			}
			code = errdefs.ExitCode(err)
		}
		first = false
		end := trace.Begin("the OOM check and the die event")
		cur, cerr := container.ReadLight(m.id)
		oom := m.ran && oomKilled(m.id) // supervisor/oom.go
		if cerr == nil && oom {
			m.event(cur, "oom", nil)
		}
		if cerr == nil && m.ran {
			// Recorded before the record says it stopped, so that what a
			// command does on seeing it stopped comes after the die.
			m.event(cur, "die", map[string]string{"exitCode": strconv.Itoa(code), "execDuration": strconv.Itoa(int(time.Since(started).Seconds()))})
		}
		end()
		// Clean up before the record says the container stopped: a start
		// that follows a stop must not find this run's mount going away.
		// With --rm, finish removes everything in one go instead.
		restart := cerr == nil && shouldRestart(cur, code)
		switch {
		case cerr == nil && cur.State.RemovalInProgress:
			m.cleaned, m.removing = true, true // rm -f cleans up and removes
		case restart || cerr == nil && !cur.HostConfig.AutoRemove:
			m.cleanStep()
		}
		if cerr == nil && !restart {
			m.dropRunDir()
		}
		end = trace.Begin("record the exit")
		c, rerr := container.UpdateLight(m.id, func(c *container.Container) error {
			c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
			c.State.ExitCode, c.State.OOMKilled = code, oom
			c.State.FinishedAt = time.Now().UTC()
			c.State.Status = container.StatusExited
			c.NetworkSettings.Ports = nil
			if c.State.Health != nil {
				c.State.Health.Status = "unhealthy"
			}
			if err != nil {
				c.State.Error = err.Error()
			}
			if shouldRestart(c, code) {
				c.State.Status, c.State.Restarting = container.StatusRestarting, true
				c.RestartCount++
			} else {
				c.State.SupervisorPid = 0 // this supervisor is done with it
			}
			return nil
		})
		end()
		m.pidCleared = rerr == nil && !c.State.Restarting
		if err != nil {
			m.diag.printf("run failed (status %d): %v", code, err)
		}
		if rerr != nil || !c.State.Restarting {
			return code // clients hear the exit after the clean-up (--rm)
		}
		m.diag.printf("exited with status %d; restart %d by policy %s in %s", code, c.RestartCount, c.HostConfig.RestartPolicy.Name, backoff)
		m.hub.exit(code) // attached clients end at the first exit, as in Docker
		// Docker's back-off: 100 ms doubling up to a minute, reset after
		// a run of 10 s; a stop during the wait wins.
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		if !m.sleepUnlessStopped(backoff) {
			_, _ = container.UpdateLight(m.id, func(c *container.Container) error {
				c.State.Status, c.State.Restarting = container.StatusExited, false
				return nil
			})
			return code
		}
		if backoff < time.Minute {
			backoff *= 2
		}
	}
}

func shouldRestart(c *container.Container, code int) bool {
	p := c.HostConfig.RestartPolicy
	switch p.Name {
	case "always", "unless-stopped":
		return !c.State.StoppedByUser
	case "on-failure":
		return code != 0 && !c.State.StoppedByUser && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

func (m *monitor) sleepUnlessStopped(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
		if c, err := container.ReadLight(m.id); err != nil || c.State.StoppedByUser {
			return false
		}
	}
	return true
}

// Descriptors the starter (`skiff-start __start ID`) finds open.
const (
	StartFdReport  = 3 // starter → supervisor: "created PID", "started PID", "error CODE MSG"
	StartFdGo      = 4 // supervisor → starter: one byte when the network namespace is there, one when the network is up
	StartFdStdin   = 5
	StartFdStdout  = 6
	StartFdStderr  = 7
	StartFdConsole = 8 // with a tty: the console socket for the pty master
)

// runOnce starts the container through `skiff-start __start`, streams its output
// until it exits and returns its exit status.
func (m *monitor) runOnce(first bool) (int, error) {
	c, err := container.ReadLight(m.id)
	if err != nil {
		return 0, err
	}
	m.c = c
	m.cleaned, m.ran = false, false
	// skiff-start first: it loads and opens the store while the network
	// namespace is made and slirp4netns comes up; it waits for the first
	// go before it configures the container in that namespace.
	st, err := m.spawnStarter(c)
	if err != nil {
		return 0, err
	}
	defer st.close()
	slirp, cleanup, err := m.setUpNetwork(c)
	defer cleanup()
	if err != nil {
		_ = st.cmd.Process.Kill()
		_ = m.wait(st.cmd)
		return 0, err
	}
	st.goAhead() // the namespace is there
	var outs []streamOut
	if !c.Config.Tty {
		outs = []streamOut{{st.stdout, frameStdout, "stdout"}, {st.stderr, frameStderr, "stderr"}}
	}
	end := trace.Begin("wait for skiff-start to create it")
	created, err := st.expect("created")
	end()
	if err != nil {
		return 0, err
	}
	// Marked before the go: the container cannot exit before it, and it
	// may be our zombie child the moment __start exits after "started" —
	// waitPid below reaps it, not the orphan reaper (woken by SIGCHLD).
	if pid, err := strconv.Atoi(created); err == nil {
		m.mu.Lock()
		m.managed[pid] = true
		m.mu.Unlock()
	}
	if slirp != nil {
		end := trace.Begin("wait for slirp4netns")
		err := slirp.Wait()
		end()
		if err != nil {
			_ = st.cmd.Process.Kill()
			return 0, err
		}
	}
	st.goAhead()
	end = trace.Begin("wait for skiff-start to start it")
	pidStr, err := st.expect("started")
	end()
	if err != nil {
		return 0, err
	}
	pid, _ := strconv.Atoi(pidStr)
	m.mu.Lock() // the same pid as "created" says
	m.managed[pid] = true
	m.mu.Unlock()
	end = trace.Begin("wait for skiff-start to exit")
	m.wait(st.cmd) // the starter exits; the container is now our child
	end()
	if c.Config.Tty {
		master, err := m.receivePty(st.console)
		if err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			return 0, err
		}
		defer master.Close()
		outs = []streamOut{{master, frameStdout, "stdout"}}
	}
	var copiers sync.WaitGroup
	for _, o := range outs {
		copiers.Add(1)
		go func(o streamOut) {
			defer copiers.Done()
			sp := &lineSplitter{stream: o.stream, log: m.log}
			_, _ = io.CopyBuffer(io.MultiWriter(sp, hubWriter{m.hub, o.t}), onlyReader{o.r}, make([]byte, copyBufSize))
			sp.flush()
		}(o)
	}
	// Recorded before the record says it runs, so that what a command
	// does on seeing it run comes after the start.
	m.ran = true
	end = trace.Begin("the start event and the record")
	waitExec(pid)
	m.event(c, "start", nil)
	now := time.Now().UTC()
	if _, err := container.UpdateLight(m.id, func(c *container.Container) error {
		ports := c.NetworkSettings.Ports
		c.State = container.State{
			Status: container.StatusRunning, Running: true, Pid: pid, StartedAt: now,
			SupervisorPid: os.Getpid(),
		}
		c.NetworkSettings.Ports = ports
		if h := c.Config.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
			c.State.Health = &container.HealthState{Status: "starting", Log: []container.HealthLog{}}
		}
		return nil
	}); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	end()
	m.diag.printf("started: pid %d", pid)
	if first {
		m.say("started %d", pid)
		m.report.Close()
		m.report = nil
	} else {
		rest() // supervisor/lean.go
	}
	stopHealth := m.startHealth(c)
	var stopLate func()
	if slirp == nil {
		stopLate = m.watchOutbound(c)
	}
	end = trace.Begin("the container runs")
	code := waitPid(pid)
	end()
	stopHealth()
	if stopLate != nil {
		stopLate()
	}
	end = trace.Begin("drain its output")
	defer end()
	done := make(chan struct{})
	go func() { copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // a leaked descriptor holds a pipe open
	}
	return code, nil
}

// waitExec waits (at most a second) until the container's init has
// executed the command. skiff-start says "started" once libcontainer let
// init go, a moment before its execve: a signal in that moment (a stop
// right after run -d) would meet the Go runtime of init, which exits 2 on
// SIGTERM, instead of the command, which as pid 1 ignores it. The wait
// mostly overlaps skiff-start's exit.
func waitExec(pid int) {
	comm := "/proc/" + strconv.Itoa(pid) + "/comm"
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Microsecond) {
		b, err := os.ReadFile(comm)
		if err != nil || strings.TrimSpace(string(b)) != "runc:[2:INIT]" {
			return
		}
	}
}

// setUpNetwork makes the container's own network namespace, starts
// slirp4netns for its outbound traffic and publishes its ports; cleanup
// undoes what was done (also after an error).
func (m *monitor) setUpNetwork(c *container.Container) (slirp *netns.Slirp, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if !c.OwnNetwork() {
		return nil, cleanup, nil
	}
	end := trace.Begin("network namespace")
	if err = os.MkdirAll(c.RunDir(), 0o700); err == nil {
		err = netns.NewPinned(c.NetNSPath())
	}
	end()
	if err != nil {
		return nil, cleanup, err
	}
	undo = append(undo, func() { netns.RemovePinned(c.NetNSPath()) })
	if c.Outbound() {
		m.mu.Lock() // slirp4netns's Stop waits for it itself
		end := trace.Begin("start slirp4netns")
		slirp, err = netns.StartSlirp(c.NetNSPath(), c.Config.MacAddress)
		end()
		if err == nil {
			m.managed[slirp.Pid()] = true
		}
		m.mu.Unlock()
		if err != nil {
			return nil, cleanup, err
		}
		undo = append(undo, slirp.Stop)
	}
	if pm := c.PublishedPorts(); len(pm) > 0 {
		end := trace.Begin("publish ports")
		fw, bound, err := netns.Publish(c.NetNSPath(), c.PublishTarget(), pm, paths.Rootless())
		end()
		if err != nil {
			return nil, cleanup, err
		}
		undo = append(undo, fw.Close)
		fw.OnFirstClient(forwarding) // supervisor/lean.go
		if _, err := container.UpdateLight(m.id, func(c *container.Container) error { c.NetworkSettings.Ports = bound; return nil }); err != nil {
			return nil, cleanup, err
		}
	}
	return slirp, cleanup, nil
}

type streamOut struct {
	r      io.Reader
	t      byte
	stream string
}

// starter is one `skiff-start __start ID` child and the descriptors shared with it.
type starter struct {
	cmd            *exec.Cmd
	report         *bufio.Reader
	reportR, goW   *os.File
	stdout, stderr *os.File
	console        *os.File
	child          []*os.File
}

func (m *monitor) spawnStarter(c *container.Container) (*starter, error) {
	st := &starter{}
	var err error
	pipe := func() (*os.File, *os.File) {
		if err != nil {
			return nil, nil
		}
		var r, w *os.File
		r, w, err = os.Pipe()
		return r, w
	}
	reportR, reportW := pipe()
	goR, goW := pipe()
	var inR, outW, errW, consoleChild *os.File
	if c.Config.Tty {
		var fds [2]int
		if fds, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
			st.console = os.NewFile(uintptr(fds[0]), "console")
			consoleChild = os.NewFile(uintptr(fds[1]), "console-child")
		}
	} else {
		st.stdout, outW = pipe()
		st.stderr, errW = pipe()
		if c.Config.OpenStdin {
			var inW *os.File
			inR, inW = pipe()
			if inW != nil {
				m.hub.setStdin(inW)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	null, _ := os.Open(os.DevNull)
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return null
		}
		return f
	}
	st.reportR, st.goW = reportR, goW
	st.child = []*os.File{reportW, goR, orNull(inR), orNull(outW), orNull(errW), orNull(consoleChild), null}
	st.cmd = exec.Command(m.starter, "__start", c.ID)
	st.cmd.ExtraFiles = st.child[:6]
	st.cmd.Env = os.Environ()
	if w, h := m.hub.lastSize(); w > 0 && h > 0 {
		st.cmd.Env = append(st.cmd.Env, fmt.Sprintf("%s=%dx%d", EnvTermSize, w, h))
	}
	st.cmd.Dir = "/"
	st.cmd.Stderr = os.Stderr
	if err := m.start(st.cmd); err != nil {
		st.close()
		return nil, fmt.Errorf("starting the container: %w", err)
	}
	for _, f := range st.child {
		f.Close()
	}
	st.child = nil
	st.report = bufio.NewReader(reportR)
	return st, nil
}

// expect reads the starter's next line; an error line becomes the error.
func (st *starter) expect(word string) (string, error) {
	line, err := st.report.ReadString('\n')
	if err != nil {
		_ = st.cmd.Wait()
		return "", fmt.Errorf("starting the container: skiff-start ended without a word: %w", errdefs.ErrUnavailable)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		_ = st.cmd.Wait()
		codeStr, msg, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeStr)
		return "", ReportError(code, msg)
	}
	rest, ok := strings.CutPrefix(line, word+" ")
	if !ok {
		return "", fmt.Errorf("starting the container: unexpected %q", line)
	}
	return rest, nil
}

// goAhead writes one byte to the starter: the first says the network
// namespace is there, the second that the network is up.
func (st *starter) goAhead() { _, _ = st.goW.Write([]byte{1}) }

// abort kills the starter and reaps it.
func (st *starter) close() {
	for _, f := range append(st.child, st.reportR, st.goW, st.stdout, st.stderr, st.console) {
		if f != nil {
			f.Close()
		}
	}
}

// ReportError rebuilds an error with its class from a report line.
func ReportError(code int, msg string) error {
	switch code {
	case errdefs.ExitNotFound:
		return fmt.Errorf("%s: %w", strings.TrimSuffix(msg, ": "+errdefs.ErrCommandNotFound.Error()), errdefs.ErrCommandNotFound)
	case errdefs.ExitCannotInvoke:
		return fmt.Errorf("%s: %w", strings.TrimSuffix(msg, ": "+errdefs.ErrCannotInvoke.Error()), errdefs.ErrCannotInvoke)
	}
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrUnavailable, errdefs.ErrNotImplemented} {
		if trimmed, ok := strings.CutSuffix(msg, ": "+class.Error()); ok {
			return fmt.Errorf("%s: %w", trimmed, class)
		}
	}
	return fmt.Errorf("%s", msg)
}

// receivePty takes the pty master that the container's init sends over
// the console socket, and wires it to attach (input, resize).
func (m *monitor) receivePty(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receiving the container's pty: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("receiving the container's pty: no descriptor")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("receiving the container's pty: no descriptor")
	}
	// The terminal keeps its ONLCR: lines end in \r\n, as a terminal (and
	// Docker's -t) gives them.
	master := os.NewFile(uintptr(fds[0]), "pty")
	m.hub.setStdin(nopCloser{master})
	m.hub.setResize(func(w, h uint16) {
		_ = unix.IoctlSetWinsize(fds[0], unix.TIOCSWINSZ, &unix.Winsize{Col: w, Row: h})
	})
	return master, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// waitPid waits for the container's process and returns Docker's status.
func waitPid(pid int) int {
	awaitExit(pid) // supervisor/lean.go
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// reapOrphans collects processes that ended up our children (orphans of
// the container) but are not waited for by anybody else. It looks when a
// child ends (SIGCHLD, sent for an orphan that is a zombie already when
// it comes to us too), so that an idle supervisor does nothing at all.
func (m *monitor) reapOrphans() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	m.reapOnce()
	for range ch {
		m.reapOnce()
	}
}

func (m *monitor) reapOnce() {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			m.mu.Lock()
			managed := m.managed[pid]
			m.mu.Unlock()
			if managed || !zombie(pid) {
				continue
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// run runs a step to completion with bin (m.skiff: cleanup; m.starter:
// health) and returns its output.
func (m *monitor) run(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Stderr = os.Stderr
	// Its output is read here from a pipe given as an *os.File: any other
	// writer has exec copy it on a goroutine of its own with a 32 KiB
	// buffer, garbage at every health check.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd.Stdout = w
	err = m.start(cmd)
	w.Close()
	if err != nil {
		return nil, err
	}
	out, _ := io.ReadAll(r)
	return out, m.wait(cmd)
}

// start and wait run a child that its own Wait reaps, keeping the orphan
// reaper's hands off it.
func (m *monitor) start(cmd *exec.Cmd) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	m.managed[cmd.Process.Pid] = true
	return nil
}

func (m *monitor) wait(cmd *exec.Cmd) error {
	awaitExit(cmd.Process.Pid) // supervisor/lean.go
	err := cmd.Wait()
	m.mu.Lock()
	delete(m.managed, cmd.Process.Pid)
	m.mu.Unlock()
	return err
}

// cleanStep undoes what a start did once the container has exited:
// unmount, libcontainer's state, the cgroup (skiff __cleanup).
func (m *monitor) cleanStep() {
	end := trace.Begin("run skiff __cleanup")
	_, _ = m.run(m.skiff, "__cleanup", m.id)
	end()
	m.cleaned = true
}

// finish records the end, removes what --rm asks for and releases the
// attached clients.
func (m *monitor) finish(code int) {
	if !m.pidCleared { // a stop during the restart back-off
		_, _ = container.UpdateLight(m.id, func(c *container.Container) error {
			c.State.SupervisorPid = 0
			return nil
		})
	}
	m.cleanUp(code, true)
}

// cleanUp ends the supervision; handOver lets an attached `run --rm`
// remove the container it ran (after a failed start the supervisor does).
func (m *monitor) cleanUp(code int, handOver bool) {
	if m.log != nil {
		m.log.close()
	}
	if m.c != nil && m.c.HostConfig.AutoRemove && !m.removing {
		if !handOver || !m.removedByClient(code) {
			end := trace.Begin("run skiff __cleanup remove")
			_, _ = m.run(m.skiff, "__cleanup", m.id, "remove")
			end()
		}
	} else if m.c != nil && !m.cleaned {
		m.cleanStep()
	}
	m.hub.exit(code)
}

// dropRunDir removes the container's runtime directory (the attach
// socket's name; connected clients stay) before the record says the
// container stopped: a start that follows at once makes its own, which
// this supervisor must not remove.
func (m *monitor) dropRunDir() {
	if m.c != nil {
		_ = os.RemoveAll(m.c.RunDir())
	}
}

// removedByClient hands the exited container to the attached client that
// asked to remove it (run --rm: it has the store open, so this saves an
// exec of skiff) and waits until it is done. False when no client asked,
// or the client went away leaving the container: the caller removes it.
func (m *monitor) removedByClient(code int) bool {
	c := m.hub.handOver(code)
	if c == nil {
		return false
	}
	defer trace.Begin("the attached client removes it")()
	select {
	case <-c.gone:
	case <-time.After(time.Minute):
		m.diag.printf("the client that asked to remove the container did not finish in a minute")
	}
	_, err := container.ReadLight(m.id)
	return errors.Is(err, errdefs.ErrNotFound)
}

// startHealth runs `skiff-start __health ID` every interval and records the
// results; the returned func stops it.
func (m *monitor) startHealth(c *container.Container) func() {
	h := c.Config.Healthcheck
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return func() {}
	}
	interval, retries := h.Interval, h.Retries
	if interval == 0 {
		interval = 30 * time.Second
	}
	if retries == 0 {
		retries = 3
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	started := time.Now()
	go func() {
		defer close(done)
		t := time.NewTimer(nextCheck(h, interval, started, true))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			var res container.HealthLog
			out, err := m.run(m.starter, "__health", m.id)
			if err != nil || json.Unmarshal(out, &res) != nil {
				res = container.HealthLog{Start: time.Now().UTC(), End: time.Now().UTC(), ExitCode: -1, Output: fmt.Sprintf("running the health check: %v", err)}
			}
			inStart := time.Since(started) < h.StartPeriod
			changed := ""
			cur, err := container.UpdateLight(m.id, func(c *container.Container) error {
				changed = ""
				if !c.State.Running || c.State.Health == nil {
					return nil
				}
				hs := c.State.Health
				was := hs.Status
				defer func() {
					if hs.Status != was {
						changed = hs.Status
					}
				}()
				hs.Log = append(hs.Log, res)
				if len(hs.Log) > 5 {
					hs.Log = hs.Log[len(hs.Log)-5:]
				}
				if res.ExitCode == 0 {
					hs.Status, hs.FailingStreak = "healthy", 0
				} else if !inStart {
					hs.FailingStreak++
					if hs.FailingStreak >= retries {
						hs.Status = "unhealthy"
					}
				}
				return nil
			})
			if err == nil && changed != "" {
				m.diag.printf("health: %s (check exited %d)", changed, res.ExitCode)
				m.event(cur, events.Action("health_status: "+changed), nil)
			}
			rest() // supervisor/lean.go
			t.Reset(nextCheck(h, interval, started, err == nil && cur != nil && cur.State.Health != nil && cur.State.Health.Status == "starting"))
		}
	}()
	return func() { close(stop); <-done }
}

// event records one of the container's events, named and labelled as
// its record c says (see package events).
func (m *monitor) event(c *container.Container, action events.Action, extra map[string]string) {
	events.Record(events.Message{Type: events.ContainerEventType, Action: action,
		Actor: events.ContainerActor(c.ID, c.Name, c.Image, c.Config.Labels, extra)})
}

// watchOutbound starts slirp4netns once a running container without
// outbound access is connected to a network that has it (network
// connect); the returned func stops the watch and that slirp4netns.
func (m *monitor) watchOutbound(c *container.Container) func() {
	if !c.OwnNetwork() || !paths.Rootless() {
		return nil
	}
	var mu sync.Mutex
	var late *netns.Slirp
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			cur, err := container.ReadLight(m.id)
			if err != nil || !cur.Outbound() {
				continue
			}
			m.mu.Lock()
			s, err := netns.StartSlirp(cur.NetNSPath(), cur.Config.MacAddress)
			if err == nil {
				m.managed[s.Pid()] = true
			}
			m.mu.Unlock()
			if err == nil {
				_ = s.Wait()
				mu.Lock()
				late = s
				mu.Unlock()
			}
			return
		}
	}()
	return func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if late != nil {
			late.Stop()
		}
	}
}
