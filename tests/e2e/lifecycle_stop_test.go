package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/tests/harness"
)

// signalScript exits with a code naming the signal it got: USR1 10, TERM 11, USR2 12.
const signalScript = "trap 'exit 10' USR1; trap 'exit 11' TERM; trap 'exit 12' USR2; echo ready; sleep 300 & wait"

var (
	stopSignalOnce  sync.Once
	stopSignalImage *harness.Image
)

// stopSignalImg is a busybox image with STOPSIGNAL SIGUSR1, pushed and
// pulled once per test binary.
func stopSignalImg(t *testing.T) string {
	t.Helper()
	stopSignalOnce.Do(func() {
		stopSignalImage = harness.PushConfigured(t, "lc-stopsignal", "latest", func(c *v1.Config) { c.StopSignal = "SIGUSR1" })
	})
	if stopSignalImage == nil {
		t.Fatal("pushing the STOPSIGNAL image failed in another test")
	}
	return pulled(t, harness.E2E, "lc-stopsignal")
}

var exitedStatus = regexp.MustCompile(`^Exited \((\d+)\) (Less than a second|\d+ seconds?) ago$`)

func TestLifecycleStop(t *testing.T) {
	parallel(t)
	name := lcName("stop")
	// "ready" only once the TERM trap is set, or a fast stop races it.
	runDetached(t, name, nil, "sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 300 & wait")
	waitLogs(t, name, "ready", 10*time.Second)
	r := skiff(t, "stop", name).OK(t).StdoutIs(t, name+"\n")
	if r.Duration > 5*time.Second {
		t.Errorf("stop of a container that exits on SIGTERM took %s", r.Duration)
	}
	c := inspectC(t, name)
	if c.State.Status != "exited" || c.State.Running || c.State.Pid != 0 || c.State.ExitCode != 0 {
		t.Errorf("after stop: State %+v, want exited, code 0, pid 0", c.State)
	}
	started := parseDockerTime(t, "StartedAt", c.State.StartedAt)
	finished := parseDockerTime(t, "FinishedAt", c.State.FinishedAt)
	if !finished.After(started) {
		t.Errorf("FinishedAt %s is not after StartedAt %s", c.State.FinishedAt, c.State.StartedAt)
	}
	row := parseTable(t, skiff(t, "ps", "-a", "--filter", "name="+name).OK(t).Stdout).rowWith("NAMES", name)
	if row == nil || !exitedStatus.MatchString(row["STATUS"]) || !strings.HasPrefix(row["STATUS"], "Exited (0)") {
		t.Errorf("ps -a after stop: row %v, want STATUS Exited (0) N seconds ago", row)
	}
	// Docker: stopping a stopped container succeeds and changes nothing.
	skiff(t, "stop", name).OK(t).StdoutIs(t, name+"\n")
	if again := inspectC(t, name); again.State.FinishedAt != c.State.FinishedAt || again.State.ExitCode != 0 {
		t.Errorf("a second stop changed the state: %+v", again.State)
	}
	// A created, never started container too.
	n2 := lcName("stop-created")
	createContainer(t, n2, nil, "true")
	skiff(t, "stop", n2).OK(t).StdoutIs(t, n2+"\n")
	if s := stateOf(t, harness.E2E, n2); s != "created" {
		t.Errorf("stop of a created container: status %q, want created", s)
	}
}

func TestLifecycleStopSeveral(t *testing.T) {
	parallel(t)
	a, b := lcName("stop-a"), lcName("stop-b")
	runDetached(t, a, nil, idleCmd...)
	runDetached(t, b, nil, idleCmd...)
	skiff(t, "stop", a, b).OK(t).StdoutIs(t, a+"\n"+b+"\n")
	for _, n := range []string{a, b} {
		if s := stateOf(t, harness.E2E, n); s != "exited" {
			t.Errorf("%s: status %q after stop, want exited", n, s)
		}
	}
}

