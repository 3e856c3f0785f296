package e2e

// systemd's sd_notify and the restart after a reboot, without systemd:
// the test plays systemd's part with a real datagram socket named in
// NOTIFY_SOCKET (as a Type=notify unit's ExecStart sees it), and plays
// the reboot by killing a container's supervisor and processes with
// SIGKILL, then runs what skiff-restart.service runs.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// notifyMsg is one datagram the socket received, with its sender.
type notifyMsg struct {
	text     string
	pid, uid int
}

// notifySocket is systemd's end of sd_notify: a unixgram socket in a
// directory u can reach, owned by u, whose datagrams arrive on msgs.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan notifyMsg
}

func newNotifySocket(t *testing.T, u *harness.User) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-notify-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	must(t, os.Chown(path, u.UID, u.GID))
	must(t, os.Chmod(path, 0o600))
	// The sender's credentials, as systemd sees them (SO_PASSCRED).
	raw, err := conn.SyscallConn()
	must(t, err)
	_ = raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1) })
	ns := &notifySocket{path: path, conn: conn, msgs: make(chan notifyMsg, 16)}
	go func() {
		buf := make([]byte, 4096)
		oob := make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				close(ns.msgs)
				return
			}
			m := notifyMsg{text: string(buf[:n]), pid: -1, uid: -1}
			if cmsgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, c := range cmsgs {
					if cred, err := syscall.ParseUnixCredentials(&c); err == nil {
						m.pid, m.uid = int(cred.Pid), int(cred.Uid)
					}
				}
			}
			ns.msgs <- m
		}
	}()
	return ns
}

// env is the NOTIFY_SOCKET a unit's ExecStart gets.
func (ns *notifySocket) env() harness.RunOptions {
	return harness.RunOptions{Env: []string{"NOTIFY_SOCKET=" + ns.path}}
}

// next waits up to d for the next datagram.
func (ns *notifySocket) next(d time.Duration) (notifyMsg, bool) {
	select {
	case m, ok := <-ns.msgs:
		return m, ok
	case <-time.After(d):
		return notifyMsg{}, false
	}
}

