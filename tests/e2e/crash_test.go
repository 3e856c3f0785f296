package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Kills at every point of a command: strace stops the command with
// SIGKILL at the Nth call of the given system calls (for each N), and
// what skiff does next must work as if the command had finished or never
// started.

// renames are the calls that make a state change visible (every file
// skiff and the storage library write lands with a rename); removals the
// ones a removal makes.
const (
	renames  = "rename,renameat,renameat2"
	removals = "unlinkat,rename,renameat,renameat2,rmdir,umount2"
)

// skiffKilledAt runs skiff as u under strace, which kills it at the nth
// call of one of syscalls; it returns the exit status (137 when killed).
func skiffKilledAt(t *testing.T, u *harness.User, syscalls string, n int, args ...string) int {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace is needed for the crash tests (make test installs it: sudo apt-get install strace): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := harness.Command(u, args...)
	// strace runs as root (so it keeps tracing across the user namespace
	// skiff joins) and starts skiff as u with u's environment.
	cmd := exec.CommandContext(ctx, strace, append([]string{"-f", "-qq", "-o", "/dev/null", "-u", u.Name,
		"-e", "trace=" + syscalls, "-e", "inject=" + syscalls + ":signal=KILL:when=" + strconv.Itoa(n), harness.Binary}, args...)...)
	cmd.Env, cmd.Dir = base.Env, base.Dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("skiff %s under strace (kill at call %d of %s) hung:\n%s", strings.Join(args, " "), n, syscalls, out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()) // strace dies of the signal that killed skiff
		}
		return ee.ExitCode()
	}
	return 0
}

// A pull killed at any of its renames (the storage library records an
// image before it writes its config) leaves nothing that breaks images,
// pull, run or rmi: the next command rolls a half-stored image back or
// completes it.
func TestCrashPull(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop: not in -short")
	}
	suffix := harness.UniqueSuffix()
	img := harness.PushVariant(t, "crash-pull-"+suffix, "latest", suffix).Ref
	// The user's namespace first: strace would wait for a pause process
	// the traced command started.
	skiff(t, "images", "-q").OK(t)
	killed := 0
	for n := 1; n <= 14; n++ {
		code := skiffKilledAt(t, harness.E2E, renames, n, "pull", "-q", img)
		if code == 137 {
			killed++
		}
		r := skiff(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
		if r.ExitCode != 0 {
			t.Fatalf("after a pull killed at rename %d: images fails\n%s", n, r.Output())
		}
		skiff(t, "pull", "-q", img).OK(t)
		skiff(t, "run", "--rm", img, "true").OK(t)
		skiff(t, "inspect", "--format", "{{.Id}}", img).OK(t)
		skiff(t, "rmi", "-f", img).OK(t)
		if imageListed(t, harness.E2E, img) {
			t.Fatalf("after a pull killed at rename %d, rmi -f left %s", n, img)
		}
	}
	if killed < 8 {
		t.Errorf("only %d of 14 pulls were killed: the test does not reach the image's config", killed)
	}
}

// rm -f killed at any point leaves a container that says its removal was
// cut short, that rm -f finishes, and whose name is never held twice.
func TestCrashRemove(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop: not in -short")
	}
	bb := busybox(t) // also makes the user's namespace (see TestCrashPull)
	name := lcName("crash-rm")
	removing := 0
	for n := 1; n <= 20; n++ {
		runDetached(t, name, nil, idleCmd...)
		skiffKilledAt(t, harness.E2E, removals, n, "rm", "-f", name)
		status := strings.TrimSpace(skiff(t, "ps", "-a", "--filter", "name="+name, "--format", "{{.State}}").OK(t).Stdout)
		if status == "removing" {
			removing++
		}
		// The name is free, or refused with the way out; never shared.
		r := skiff(t, "run", "-d", "--name", name, bb, "sleep", "300")
		if r.ExitCode != 0 {
			r.ErrorLine(t, runExit, name, "rm -f|in use")
		}
		if got := skiff(t, "ps", "-a", "-q", "--filter", "name="+name).OK(t).Lines(); len(got) > 1 {
			t.Fatalf("after rm -f killed at call %d: two containers named %s: %v", n, name, got)
		}
		skiff(t, "rm", "-f", name).OK(t)
		if got := skiff(t, "ps", "-a", "-q", "--filter", "name="+name).OK(t).Lines(); len(got) != 0 {
			t.Fatalf("after rm -f killed at call %d and rm -f again: %v left (status was %s)", n, got, status)
		}
	}
	if removing == 0 {
		t.Errorf("no kill left a container being removed: the test does not reach the removal")
	}
	skiff(t, "container", "prune", "-f").OK(t)
}