func TestLifecycleStopTimeoutKills(t *testing.T) {
	parallel(t)
	// sleep as pid 1 has no SIGTERM handler, so SIGTERM does nothing:
	// stop must SIGKILL it after -t seconds.
	name := lcName("stop-t")
	marker := markerSleep()
	runDetached(t, name, nil, "sleep", marker)
	r := skiff(t, "stop", "-t", "1", name).OK(t).StdoutIs(t, name+"\n")
	if r.Duration < 900*time.Millisecond || r.Duration > 8*time.Second {
		t.Errorf("stop -t 1 of a container ignoring SIGTERM took %s, want about 1s", r.Duration)
	}
	c := inspectC(t, name)
	if c.State.Status != "exited" || c.State.ExitCode != 137 {
		t.Errorf("after stop -t 1: status %q exit code %d, want exited 137", c.State.Status, c.State.ExitCode)
	}
	if pids := sleepPIDs(marker); len(pids) != 0 {
		t.Errorf("the container's process still runs after stop: %v", pids)
	}
	// --stop-timeout on run sets the default for stop.
	n2 := lcName("stop-timeout")
	runDetached(t, n2, []string{"--stop-timeout", "1"}, "sleep", markerSleep())
	if c := inspectC(t, n2); c.Config.StopTimeout == nil || *c.Config.StopTimeout != 1 {
		t.Errorf("--stop-timeout 1: Config.StopTimeout %v, want 1", c.Config.StopTimeout)
	}
	r = skiff(t, "stop", n2).OK(t)
	if r.Duration < 900*time.Millisecond || r.Duration > 8*time.Second {
		t.Errorf("stop with --stop-timeout 1 took %s, want about 1s", r.Duration)
	}
	if c := inspectC(t, n2); c.State.ExitCode != 137 {
		t.Errorf("after stop with --stop-timeout 1: exit code %d, want 137", c.State.ExitCode)
	}
	// -t 0 kills at once.
	n3 := lcName("stop-t0")
	runDetached(t, n3, nil, "sleep", markerSleep())
	if r := skiff(t, "stop", "-t", "0", n3).OK(t); r.Duration > 4*time.Second {
		t.Errorf("stop -t 0 took %s", r.Duration)
	}
}

func TestLifecycleStopSignal(t *testing.T) {
	parallel(t)
	img := stopSignalImg(t)
	// The image's STOPSIGNAL (SIGUSR1) is what stop sends.
	n1 := lcName("stopsig-image")
	runDetachedAs(t, harness.E2E, img, n1, nil, "sh", "-c", signalScript)
	waitLogs(t, n1, "ready", 10*time.Second)
	if c := inspectC(t, n1); c.Config.StopSignal != "SIGUSR1" {
		t.Errorf("Config.StopSignal %q, want the image's SIGUSR1", c.Config.StopSignal)
	}
	skiff(t, "stop", "-t", "5", n1).OK(t)
	if c := inspectC(t, n1); c.State.ExitCode != 10 {
		t.Errorf("stop with the image's STOPSIGNAL SIGUSR1: exit code %d, want 10 (USR1); 11 means SIGTERM, 137 SIGKILL", c.State.ExitCode)
	}
	// --stop-signal overrides the image, with or without the SIG prefix.
	for _, sig := range []string{"USR2", "SIGUSR2"} {
		n := lcName("stopsig-flag")
		runDetachedAs(t, harness.E2E, img, n, []string{"--stop-signal", sig}, "sh", "-c", signalScript)
		waitLogs(t, n, "ready", 10*time.Second)
		skiff(t, "stop", "-t", "5", n).OK(t)
		if c := inspectC(t, n); c.State.ExitCode != 12 {
			t.Errorf("--stop-signal %s: exit code %d, want 12 (USR2)", sig, c.State.ExitCode)
		}
	}
	// The default is SIGTERM.
	n3 := lcName("stopsig-default")
	runDetached(t, n3, nil, "sh", "-c", signalScript)
	waitLogs(t, n3, "ready", 10*time.Second)
	skiff(t, "stop", "-t", "5", n3).OK(t)
	if c := inspectC(t, n3); c.State.ExitCode != 11 {
		t.Errorf("stop without a stop signal: exit code %d, want 11 (TERM)", c.State.ExitCode)
	}
	// A bad signal name is refused before anything is created.
	n4 := lcName("stopsig-bad")
	rmOnCleanup(t, harness.E2E, n4)
	skiff(t, "run", "-d", "--name", n4, "--stop-signal", "NOPE", busybox(t), "true").ErrorLine(t, runExit, "NOPE")
	skiff(t, "inspect", n4).ErrorLine(t, errExit, n4)
}

