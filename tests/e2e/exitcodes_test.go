package e2e

// Docker's exit statuses (see the README's Exit codes), the refusal of
// -it without a terminal, and a terminal's \r\n line ends. tests/api's
// TestExitCodesMatchDockerCLI puts the docker CLI next to skiff's for the
// common commands; these are the commands only skiff has, the aliases and
// the usage errors of every command group.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestExitCodesEveryCommandGroup(t *testing.T) {
	parallel(t)
	missing := "ec-missing-" + harness.UniqueSuffix()
	nofile := filepath.Join(harness.UserDir(t, harness.E2E), "no-such.yaml")
	for _, tc := range []struct {
		args []string
		want int
	}{
		// A failed command: 1, in every group and alias.
		{[]string{"container", "rm", missing}, errExit}, {[]string{"container", "inspect", missing}, errExit},
		{[]string{"container", "logs", missing}, errExit}, {[]string{"image", "rm", missing}, errExit},
		{[]string{"image", "history", missing}, errExit}, {[]string{"network", "rm", missing}, errExit},
		{[]string{"volume", "rm", missing}, errExit}, {[]string{"service", "ps", missing}, errExit},
		{[]string{"kube", "play", nofile}, errExit}, {[]string{"kube", "generate", missing}, errExit},
		{[]string{"generate", "systemd", missing}, errExit}, {[]string{"system", "df", "--format", "{{.Nope"}, errExit},
		{[]string{"builder", "prune", "-f", "--filter", "bogus=1"}, errExit},
		// Wrong argument counts and unknown (sub)commands: 1.
		{[]string{"volume", "bogus"}, errExit}, {[]string{"system", "bogus"}, errExit}, {[]string{"image", "bogus"}, errExit},
		{[]string{"network", "connect", "one"}, errExit}, {[]string{"kube", "play"}, errExit}, {[]string{"bogus"}, errExit},
		// A flag that does not parse: 125, in every group.
		{[]string{"container", "ls", "--bogus"}, usageExit}, {[]string{"image", "ls", "--bogus"}, usageExit},
		{[]string{"network", "ls", "--bogus"}, usageExit}, {[]string{"volume", "create", "--bogus"}, usageExit},
		{[]string{"system", "df", "--bogus"}, usageExit}, {[]string{"service", "ls", "--bogus"}, usageExit},
		{[]string{"kube", "play", "--bogus", nofile}, usageExit}, {[]string{"generate", "systemd", "--bogus", missing}, usageExit},
		{[]string{"builder", "prune", "--bogus"}, usageExit}, {[]string{"--bogus", "ps"}, usageExit},
		{[]string{"ps", "-n", "many"}, usageExit}, {[]string{"build", "-m", "1x", "."}, usageExit},
		{[]string{"build", "--shm-size", "1x", "."}, usageExit}, {[]string{"build", "--ulimit", "nofile=x", "."}, usageExit},
		{[]string{"update", "-m", "1x", missing}, usageExit},
		// run's own failure: 125; create's: 1.
		{[]string{"container", "run", "--rm", "--pull", "never", missing}, runExit},
		{[]string{"container", "create", "--pull", "never", missing}, errExit},
	} {
		r := skiff(t, tc.args...)
		if r.ExitCode != tc.want {
			t.Errorf("%s: exit %d, want %d (Docker's)\n%s", r.Cmdline(), r.ExitCode, tc.want, r.Output())
		}
		if !strings.HasPrefix(r.Stderr, "Error: ") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("%s: want one Error: line on stderr\n%s", r.Cmdline(), r.Output())
		}
	}
	// The unknown subcommand is named with its group.
	skiff(t, "volume", "bogus").ErrorLine(t, errExit, `"bogus"`, "skiff volume")
}

// run, exec and attach refuse to join a container's terminal to input
// that is not one, as Docker's CLI does, before anything is made.
func TestRunInteractiveTTYNeedsATerminal(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := lcName("notty")
	rmOnCleanup(t, harness.E2E, name)
	in := harness.RunOptions{Stdin: strings.NewReader("input\n")}
	skiffWith(t, in, "run", "-it", "--name", name, bb, "true").ErrorLine(t, errExit, "not a TTY")
	skiffWith(t, in, "container", "run", "-i", "-t", "--rm", bb, "true").ErrorLine(t, errExit, "not a TTY")
	if got := psNames(t, "-a", "-q", "--filter", "name="+name); len(got) != 0 {
		t.Errorf("run -it without a terminal made container %v", got)
	}
	// -d needs no terminal; -t alone neither (no input is attached).
	running := lcName("tty-running")
	runDetached(t, running, []string{"-i", "-t"}, "sh")
	skiffWith(t, in, "exec", "-it", running, "true").ErrorLine(t, errExit, "not a TTY")
	skiffWith(t, in, "exec", "-t", running, "true").OK(t)
	skiffWith(t, in, "exec", "-d", "-it", running, "true").OK(t)
	skiffWith(t, in, "attach", running).ErrorLine(t, errExit, "not a TTY")
	if s := stateOf(t, harness.E2E, running); s != "running" {
		t.Errorf("after the refused exec and attach, the container is %s", s)
	}
}

