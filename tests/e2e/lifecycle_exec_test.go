package e2e

import (
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestLifecycleExec(t *testing.T) {
	parallel(t)
	name := lcName("exec")
	runDetached(t, name, []string{"-e", "CTR_VAR=from-run"}, idleCmd...)
	skiff(t, "exec", name, "echo", "hi").OK(t).StdoutIs(t, "hi\n")
	// The exec'd process is in the container: its pid namespace, its env.
	skiff(t, "exec", name, "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline").OK(t).StdoutIs(t, "sh -c "+idleScript+" ")
	// Exit statuses, and Docker's 126/127.
	skiff(t, "exec", name, "sh", "-c", "exit 5").Exit(t, 5)
	skiff(t, "exec", name, "nosuchcmd").ErrorLine(t, 127, "nosuchcmd")
	skiff(t, "exec", name, "/etc/passwd").ErrorLine(t, 126, "/etc/passwd")
	// stdout and stderr stay apart.
	r := skiff(t, "exec", name, "sh", "-c", "echo o; echo e >&2").OK(t)
	if r.Stdout != "o\n" || r.Stderr != "e\n" {
		t.Errorf("exec: stdout %q stderr %q, want o / e", r.Stdout, r.Stderr)
	}
	// -e, -u, -w.
	skiff(t, "exec", "-e", "FOO=bar", name, "sh", "-c", "echo $FOO $CTR_VAR").OK(t).StdoutIs(t, "bar from-run\n")
	skiff(t, "exec", "--env", "CTR_VAR=over", name, "sh", "-c", "echo $CTR_VAR").OK(t).StdoutIs(t, "over\n")
	skiff(t, "exec", "-u", "app", name, "sh", "-c", "id -u; id -g; echo $HOME").OK(t).StdoutIs(t, "1000\n1000\n/home/app\n")
	skiff(t, "exec", "--user", "1000:50", name, "sh", "-c", "id -u; id -g").OK(t).StdoutIs(t, "1000\n50\n")
	skiff(t, "exec", name, "id", "-u").OK(t).StdoutIs(t, "0\n")
	skiff(t, "exec", "-w", "/tmp", name, "pwd").OK(t).StdoutIs(t, "/tmp\n")
	skiff(t, "exec", "--workdir", "/etc", name, "pwd").OK(t).StdoutIs(t, "/etc\n")
	// An unknown user, a missing working directory: the process cannot
	// start, 126 as Docker's exec.
	skiff(t, "exec", "-u", "nosuchuser", name, "true").ErrorLine(t, 126, "nosuchuser")
	skiff(t, "exec", "-w", "/no/such/dir", name, "true").ErrorLine(t, 126, "/no/such/dir", "working directory")
	// -i: stdin reaches the process; without it, EOF.
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("piped\n")}, "exec", "-i", name, "cat").OK(t).StdoutIs(t, "piped\n")
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("must not arrive\n")}, "exec", name, "cat").OK(t).StdoutIs(t, "")
	// -d: returns at once, the process runs on.
	r = skiff(t, "exec", "-d", name, "sh", "-c", "sleep 0.5; echo detached-done > /tmp/d").OK(t)
	if r.Stdout != "" || r.Duration > 4*time.Second {
		t.Errorf("exec -d: stdout %q after %s, want nothing, at once", r.Stdout, r.Duration)
	}
	eventually(t, 10*time.Second, "exec -d's process to write /tmp/d", func() (bool, string) {
		r := skiff(t, "exec", name, "cat", "/tmp/d")
		return r.Stdout == "detached-done\n", r.Output()
	})
	// --privileged: every capability, where the plain exec has Docker's default set.
	plain := procStatusField(t, skiff(t, "exec", name, "cat", "/proc/self/status").OK(t).Stdout, "CapEff")
	priv := procStatusField(t, skiff(t, "exec", "--privileged", name, "cat", "/proc/self/status").OK(t).Stdout, "CapEff")
	if plain != capHex(capMask(dockerDefaultCaps...)) {
		t.Errorf("exec CapEff %s, want Docker's default %s", plain, capHex(capMask(dockerDefaultCaps...)))
	}
	if priv != capHex(allCaps(t)) {
		t.Errorf("exec --privileged CapEff %s, want all %s", priv, capHex(allCaps(t)))
	}
	// The exec'd processes are gone; the container runs on.
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Errorf("after the execs: status %q, want running", s)
	}
}