func TestLifecycleKill(t *testing.T) {
	parallel(t)
	// Default SIGKILL: 137.
	n1 := lcName("kill")
	runDetached(t, n1, nil, idleCmd...)
	skiff(t, "kill", n1).OK(t).StdoutIs(t, n1+"\n")
	waitStatus(t, harness.E2E, n1, "exited", 10*time.Second)
	if c := inspectC(t, n1); c.State.ExitCode != 137 {
		t.Errorf("kill: exit code %d, want 137", c.State.ExitCode)
	}
	// Killing a stopped container is an error (Docker), and changes nothing.
	skiff(t, "kill", n1).ErrorLine(t, errExit, n1, "not running")
	// -s in every Docker spelling.
	for _, tc := range []struct {
		sig  string
		code int
	}{{"USR1", 10}, {"SIGUSR2", 12}, {"15", 11}, {"sigterm", 11}} {
		n := lcName("kill-s")
		runDetached(t, n, nil, "sh", "-c", signalScript)
		waitLogs(t, n, "ready", 10*time.Second)
		skiff(t, "kill", "-s", tc.sig, n).OK(t).StdoutIs(t, n+"\n")
		waitStatus(t, harness.E2E, n, "exited", 10*time.Second)
		if c := inspectC(t, n); c.State.ExitCode != tc.code {
			t.Errorf("kill -s %s: exit code %d, want %d", tc.sig, c.State.ExitCode, tc.code)
		}
	}
	// --signal is the long form; an unknown signal is refused and nothing happens.
	n2 := lcName("kill-bad")
	runDetached(t, n2, nil, "sh", "-c", signalScript)
	waitLogs(t, n2, "ready", 10*time.Second)
	skiff(t, "kill", "--signal", "NOPE", n2).ErrorLine(t, errExit, "NOPE")
	if s := stateOf(t, harness.E2E, n2); s != "running" {
		t.Errorf("after kill with a bad signal: status %q, want running", s)
	}
	skiff(t, "kill", "--signal", "USR1", n2).OK(t)
	waitStatus(t, harness.E2E, n2, "exited", 10*time.Second)
}

func TestLifecycleRestart(t *testing.T) {
	parallel(t)
	name := lcName("restart")
	runDetached(t, name, nil, "sh", "-c", "echo boot; "+idleScript)
	waitLogs(t, name, "boot", 10*time.Second)
	before := inspectC(t, name)
	skiff(t, "restart", "-t", "5", name).OK(t).StdoutIs(t, name+"\n")
	after := inspectC(t, name)
	if after.State.Status != "running" || after.State.Pid == 0 || after.State.Pid == before.State.Pid {
		t.Errorf("after restart: status %q pid %d (before %d), want running with a new pid", after.State.Status, after.State.Pid, before.State.Pid)
	}
	if !parseDockerTime(t, "StartedAt", after.State.StartedAt).After(parseDockerTime(t, "StartedAt", before.State.StartedAt)) {
		t.Errorf("restart did not move StartedAt: %s → %s", before.State.StartedAt, after.State.StartedAt)
	}
	if out := waitLogs(t, name, "boot\nboot", 10*time.Second); out != "boot\nboot\n" {
		t.Errorf("logs after restart: %q, want boot twice (the log is kept)", out)
	}
	// restart of a stopped container starts it.
	skiff(t, "stop", name).OK(t)
	skiff(t, "restart", name).OK(t).StdoutIs(t, name+"\n")
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Errorf("restart of a stopped container: status %q, want running", s)
	}
}

