package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// background is a skiff process the test talks to while it runs.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	exitCode       int
}

// startBackground starts skiff as u with args, stdin /dev/null, output
// collected. The process is killed at the end of the test if still running.
func startBackground(t *testing.T, u *harness.User, args ...string) *background {
	t.Helper()
	b := &background{cmd: harness.Command(u, args...), done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = b.cmd.Wait()
		b.exitCode = b.cmd.ProcessState.ExitCode()
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *background) output() string {
	return "stdout:\n" + b.stdout.String() + "\nstderr:\n" + b.stderr.String()
}

// waitFor waits up to a minute for stdout to contain s.
func (b *background) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(b.stdout.String(), s) {
		select {
		case <-b.done:
			t.Fatalf("skiff %s exited (%d) before printing %q\n%s", strings.Join(b.cmd.Args[1:], " "), b.exitCode, s, b.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("skiff %s did not print %q within a minute\n%s", strings.Join(b.cmd.Args[1:], " "), s, b.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the skiff process.
func (b *background) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling skiff: %v", err)
	}
}

// wait waits up to timeout for skiff to exit and returns its exit code.
func (b *background) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
		return b.exitCode
	case <-time.After(timeout):
		t.Fatalf("skiff %s still running after %s\n%s", strings.Join(b.cmd.Args[1:], " "), timeout, b.output())
		return -1
	}
}

// stop sends SIGTERM (which skiff forwards to the container) and waits.
func (b *background) stop(t *testing.T) {
	t.Helper()
	select {
	case <-b.done:
		return
	default:
	}
	b.signal(t, syscall.SIGTERM)
	b.wait(t, 30*time.Second)
}