func TestLifecycleExecTTY(t *testing.T) {
	parallel(t)
	name := lcName("exec-t")
	runDetached(t, name, nil, idleCmd...)
	out, code := runInPty(t, harness.E2E, 30, 100, "", "exec", "-t", name, "sh", "-c", "tty; stty size")
	if code != 0 || !regexp.MustCompile(`^/dev/pts/\d+\n30 100\n$`).MatchString(out) {
		t.Errorf("exec -t: exit %d, terminal showed %q; want a /dev/pts tty of size 30 100", code, out)
	}
	out, code = runInPty(t, harness.E2E, 24, 80, "echo typed-$((6*7))\nexit 3\n", "exec", "-it", name, "sh")
	if code != 3 || !strings.Contains(out, "typed-42") {
		t.Errorf("exec -it sh: exit %d, terminal showed %q; want typed-42 and exit 3", code, out)
	}
}

func TestLifecycleExecNotRunning(t *testing.T) {
	parallel(t)
	n1 := lcName("exec-stopped")
	runDetached(t, n1, nil, "true")
	skiff(t, "wait", n1).OK(t)
	skiff(t, "exec", n1, "echo", "x").ErrorLine(t, errExit, n1, "not running")
	n2 := lcName("exec-created")
	createContainer(t, n2, nil, "true")
	r := skiff(t, "exec", n2, "echo", "x")
	r.ErrorLine(t, errExit, n2, "not running")
	if s := stateOf(t, harness.E2E, n2); s != "created" {
		t.Errorf("exec into a created container changed its status to %q", s)
	}
	skiff(t, "exec", lcName("exec-missing"), "true").ErrorLine(t, errExit, "no such")
	// No command.
	skiff(t, "exec", n1).ErrorLine(t, errExit)
}

func TestLifecycleAttach(t *testing.T) {
	parallel(t)
	// stdin goes to the container; attach ends with its exit status.
	n1 := lcName("attach")
	runDetached(t, n1, []string{"-i"}, "sh", "-c", "read l; echo got:$l; echo err:$l >&2; exit 4")
	r := skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("hello\n"), Timeout: 30 * time.Second}, "attach", n1)
	r.Exit(t, 4)
	if r.Stdout != "got:hello\n" || r.Stderr != "err:hello\n" {
		t.Errorf("attach: stdout %q stderr %q, want got:hello / err:hello", r.Stdout, r.Stderr)
	}
	// --no-stdin: output only, the container reads nothing.
	n2 := lcName("attach-nostdin")
	runDetached(t, n2, []string{"-i"}, "sh", "-c", "if read -t 3 l; then echo got:$l; else echo none; fi")
	r = skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("x\n"), Timeout: 30 * time.Second}, "attach", "--no-stdin", n2)
	r.OK(t).StdoutIs(t, "none\n")
	// Attaching to a stopped container is an error.
	skiff(t, "attach", n2).ErrorLine(t, errExit, n2, "not running|stopped|exited")
}