// With a pty, lines end in \r\n, as a terminal gives them (and Docker's
// -t): in run's output, exec's and the log.
func TestTTYLinesEndInCRLF(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	skiff(t, "run", "--rm", "-t", bb, "printf", `a\nb\n`).OK(t).StdoutIs(t, "a\r\nb\r\n")
	skiff(t, "run", "--rm", bb, "printf", `a\nb\n`).OK(t).StdoutIs(t, "a\nb\n")
	name := lcName("crlf")
	runDetached(t, name, []string{"-t"}, "sh", "-c", `printf 'x\ny\n'; exec sleep 300`)
	waitLogs(t, name, "y", 10*time.Second)
	skiff(t, "logs", name).OK(t).StdoutIs(t, "x\r\ny\r\n")
	skiff(t, "exec", "-t", name, "printf", `c\nd\n`).OK(t).StdoutIs(t, "c\r\nd\r\n")
}

// exec --detach-keys: on an interactive terminal the keys detach and the
// process runs on (Docker's daemon keeps it; here a small keeper of its
// terminal does).
func TestExecDetachKeys(t *testing.T) {
	parallel(t)
	harness.Requires(t, "pty")
	name := lcName("exec-detach")
	runDetached(t, name, nil, idleCmd...)
	marker := markerSleep()
	out, code := runInPtySteps(t, harness.E2E, []string{"exec sleep " + marker + "\n", "\x18"}, "exec", "-it", "--detach-keys", "ctrl-x", name, "sh")
	if code != 0 || !strings.Contains(out, "Detached") {
		t.Errorf("exec -it --detach-keys ctrl-x, then ctrl-x: exit %d, terminal showed %q; want 0 and Detached", code, out)
	}
	if ps := skiff(t, "exec", name, "ps", "-o", "args").OK(t).Stdout; !strings.Contains(ps, "sleep "+marker) {
		t.Errorf("after detaching, the exec'd process is gone; ps in the container:\n%s", ps)
	}
	// Docker's default keys, ctrl-p ctrl-q, one per read.
	marker2 := markerSleep()
	out, code = runInPtySteps(t, harness.E2E, []string{"exec sleep " + marker2 + "\n", "\x10", "\x11"}, "exec", "-it", name, "sh")
	if code != 0 || !strings.Contains(out, "Detached") {
		t.Errorf("exec -it, then ctrl-p ctrl-q: exit %d, terminal showed %q; want 0 and Detached", code, out)
	}
	if ps := skiff(t, "exec", name, "ps", "-o", "args").OK(t).Stdout; !strings.Contains(ps, "sleep "+marker2) {
		t.Errorf("after ctrl-p ctrl-q, the exec'd process is gone; ps in the container:\n%s", ps)
	}
	// Without the keys the process's exit status comes back as usual.
	_, code = runInPtySteps(t, harness.E2E, []string{"exit 5\n"}, "exec", "-it", "--detach-keys", "ctrl-x", name, "sh")
	if code != 5 {
		t.Errorf("exec -it sh, exit 5: exit %d", code)
	}
	skiff(t, "exec", "--detach-keys", "nope-nope", name, "true").ErrorLine(t, errExit, "nope-nope|detach")
	// The keepers of the detached processes' terminals go with them.
	drains := func() []int {
		return procByCmdline(func(args []string) bool {
			return len(args) == 2 && args[1] == "__drain" && filepath.Dir(args[0]) == filepath.Dir(harness.Binary)
		})
	}
	if len(drains()) == 0 {
		t.Errorf("no skiff-supervisor __drain keeps the detached processes' terminals")
	}
	skiff(t, "rm", "-f", name).OK(t)
	eventually(t, 10*time.Second, "the __drain processes to end with the container", func() (bool, string) {
		pids := drains()
		return len(pids) == 0, fmt.Sprintf("pids %v", pids)
	})
}
