package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds every skiff invocation unless RunOptions says otherwise.
const DefaultTimeout = time.Minute

// maxTimeouts is how many invocations may time out before the harness stops
// starting new ones: a hanging engine must not hold CI for the whole run.
const maxTimeouts = 3

var timeouts atomic.Int32

// userPath is the PATH skiff runs with.
const userPath = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// Result is the outcome of one skiff invocation.
type Result struct {
	User     string
	Prog     string // the program run, for messages: "" is skiff, else e.g. "docker"
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int // -1 when the process did not exit normally (killed, timed out)
	TimedOut bool
	Duration time.Duration
}

// RunOptions changes how Run starts skiff.
type RunOptions struct {
	Stdin   io.Reader     // nil: /dev/null
	Timeout time.Duration // 0: DefaultTimeout
	Env     []string      // extra KEY=VALUE entries
	Dir     string        // working directory; default the user's home
}

// Env returns the environment skiff runs with as u: HOME, USER, LOGNAME and
// PATH, and no XDG_RUNTIME_DIR.
func (u *User) Env() []string {
	return []string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, userPath}
}

// Command returns an unstarted command running the skiff binary as u, for
// tests that need more control (a pty, signals, reading output as it comes).
// Stdin, stdout and stderr are left for the caller to set.
func Command(u *User, args ...string) *exec.Cmd {
	cmd := exec.Command(Binary, args...)
	cmd.Env = u.Env()
	cmd.Dir = u.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if !u.IsRoot() {
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid:    uint32(u.UID),
			Gid:    uint32(u.GID),
			Groups: u.Groups,
		}
	}
	return cmd
}

// RunAs runs skiff as u with args and returns its output and exit code.
func RunAs(t testing.TB, u *User, args ...string) *Result {
	t.Helper()
	return RunAsWith(t, u, RunOptions{}, args...)
}

// RunAsRoot runs skiff as root (root mode).
func RunAsRoot(t testing.TB, args ...string) *Result {
	t.Helper()
	return RunAsWith(t, Root, RunOptions{}, args...)
}

// RunAsWith runs skiff as u with options: stdin, a timeout, extra environment.
// A timed-out run is killed and fails the test at once; after maxTimeouts
// of them no further invocation is started.
func RunAsWith(t testing.TB, u *User, opts RunOptions, args ...string) *Result {
	t.Helper()
	skipIfUnavailable(t)
	return runProgram(t, u, opts, "", Binary, append(u.Env(), opts.Env...), args)
}

// RunBeside runs name, one of the binaries that sit next to skiff
// (skiff-start, skiff-supervisor), as u with args.
func RunBeside(t testing.TB, u *User, name string, args ...string) *Result {
	t.Helper()
	skipIfUnavailable(t)
	return runProgram(t, u, RunOptions{}, name, filepath.Join(filepath.Dir(Binary), name), u.Env(), args)
}