// fields splits a datagram into its KEY=VALUE lines.
func (m notifyMsg) fields() map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(m.text), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// checkMainPID checks that MAINPID names the supervisor of container id
// and that it is alive (skiff has exited by now).
func checkMainPID(t *testing.T, f map[string]string, id string) int {
	t.Helper()
	pid, err := strconv.Atoi(f["MAINPID"])
	if err != nil || pid <= 0 {
		t.Fatalf("MAINPID %q is not a pid", f["MAINPID"])
	}
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("MAINPID %d: no such process once skiff exited (%v): the unit's main process must outlive skiff", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	if !slices.Contains(args, supervisorArg) || !slices.Contains(args, id) {
		t.Errorf("MAINPID %d is %q, want the supervisor of %s (%s … %s)", pid, args, id[:12], supervisorArg, id)
	}
	if !harness.ProcessAlive(pid) {
		t.Errorf("MAINPID %d (the supervisor) is not alive after skiff exited", pid)
	}
	return pid
}

// containerEnv is the environment of the container's first process.
func containerEnv(t *testing.T, name string) []string {
	t.Helper()
	pid := inspectC(t, name).State.Pid
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	must(t, err)
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// TestSdNotifySupervisor: run -d under NOTIFY_SOCKET sends MAINPID=<the
// supervisor> and READY=1 from skiff itself (the user's uid), once; the
// supervisor outlives skiff; the container does not see NOTIFY_SOCKET.
func TestSdNotifySupervisor(t *testing.T) {
	parallel(t)
	u := harness.E2E
	ns := newNotifySocket(t, u)
	name := lcName("sdn-sup")
	rmOnCleanup(t, u, name)
	r := skiffWith(t, ns.env(), "run", "-d", "--name", name, busybox(t), "sh", "-c", idleScript).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !containerIDRe.MatchString(id) {
		t.Fatalf("run -d printed %q, want the ID", r.Stdout)
	}
	m, ok := ns.next(5 * time.Second)
	if !ok {
		t.Fatalf("no datagram on NOTIFY_SOCKET after run -d")
	}
	f := m.fields()
	if f["READY"] != "1" {
		t.Errorf("datagram %q: want READY=1", m.text)
	}
	if m.uid != u.UID {
		t.Errorf("datagram sent by uid %d, want the user's %d (skiff itself)", m.uid, u.UID)
	}
	checkMainPID(t, f, id)
	if inspectC(t, name).State.Status != "running" {
		t.Errorf("READY=1 sent, but the container is %s", inspectC(t, name).State.Status)
	}
	if extra, ok := ns.next(time.Second); ok {
		t.Errorf("a second datagram %q: want one", extra.text)
	}
	for _, kv := range containerEnv(t, name) {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			t.Errorf("the container's environment has %s: it must stay skiff's", kv)
		}
	}
}

// TestSdNotifyStart: create --sdnotify conmon (Podman's name) stores the
// mode; a later start under NOTIFY_SOCKET notifies as run -d does.
func TestSdNotifyStart(t *testing.T) {
	parallel(t)
	u := harness.E2E
	ns := newNotifySocket(t, u)
	name := lcName("sdn-start")
	id := createContainer(t, name, []string{"--sdnotify", "conmon"}, "sh", "-c", idleScript)
	if _, ok := ns.next(300 * time.Millisecond); ok {
		t.Fatalf("create sent a datagram")
	}
	skiffWith(t, ns.env(), "start", name).OK(t)
	m, ok := ns.next(5 * time.Second)
	if !ok {
		t.Fatalf("no datagram on NOTIFY_SOCKET after start")
	}
	f := m.fields()
	if f["READY"] != "1" {
		t.Errorf("datagram %q: want READY=1", m.text)
	}
	checkMainPID(t, f, id)

	r := skiff(t, "create", "--sdnotify", "bogus", busybox(t), "true")
	r.ErrorLine(t, runExit, "sdnotify")
}

// TestSdNotifyContainer: --sdnotify container mounts the socket at
// /run/notify/notify.sock with NOTIFY_SOCKET naming it in the container,
// and skiff sends MAINPID only: the application says READY=1 itself
// (played here by the test, through the container's own mount of the
// socket, since busybox cannot send a datagram).
func TestSdNotifyContainer(t *testing.T) {
	parallel(t)
	u := harness.E2E
	ns := newNotifySocket(t, u)
	name := lcName("sdn-ctr")
	rmOnCleanup(t, u, name)
	r := skiffWith(t, ns.env(), "run", "-d", "--sdnotify", "container", "--name", name, busybox(t), "sh", "-c", idleScript).OK(t)
	id := strings.TrimSpace(r.Stdout)
	m, ok := ns.next(5 * time.Second)
	if !ok {
		t.Fatalf("no datagram on NOTIFY_SOCKET after run -d --sdnotify container: want MAINPID")
	}
	f := m.fields()
	if _, ready := f["READY"]; ready {
		t.Errorf("skiff sent %q with --sdnotify container: READY=1 is the container's to send", m.text)
	}
	checkMainPID(t, f, id)
	if !slices.Contains(containerEnv(t, name), "NOTIFY_SOCKET=/run/notify/notify.sock") {
		t.Errorf("the container's environment %q lacks NOTIFY_SOCKET=/run/notify/notify.sock", containerEnv(t, name))
	}
	skiff(t, "exec", name, "test", "-S", "/run/notify/notify.sock").OK(t)
	// The application's READY=1, through the container's mount.
	inCtr := fmt.Sprintf("/proc/%d/root/run/notify/notify.sock", inspectC(t, name).State.Pid)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: inCtr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("the socket in the container (%s) does not reach NOTIFY_SOCKET: %v", inCtr, err)
	}
	_, err = c.Write([]byte("READY=1\nSTATUS=from the container"))
	c.Close()
	must(t, err)
	if m, ok := ns.next(5 * time.Second); !ok || m.fields()["STATUS"] != "from the container" {
		t.Errorf("a datagram sent to the container's /run/notify/notify.sock did not arrive on NOTIFY_SOCKET (got %q)", m.text)
	}
}