func TestLifecycleAttachSigProxy(t *testing.T) {
	parallel(t)
	script := "trap 'echo got-term; exit 5' TERM; while :; do echo tick; sleep 0.2; done"
	// Default --sig-proxy=true: a SIGTERM to attach reaches the container.
	n1 := lcName("sigproxy")
	runDetached(t, n1, nil, "sh", "-c", script)
	bg := startBackground(t, harness.E2E, "attach", n1)
	bg.waitFor(t, "tick")
	bg.signal(t, syscall.SIGTERM)
	if code := bg.wait(t, 20*time.Second); code != 5 {
		t.Errorf("attach after SIGTERM: exit %d, want the container's 5\n%s", code, bg.output())
	}
	if !strings.Contains(bg.stdout.String(), "got-term") {
		t.Errorf("the container did not get the SIGTERM sent to attach\n%s", bg.output())
	}
	waitStatus(t, harness.E2E, n1, "exited", 10*time.Second)
	// --sig-proxy=false: attach goes away, the container runs on.
	n2 := lcName("nosigproxy")
	runDetached(t, n2, nil, "sh", "-c", script)
	bg = startBackground(t, harness.E2E, "attach", "--sig-proxy=false", n2)
	bg.waitFor(t, "tick")
	bg.signal(t, syscall.SIGTERM)
	bg.wait(t, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	if s := stateOf(t, harness.E2E, n2); s != "running" {
		t.Errorf("attach --sig-proxy=false got SIGTERM: container status %q, want running", s)
	}
	if strings.Contains(bg.stdout.String(), "got-term") {
		t.Errorf("--sig-proxy=false forwarded SIGTERM\n%s", bg.output())
	}
}

// runInPtySteps runs skiff as u on a new 24x80 pty and writes each input
// to the terminal 700ms after the previous one; it returns what the
// terminal showed and the exit code (-1 if skiff was still running 15s on).
func runInPtySteps(t *testing.T, u *harness.User, inputs []string, args ...string) (string, int) {
	t.Helper()
	steps := make([]ptyStep, len(inputs))
	for i, in := range inputs {
		steps[i] = ptyStep{write: in}
	}
	return runInPtyDo(t, u, steps, args...)
}

// ptyStep is one action on the terminal: write text, or resize it first.
type ptyStep struct {
	resize *console.WinSize
	write  string
	// waitFor, when set, waits (up to 10s) for the terminal to show it
	// before the step acts.
	waitFor string
}

// runInPtyDo is runInPtySteps with resizes and waits between the writes.
func runInPtyDo(t *testing.T, u *harness.User, steps []ptyStep, args ...string) (string, int) {
	t.Helper()
	harness.Requires(t, "pty")
	master, slavePath, err := console.NewPty()
	must(t, err)
	defer master.Close()
	must(t, master.Resize(console.WinSize{Height: 24, Width: 80}))
	must(t, os.Chown(slavePath, u.UID, u.GID))
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	cmd := harness.Command(u, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	must(t, cmd.Start())
	slave.Close()
	var out syncBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	go func() {
		for _, st := range steps {
			time.Sleep(700 * time.Millisecond)
			for end := time.Now().Add(10 * time.Second); st.waitFor != "" && !strings.Contains(out.String(), st.waitFor) && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			if st.resize != nil {
				_ = master.Resize(*st.resize)
			}
			if st.write != "" {
				_, _ = io.WriteString(master, st.write)
			}
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return strings.ReplaceAll(out.String(), "\r", ""), -1
	}
	time.Sleep(100 * time.Millisecond)
	return strings.ReplaceAll(out.String(), "\r", ""), cmd.ProcessState.ExitCode()
}

func TestLifecycleAttachDetachKeys(t *testing.T) {
	parallel(t)
	harness.Requires(t, "pty")
	name := lcName("detachkeys")
	runDetached(t, name, []string{"-i", "-t"}, "sh")
	// A custom sequence, ctrl-x, typed after a command.
	out, code := runInPtySteps(t, harness.E2E, []string{"echo hi-$((1+1))\n", "\x18"}, "attach", "--detach-keys", "ctrl-x", name)
	if code != 0 || !strings.Contains(out, "hi-2") {
		t.Errorf("attach --detach-keys ctrl-x: exit %d after ctrl-x, terminal showed %q; want 0 and hi-2", code, out)
	}
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Fatalf("after detaching: status %q, want running", s)
	}
	waitLogs(t, name, "hi-2", 10*time.Second)
	// Docker's default, ctrl-p ctrl-q. Input that arrives in one read with
	// the sequence (typed fast, pasted) must not be lost. Docker only sees
	// the keys when they come one per read, so it would forward all of it
	// and detach on the single-key writes that follow; detaching at once is
	// fine too, as long as the command before the keys reaches the shell.
	out, code = runInPtySteps(t, harness.E2E, []string{"echo again-$((2+2))\n\x10\x11", "\x10", "\x11"}, "attach", name)
	if code != 0 {
		t.Errorf("attach, then ctrl-p ctrl-q: exit %d, want 0; terminal showed %q", code, out)
	}
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Errorf("after detaching with ctrl-p ctrl-q: status %q, want running", s)
	}
	waitLogs(t, name, "again-4", 10*time.Second)
	skiff(t, "attach", "--detach-keys", "nope-nope", name).ErrorLine(t, errExit, "nope-nope|detach")
}

func TestLifecycleAttachResize(t *testing.T) {
	parallel(t)
	harness.Requires(t, "pty")
	name := lcName("resize")
	runDetached(t, name, []string{"-i", "-t"}, "sh")
	// attach takes the terminal's size (24x80), and follows a resize.
	out, code := runInPtyDo(t, harness.E2E, []ptyStep{
		{write: "stty size\n"},
		{waitFor: "24 80", resize: &console.WinSize{Height: 41, Width: 121}},
		{write: "stty size\n"},
		{waitFor: "41 121", write: "\x10\x11"},
	}, "attach", name)
	if !strings.Contains(out, "24 80\n") || !strings.Contains(out, "41 121\n") {
		t.Errorf("attach to a -t container: terminal showed %q; want stty size 24 80, then 41 121 after the resize", out)
	}
	if code != 0 {
		t.Errorf("attach: exit %d after ctrl-p ctrl-q, want 0", code)
	}
	// exec -t follows a resize as well.
	out, _ = runInPtyDo(t, harness.E2E, []ptyStep{
		{write: "stty size\n"},
		{waitFor: "24 80", resize: &console.WinSize{Height: 33, Width: 99}},
		{write: "stty size; exit\n"},
	}, "exec", "-it", name, "sh")
	if !strings.Contains(out, "24 80\n") || !strings.Contains(out, "33 99\n") {
		t.Errorf("exec -it: terminal showed %q; want stty size 24 80, then 33 99 after the resize", out)
	}
}

func TestLifecycleTop(t *testing.T) {
	parallel(t)
	name := lcName("top")
	marker := markerSleep()
	runDetached(t, name, nil, "sleep", marker)
	// run -d returns once the container's init is told to exec; the
	// command's own process appears a moment later.
	var hostPIDs []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if hostPIDs = sleepPIDs(marker); len(hostPIDs) == 1 {
			break
		}
	}
	if len(hostPIDs) != 1 {
		t.Fatalf("want one host process sleep %s, found %v", marker, hostPIDs)
	}
	for _, tc := range []struct {
		psArgs  []string
		columns []string
	}{
		{nil, []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}},
		{[]string{"-o", "pid,args"}, []string{"PID", "COMMAND"}},
		{[]string{"aux"}, []string{"USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"}},
	} {
		r := skiff(t, append([]string{"top", name}, tc.psArgs...)...).OK(t)
		lines := r.Lines()
		if len(lines) != 2 {
			t.Errorf("%s: want a header and the container's one process\n%s", r.Cmdline(), r.Output())
			continue
		}
		if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(tc.columns, " ") {
			t.Errorf("%s: header %q, want %q", r.Cmdline(), got, tc.columns)
		}
		if !strings.HasSuffix(lines[1], "sleep "+marker) {
			t.Errorf("%s: row %q does not end with sleep %s", r.Cmdline(), lines[1], marker)
		}
		// Docker shows host pids.
		if !strings.Contains(" "+lines[1]+" ", " "+strconv.Itoa(hostPIDs[0])+" ") {
			t.Errorf("%s: row %q lacks the host pid %d", r.Cmdline(), lines[1], hostPIDs[0])
		}
	}
	skiff(t, "top", name, "--no-such-ps-option").ErrorLine(t, errExit)
	skiff(t, "kill", name).OK(t)
	waitStatus(t, harness.E2E, name, "exited", 10*time.Second)
	skiff(t, "top", name).ErrorLine(t, errExit, name, "not running")
}