// runProgram runs path as u with env and args (RunAsWith's work, for skiff
// and for the Docker API clients); prog names it in messages ("" is skiff).
func runProgram(t testing.TB, u *User, opts RunOptions, prog, path string, env, args []string) *Result {
	t.Helper()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if n := timeouts.Load(); n >= maxTimeouts {
		t.Fatalf("not running %s %s: %d earlier invocations timed out", progName(prog), strings.Join(args, " "), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := Command(u, args...)
	cmd.Path, cmd.Args[0] = path, path
	cmd.Env = env
	if opts.Dir != "" {
		cmd.Dir = opts.Dir
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, &stdout, &stderr
	// Detached helpers (the supervisor) may keep copies of our pipes open:
	// stop waiting for them shortly after skiff itself has exited.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", progName(prog), strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-ctx.Done():
		timedOut = true
		_ = cmd.Process.Kill()
		err = <-done
	}
	r := &Result{
		User:     u.Name,
		Prog:     prog,
		Args:     args,
		Stdout:   stdout.String(),
		Stderr:   stderr.String(),
		ExitCode: cmd.ProcessState.ExitCode(),
		TimedOut: timedOut,
		Duration: time.Since(start),
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("running %s: %v", r.Cmdline(), err)
	}
	if timedOut {
		timeouts.Add(1)
		t.Fatalf("%s timed out after %s\n%s", r.Cmdline(), timeout, r.Output())
	}
	return r
}

func progName(prog string) string {
	if prog == "" {
		return "skiff"
	}
	return prog
}

// Cmdline is the invocation as a shell-like string for messages.
func (r *Result) Cmdline() string {
	q := make([]string, len(r.Args))
	for i, a := range r.Args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|<>*?(){}[]\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return fmt.Sprintf("[%s] %s %s", r.User, progName(r.Prog), strings.Join(q, " "))
}

// Output shows the exit code, stdout and stderr for failure messages.
func (r *Result) Output() string {
	out := r.Stdout
	if len(out) > 4000 {
		out = out[:4000] + "…(truncated)"
	}
	return fmt.Sprintf("exit code: %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, indent(out), indent(r.Stderr))
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// OK fails the test now unless the run exited 0. It returns r for chaining.
func (r *Result) OK(t testing.TB) *Result {
	t.Helper()
	if r.ExitCode != 0 {
		t.Fatalf("%s: want exit 0\n%s", r.Cmdline(), r.Output())
	}
	return r
}

// Exit reports an error unless the run exited with code.
func (r *Result) Exit(t testing.TB, code int) *Result {
	t.Helper()
	if r.ExitCode != code {
		t.Errorf("%s: want exit %d\n%s", r.Cmdline(), code, r.Output())
	}
	return r
}

// StdoutIs reports an error unless stdout is exactly want.
func (r *Result) StdoutIs(t testing.TB, want string) *Result {
	t.Helper()
	if r.Stdout != want {
		t.Errorf("%s: stdout = %q, want %q\n%s", r.Cmdline(), r.Stdout, want, r.Output())
	}
	return r
}

// Lines returns stdout split into lines without the trailing newline.
func (r *Result) Lines() []string {
	s := strings.TrimRight(r.Stdout, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// ErrorLine checks a failed run: exit code, and stderr holding the one error
// line "Error: ..." that contains every one of words (case-insensitively,
// any of "a|b" alternatives). The only other stderr lines allowed are
// warnings. It returns the error line.
func (r *Result) ErrorLine(t testing.TB, code int, words ...string) string {
	t.Helper()
	if r.ExitCode != code {
		t.Errorf("%s: want exit %d\n%s", r.Cmdline(), code, r.Output())
	}
	var errLines, other []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		switch {
		case strings.HasPrefix(l, "Error: "):
			errLines = append(errLines, l)
		case isWarning(l):
		default:
			other = append(other, l)
		}
	}
	if len(errLines) != 1 || len(other) != 0 {
		t.Errorf("%s: want exactly one stderr line starting with \"Error: \" (and warnings only)\n%s", r.Cmdline(), r.Output())
		if len(errLines) == 0 {
			return ""
		}
	}
	line := errLines[0]
	for _, w := range words {
		if !containsAny(line, w) {
			t.Errorf("%s: error line %q does not mention %q", r.Cmdline(), line, w)
		}
	}
	return line
}

// LastErrorLine checks a failed run whose stderr may hold other output
// (progress of an implicit pull) before the error: exit code, exactly one
// "Error: " line, and it is the last line and mentions every one of words.
func (r *Result) LastErrorLine(t testing.TB, code int, words ...string) string {
	t.Helper()
	if r.ExitCode != code {
		t.Errorf("%s: want exit %d\n%s", r.Cmdline(), code, r.Output())
	}
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	last := lines[len(lines)-1]
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "Error: ") {
			n++
		}
	}
	if n != 1 || !strings.HasPrefix(last, "Error: ") {
		t.Errorf("%s: want one stderr line starting with \"Error: \", as the last line\n%s", r.Cmdline(), r.Output())
		return ""
	}
	for _, w := range words {
		if !containsAny(last, w) {
			t.Errorf("%s: error line %q does not mention %q", r.Cmdline(), last, w)
		}
	}
	return last
}

// isWarning reports whether a stderr line is a warning.
func isWarning(l string) bool {
	low := strings.ToLower(strings.TrimSpace(l))
	return strings.HasPrefix(low, "warning") || strings.HasPrefix(low, "warn[") || strings.HasPrefix(low, "warn:")
}

// containsAny reports whether s contains, case-insensitively, one of the
// "|"-separated alternatives in w.
func containsAny(s, w string) bool {
	s = strings.ToLower(s)
	for _, alt := range strings.Split(w, "|") {
		if strings.Contains(s, strings.ToLower(alt)) {
			return true
		}
	}
	return false
}

// UserDir creates a fresh directory owned by u, reachable by u (its parents
// are world-searchable), removed when the test ends.
func UserDir(t testing.TB, u *User) string {
	t.Helper()
	skipIfUnavailable(t)
	d, err := os.MkdirTemp(workDir, "userdir-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// WriteUserFile writes a file owned by u with mode 0644.
func WriteUserFile(t testing.TB, u *User, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
}

// UniqueSuffix returns a short random hex string for names that must not
// collide between tests or runs.
func UniqueSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