// TestSdNotifyIgnore: --sdnotify ignore sends nothing and passes nothing.
func TestSdNotifyIgnore(t *testing.T) {
	parallel(t)
	u := harness.E2E
	ns := newNotifySocket(t, u)
	name := lcName("sdn-ign")
	rmOnCleanup(t, u, name)
	skiffWith(t, ns.env(), "run", "-d", "--sdnotify", "ignore", "--name", name, busybox(t), "sh", "-c", idleScript).OK(t)
	if m, ok := ns.next(1500 * time.Millisecond); ok {
		t.Errorf("--sdnotify ignore: skiff sent %q", m.text)
	}
	for _, kv := range containerEnv(t, name) {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			t.Errorf("--sdnotify ignore: the container's environment has %s", kv)
		}
	}
}

// TestSdNotifyKeeper: a service's keeper run as a unit's ExecStart
// (`skiff __keeper ID` with NOTIFY_SOCKET and no ready pipe on fd 3)
// sends READY=1 once it has bound the published port, which then answers.
func TestSdNotifyKeeper(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	u := harness.E2E
	ns := newNotifySocket(t, u)
	img := svcImage(t, u, "v1")
	port := netPort(t)
	id := svcCreate(t, u, svcName("sdn"), []string{"--replicas", "1", "-p", fmt.Sprintf("%d:80", port)}, img, svcCmd...)
	old := waitOneKeeper(t, u, id, 10*time.Second)
	killPID(t, old)
	// Gone for good, its lock released (an exiting process loses its
	// command line before its descriptors).
	eventually(t, 10*time.Second, "the killed keeper gone", func() (bool, string) { return !harness.ProcessAlive(old), "" })
	waitNoKeeper(t, u, id, "killing the keeper")

	cmd := harness.Command(u, "__keeper", id)
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+ns.path)
	logf, err := os.CreateTemp("", "skiff-keeper-")
	must(t, err)
	t.Cleanup(func() { logf.Close(); os.Remove(logf.Name()) })
	out := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	m, ok := ns.next(20 * time.Second)
	if !ok {
		select {
		case <-done:
			t.Fatalf("the keeper exited (%v) without READY=1:\n%s\nkeepers now: %v\n%s", waitErr, out(), keeperPIDs(id), userProcesses(u))
		default:
		}
		t.Fatalf("no READY=1 from the keeper within 20 s:\n%s", out())
	}
	if m.fields()["READY"] != "1" {
		t.Errorf("the keeper sent %q, want READY=1", m.text)
	}
	if m.pid != cmd.Process.Pid {
		t.Errorf("READY=1 sent by pid %d, want the keeper itself (%d): a unit's main process", m.pid, cmd.Process.Pid)
	}
	// READY=1 came after the bind: the port is the keeper's.
	waitServiceAnswers(t, port, "v1 ", 20*time.Second)
	select {
	case <-done:
		t.Errorf("the keeper exited after READY=1: %v\n%s", waitErr, out())
	default:
	}
}

// killLikeReboot kills a running container's supervisor, then its
// processes, with SIGKILL, as a power cut would, and waits until they
// are gone.
func killLikeReboot(t *testing.T, name, id string) {
	t.Helper()
	pid := inspectC(t, name).State.Pid
	sups := supervisorPIDs(id)
	if len(sups) != 1 || pid <= 0 {
		t.Fatalf("%s: supervisors %v, pid %d: want one of each", name, sups, pid)
	}
	must(t, syscall.Kill(sups[0], syscall.SIGKILL))
	eventually(t, 10*time.Second, "the supervisor gone", func() (bool, string) { return !harness.ProcessAlive(sups[0]), "" })
	_ = syscall.Kill(pid, syscall.SIGKILL) // pid 1 of its pid namespace: the rest go with it
	eventually(t, 10*time.Second, "the container's processes gone", func() (bool, string) { return !harness.ProcessAlive(pid), "" })
}