// TestLifecycleWaitRacesTheSupervisorsExit: a container that exits at
// once, waited for right away, many at a time. wait read the record while
// the container ran and looked at the supervisor after it had recorded
// the exit and gone: it called the container dead and printed 0.
func TestLifecycleWaitRacesTheSupervisorsExit(t *testing.T) {
	parallel(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				n := lcName(fmt.Sprintf("wait-race-%d-%d", w, i))
				runDetached(t, n, nil, "sh", "-c", "exit 3")
				skiff(t, "wait", n).OK(t).StdoutIs(t, "3\n")
			}
		})
	}
	wg.Wait()
}

func TestLifecycleWait(t *testing.T) {
	parallel(t)
	n1, n2 := lcName("wait-a"), lcName("wait-b")
	runDetached(t, n1, nil, "sh", "-c", "sleep 1; exit 7")
	runDetached(t, n2, nil, "sh", "-c", "exit 0")
	r := skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "wait", n1, n2).OK(t)
	r.StdoutIs(t, "7\n0\n")
	if r.Duration < 500*time.Millisecond {
		t.Errorf("wait returned after %s, before the container's sleep 1 ended", r.Duration)
	}
	// Waiting on an exited container prints its code at once.
	r = skiff(t, "wait", n1).OK(t).StdoutIs(t, "7\n")
	if r.Duration > 5*time.Second {
		t.Errorf("wait on an exited container took %s", r.Duration)
	}
	// Killed: 137.
	n3 := lcName("wait-kill")
	runDetached(t, n3, nil, "sleep", markerSleep())
	w := startBackground(t, harness.E2E, "wait", n3)
	time.Sleep(300 * time.Millisecond)
	skiff(t, "kill", n3).OK(t)
	if code := w.wait(t, 30*time.Second); code != 0 || w.stdout.String() != "137\n" {
		t.Errorf("wait on a killed container: exit %d, %s; want exit 0 and 137", code, w.output())
	}
}

func TestLifecycleRm(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// A running container needs -f; nothing changes without it.
	run := lcName("rm-running")
	marker := markerSleep()
	runDetached(t, run, nil, "sleep", marker)
	skiff(t, "rm", run).ErrorLine(t, errExit, run, "running")
	if s := stateOf(t, harness.E2E, run); s != "running" {
		t.Errorf("after a refused rm: status %q, want running", s)
	}
	skiff(t, "rm", "-f", run).OK(t).StdoutIs(t, run+"\n")
	skiff(t, "inspect", run).ErrorLine(t, errExit, run)
	eventually(t, 10*time.Second, "the container's process gone after rm -f", func() (bool, string) {
		p := sleepPIDs(marker)
		return len(p) == 0, strings.TrimSpace(userProcesses(harness.E2E))
	})
	// Several at once, one missing: the others are removed, the missing one
	// is reported, the exit status says so.
	a, b := lcName("rm-a"), lcName("rm-b")
	createContainer(t, a, nil, "true")
	runDetached(t, b, nil, "true")
	skiff(t, "wait", b).OK(t)
	missing := lcName("rm-missing")
	r := skiff(t, "rm", a, missing, b)
	r.ErrorLine(t, errExit, missing)
	if r.Stdout != a+"\n"+b+"\n" {
		t.Errorf("rm a missing b: stdout %q, want a and b echoed", r.Stdout)
	}
	for _, n := range []string{a, b} {
		skiff(t, "inspect", n).ErrorLine(t, errExit, n)
	}
	// -v (remove anonymous volumes) is accepted.
	v := lcName("rm-v")
	rmOnCleanup(t, harness.E2E, v)
	skiff(t, "create", "--name", v, bb, "true").OK(t)
	skiff(t, "rm", "-v", v).OK(t).StdoutIs(t, v+"\n")
	skiff(t, "inspect", v).ErrorLine(t, errExit, v)
	// The name is free again.
	createContainer(t, v, nil, "true")
}
