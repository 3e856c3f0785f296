package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestRunStdoutStderrSeparate(t *testing.T) {
	parallel(t)
	r := skiff(t, "run", "--rm", busybox(t), "sh", "-c", "echo out; echo err >&2; echo out2")
	r.OK(t).StdoutIs(t, "out\nout2\n")
	if r.Stderr != "err\n" {
		t.Errorf("stderr %q, want the container's err only", r.Stderr)
	}
}

func TestRunStdinBinarySafe(t *testing.T) {
	parallel(t)
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	r := skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(data)}, "run", "--rm", "-i", busybox(t), "cat").OK(t)
	if got := sha256.Sum256([]byte(r.Stdout)); got != sum {
		t.Errorf("-i cat returned %d bytes with another sha256 than the 1 MiB sent", len(r.Stdout))
	}
	// The container sees the same bytes.
	r = skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(data)}, "run", "--rm", "-i", busybox(t), "sha256sum").OK(t)
	if !strings.HasPrefix(r.Stdout, hex.EncodeToString(sum[:])) {
		t.Errorf("sha256sum in the container: %q, want %x", r.Stdout, sum)
	}
}

func TestRunWithoutInteractiveIgnoresStdin(t *testing.T) {
	parallel(t)
	// Without -i the container's stdin is not attached (Docker): cat sees EOF.
	r := skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("must not arrive\n")}, "run", "--rm", busybox(t), "cat")
	r.OK(t).StdoutIs(t, "")
}

// runInPty runs skiff as u with its stdio on a new pty of the given size,
// writes input to the terminal, and returns what the terminal showed (with
// \r removed) and the exit code.
func runInPty(t *testing.T, u *harness.User, rows, cols uint16, input string, args ...string) (string, int) {
	t.Helper()
	harness.Requires(t, "pty")
	master, slavePath, err := console.NewPty()
	must(t, err)
	defer master.Close()
	must(t, master.Resize(console.WinSize{Height: rows, Width: cols}))
	must(t, os.Chown(slavePath, u.UID, u.GID))
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	cmd := harness.Command(u, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	must(t, cmd.Start())
	slave.Close()

	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, master) // ends with EIO once every slave fd is closed
		close(readDone)
	}()
	if input != "" {
		go func() {
			time.Sleep(500 * time.Millisecond)
			_, _ = io.WriteString(master, input)
		}()
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	select {
	case <-waitDone:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-waitDone
		t.Errorf("skiff %s in a pty did not finish within a minute", strings.Join(args, " "))
	}
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		t.Errorf("the pty stayed open 5s after skiff exited: another process holds the terminal")
	}
	return strings.ReplaceAll(out.String(), "\r", ""), cmd.ProcessState.ExitCode()
}

func TestRunTTY(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	out, code := runInPty(t, harness.E2E, 40, 120, "", "run", "--rm", "-t", bb, "sh", "-c", "tty; stty size; test -t 0 && test -t 1 && echo both-tty")
	if code != 0 || out != "/dev/pts/0\n40 120\nboth-tty\n" {
		t.Errorf("run -t: exit %d, terminal showed %q; want /dev/pts/0, the size 40 120, and stdin/stdout on the tty", code, out)
	}
	// Interactive: what is typed reaches the shell; its exit status comes back.
	out, code = runInPty(t, harness.E2E, 24, 80, "echo typed-$((6*7))\nexit 3\n", "run", "--rm", "-it", bb, "sh")
	if code != 3 || !strings.Contains(out, "typed-42") {
		t.Errorf("run -it sh: exit %d, terminal showed %q; want typed-42 and exit 3", code, out)
	}
	// Without -t the container has no terminal even when skiff has one.
	out, code = runInPty(t, harness.E2E, 24, 80, "", "run", "--rm", bb, "sh", "-c", "tty || true")
	if code != 0 || !strings.Contains(out, "not a tty") {
		t.Errorf("run without -t: exit %d, terminal showed %q; want 'not a tty'", code, out)
	}
}

func TestRunSignalForwarding(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	bg := startBackground(t, harness.E2E, "run", "--rm", bb, "sh", "-c", "trap 'echo got; exit 7' TERM; echo ready; sleep 100 & wait")
	bg.waitFor(t, "ready")
	bg.signal(t, syscall.SIGTERM)
	if code := bg.wait(t, 30*time.Second); code != 7 {
		t.Errorf("after SIGTERM to skiff: exit %d, want the container's 7\n%s", code, bg.output())
	}
	if !strings.Contains(bg.stdout.String(), "got") {
		t.Errorf("the container did not get SIGTERM\n%s", bg.output())
	}
	// SIGINT and SIGUSR1 are forwarded as well.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGUSR1} {
		name := map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGUSR1: "USR1"}[sig]
		bg := startBackground(t, harness.E2E, "run", "--rm", bb, "sh", "-c", "trap 'echo got-"+name+"; exit 9' "+name+"; echo ready; sleep 100 & wait")
		bg.waitFor(t, "ready")
		bg.signal(t, sig)
		if code := bg.wait(t, 30*time.Second); code != 9 || !strings.Contains(bg.stdout.String(), "got-"+name) {
			t.Errorf("SIG%s: exit %d, want 9 and got-%s\n%s", name, code, name, bg.output())
		}
	}
}