// TestStartAllAfterReboot: what skiff-restart.service runs brings back
// the always and unless-stopped containers whose supervisors died with
// the machine, and leaves alone a container without a policy and an
// unless-stopped one that the user had stopped.
func TestStartAllAfterReboot(t *testing.T) {
	parallel(t)
	u := harness.E2E
	tok := "sdn" + harness.UniqueSuffix() // scopes start --all to this test's containers
	name := func(what string) string { return "lc-" + tok + "-" + what }
	always, none, unless, stopped := name("always"), name("none"), name("unless"), name("stopped")
	ids := map[string]string{
		always:  runDetached(t, always, []string{"--restart", "always"}, "sh", "-c", idleScript),
		none:    runDetached(t, none, nil, "sh", "-c", idleScript),
		unless:  runDetached(t, unless, []string{"--restart", "unless-stopped"}, "sh", "-c", idleScript),
		stopped: runDetached(t, stopped, []string{"--restart", "unless-stopped"}, "sh", "-c", idleScript),
	}
	skiff(t, "stop", "-t", "2", stopped).OK(t)
	for _, n := range []string{always, none, unless} {
		killLikeReboot(t, n, ids[n])
	}
	for _, n := range []string{always, none, unless} {
		if st := inspectC(t, n).State.Status; st == "running" {
			t.Fatalf("%s is %s after its supervisor and processes were killed", n, st)
		}
	}

	r := skiff(t, "start", "--all", "--filter", "restart-policy=always", "--filter", "name="+tok).OK(t)
	if got := r.Lines(); !slices.Equal(got, []string{always}) {
		t.Errorf("start --all --filter restart-policy=always printed %q, want [%s]\n%s", got, always, r.Output())
	}
	c := inspectC(t, always)
	if c.State.Status != "running" || len(supervisorPIDs(ids[always])) != 1 {
		t.Errorf("%s after start --all: %s with supervisors %v, want running under one", always, c.State.Status, supervisorPIDs(ids[always]))
	}
	if c.State.Pid <= 0 || !harness.ProcessAlive(c.State.Pid) {
		t.Errorf("%s after start --all: pid %d not alive", always, c.State.Pid)
	}
	skiff(t, "exec", always, "true").OK(t)
	if st := inspectC(t, none).State.Status; st == "running" {
		t.Errorf("%s (no restart policy) is running after start --all --filter restart-policy=always", none)
	}

	// The unit's whole line: unless-stopped too, but not the one stopped by hand.
	r = skiff(t, "start", "--all", "--filter", "restart-policy=always", "--filter", "restart-policy=unless-stopped", "--filter", "name="+tok).OK(t)
	if got := r.Lines(); !slices.Equal(got, []string{unless}) {
		t.Errorf("start --all (always, unless-stopped) printed %q, want [%s]\n%s", got, unless, r.Output())
	}
	waitStatus(t, u, unless, "running", 10*time.Second)
	for _, n := range []string{none, stopped} {
		if st := inspectC(t, n).State.Status; st == "running" {
			t.Errorf("%s is running after start --all (always, unless-stopped): want it left alone", n)
		}
	}
	// Nothing left to start: a second run prints nothing.
	r = skiff(t, "start", "--all", "--filter", "restart-policy=always", "--filter", "restart-policy=unless-stopped", "--filter", "name="+tok).OK(t)
	if r.Stdout != "" {
		t.Errorf("start --all again printed %q, want nothing", r.Stdout)
	}
	skiff(t, "start", "--all", "--filter", "restart-policy=sometimes").ErrorLine(t, errExit, "restart-policy")
	skiff(t, "start", "--filter", "restart-policy=always", always).ErrorLine(t, errExit, "--all")
}

// TestStartAllRestartUnits: contrib's skiff-restart.service (user and
// system) pass systemd-analyze verify with skiff where install.sh puts it.
func TestStartAllRestartUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian's systemd package)")
	}
	root := filepath.Join("..", "..", "contrib", "systemd")
	bindir := filepath.Dir(harness.Binary)
	if bindir == "." || bindir == "" {
		bindir = "/usr/local/bin"
	}
	for _, kind := range []string{"user", "system"} {
		t.Run(kind, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(root, kind, "skiff-restart.service"))
			must(t, err)
			text := strings.ReplaceAll(string(src), "@BINDIR@", bindir)
			for _, want := range []string{"Type=oneshot", "RemainAfterExit=yes",
				"skiff start --all --filter restart-policy=always --filter restart-policy=unless-stopped", "skiff service ls -q"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s skiff-restart.service lacks %q", kind, want)
				}
			}
			dir := t.TempDir()
			unit := filepath.Join(dir, "skiff-restart.service")
			must(t, os.WriteFile(unit, []byte(text), 0o644))
			args := []string{"verify", unit}
			cmd := exec.Command(analyze, args...)
			if kind == "user" {
				cmd = exec.Command(analyze, append([]string{"--user"}, args...)...)
				cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
			}
		})
	}
}
