package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/tests/harness"
)

// restartCount reads RestartCount and State.Status.
func restartCount(t *testing.T, name string) (int, string) {
	t.Helper()
	r := skiff(t, "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", name).OK(t)
	var n int
	var s string
	if _, err := fmt.Sscan(r.Stdout, &n, &s); err != nil {
		t.Fatalf("%s: %q: %v", r.Cmdline(), r.Stdout, err)
	}
	return n, s
}

func TestLifecycleRestartOnFailure(t *testing.T) {
	parallel(t)
	name := lcName("onfailure")
	runDetached(t, name, []string{"--restart", "on-failure:3"}, "sh", "-c", "echo run; exit 3")
	// Docker's back-off (100ms, doubling) makes 3 restarts take under 2s.
	eventually(t, 30*time.Second, "on-failure:3 to give up after 3 restarts", func() (bool, string) {
		n, s := restartCount(t, name)
		return n == 3 && s == "exited", fmt.Sprintf("RestartCount %d, status %s", n, s)
	})
	time.Sleep(1500 * time.Millisecond)
	c := inspectC(t, name)
	if c.RestartCount != 3 || c.State.Status != "exited" || c.State.ExitCode != 3 {
		t.Errorf("1.5s after giving up: RestartCount %d status %s exit %d, want 3, exited, 3", c.RestartCount, c.State.Status, c.State.ExitCode)
	}
	if c.HostConfig.RestartPolicy.Name != "on-failure" || c.HostConfig.RestartPolicy.MaximumRetryCount != 3 {
		t.Errorf("HostConfig.RestartPolicy %+v, want on-failure 3", c.HostConfig.RestartPolicy)
	}
	if out := skiff(t, "logs", name).OK(t).Stdout; out != strings.Repeat("run\n", 4) {
		t.Errorf("logs: %q, want the first run and 3 restarts", out)
	}
	// A successful exit is not restarted.
	n2 := lcName("onfailure-ok")
	runDetached(t, n2, []string{"--restart", "on-failure"}, "sh", "-c", "echo once")
	skiff(t, "wait", n2).OK(t).StdoutIs(t, "0\n")
	time.Sleep(time.Second)
	if n, s := restartCount(t, n2); n != 0 || s != "exited" {
		t.Errorf("on-failure after exit 0: RestartCount %d status %s, want 0 exited", n, s)
	}
	// --restart no (explicitly): a failure stays.
	n3 := lcName("restart-no")
	runDetached(t, n3, []string{"--restart", "no"}, "sh", "-c", "exit 1")
	skiff(t, "wait", n3).OK(t).StdoutIs(t, "1\n")
	time.Sleep(time.Second)
	if n, s := restartCount(t, n3); n != 0 || s != "exited" {
		t.Errorf("--restart no after exit 1: RestartCount %d status %s", n, s)
	}
}

func TestLifecycleRestartAlways(t *testing.T) {
	parallel(t)
	for _, policy := range []string{"always", "unless-stopped"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			name := lcName("restart-" + policy)
			runDetached(t, name, []string{"--restart", policy}, "sh", "-c", "echo run; sleep 0.2; exit 0")
			eventually(t, 30*time.Second, policy+" to restart a container that exits 0 three times", func() (bool, string) {
				n, s := restartCount(t, name)
				return n >= 3, fmt.Sprintf("RestartCount %d, status %s", n, s)
			})
			if c := inspectC(t, name); c.HostConfig.RestartPolicy.Name != policy {
				t.Errorf("HostConfig.RestartPolicy.Name %q, want %q", c.HostConfig.RestartPolicy.Name, policy)
			}
			// stop ends it for good, even in the middle of a back-off.
			skiff(t, "stop", "-t", "2", name).OK(t).StdoutIs(t, name+"\n")
			waitStatus(t, harness.E2E, name, "exited", 10*time.Second)
			n0, _ := restartCount(t, name)
			time.Sleep(2 * time.Second)
			if n, s := restartCount(t, name); n != n0 || s != "exited" {
				t.Errorf("after stop: RestartCount %d→%d, status %s; want no restart after a manual stop", n0, n, s)
			}
			// start brings it back, policy still on.
			skiff(t, "start", name).OK(t)
			eventually(t, 30*time.Second, policy+" to restart again after start", func() (bool, string) {
				n, s := restartCount(t, name)
				return n > n0, fmt.Sprintf("RestartCount %d, status %s", n, s)
			})
		})
	}
}

func TestLifecycleRestartAfterHostKill(t *testing.T) {
	parallel(t)
	// The supervisor applies the policy whatever ends the process.
	name := lcName("restart-hostkill")
	marker := markerSleep()
	runDetached(t, name, []string{"--restart", "on-failure:1"}, "sleep", marker)
	// run -d returns once the container's init is told to exec; the
	// command's own process appears a moment later.
	var pids []int
	eventually(t, 5*time.Second, "the container's sleep", func() (bool, string) {
		pids = sleepPIDs(marker)
		return len(pids) == 1, fmt.Sprintf("processes sleep %s: %v", marker, pids)
	})
	must(t, syscall.Kill(pids[0], syscall.SIGKILL))
	eventually(t, 20*time.Second, "the container restarted after its process was killed", func() (bool, string) {
		n, s := restartCount(t, name)
		now := sleepPIDs(marker)
		return n == 1 && s == "running" && len(now) == 1 && now[0] != pids[0], fmt.Sprintf("RestartCount %d status %s pids %v", n, s, now)
	})
}

func TestLifecycleRestartBadValues(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, tc := range []struct {
		flags []string
		word  string
	}{
		{[]string{"--restart", "sometimes"}, "sometimes"},
		{[]string{"--restart", "on-failure:x"}, "on-failure:x|x"},
		{[]string{"--restart", "on-failure:-1"}, "-1"},
		{[]string{"--restart", "always:3"}, "always"},
		{[]string{"--restart", "always", "--rm"}, "--rm|conflict"},
		{[]string{"--health-interval", "soon"}, "soon"},
		{[]string{"--health-retries", "-1"}, "retries"},
		{[]string{"--stop-timeout", "abc"}, "abc"},
	} {
		name := lcName("badflag")
		rmOnCleanup(t, harness.E2E, name)
		args := append(append([]string{"run", "-d", "--name", name}, tc.flags...), bb, "echo", "must-not-run")
		skiff(t, args...).ErrorLine(t, runExit, tc.word)
		skiff(t, "inspect", name).ErrorLine(t, errExit, name)
	}
}

// healthOf returns State.Health (nil without a healthcheck).
func healthOf(t *testing.T, name string) *healthJSON {
	t.Helper()
	return inspectC(t, name).State.Health
}

// waitHealth waits for State.Health.Status to be want.
func waitHealth(t *testing.T, name, want string, timeout time.Duration) *healthJSON {
	t.Helper()
	var h *healthJSON
	eventually(t, timeout, "health "+want, func() (bool, string) {
		h = healthOf(t, name)
		if h == nil {
			return false, "no State.Health"
		}
		return h.Status == want, fmt.Sprintf("%+v", *h)
	})
	return h
}

// psStatus returns the STATUS column of the container's ps row.
func psStatus(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(skiff(t, "ps", "-a", "--filter", "name="+name, "--format", "{{.Status}}").OK(t).Stdout)
}

func TestLifecycleHealthTurnsUnhealthy(t *testing.T) {
	parallel(t)
	name := lcName("health")
	runDetached(t, name, []string{
		"--health-cmd", "test -e /tmp/ok", "--health-interval", "500ms",
		"--health-timeout", "2s", "--health-retries", "2",
	}, "sh", "-c", "touch /tmp/ok; "+idleScript)
	c := inspectC(t, name)
	if c.Config.Healthcheck == nil || !slices.Equal(c.Config.Healthcheck.Test, []string{"CMD-SHELL", "test -e /tmp/ok"}) || c.Config.Healthcheck.Retries != 2 {
		t.Errorf("Config.Healthcheck %+v, want CMD-SHELL test -e /tmp/ok, retries 2", c.Config.Healthcheck)
	}
	waitHealth(t, name, "healthy", 20*time.Second)
	if st := psStatus(t, name); !upStatus.MatchString(strings.TrimSuffix(st, " (healthy)")) || !strings.HasSuffix(st, " (healthy)") {
		t.Errorf("ps STATUS %q, want \"Up N seconds (healthy)\"", st)
	}
	skiff(t, "exec", name, "rm", "/tmp/ok").OK(t)
	h := waitHealth(t, name, "unhealthy", 20*time.Second)
	if h.FailingStreak < 2 {
		t.Errorf("unhealthy with FailingStreak %d, want at least the 2 retries", h.FailingStreak)
	}
	if len(h.Log) == 0 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Errorf("State.Health.Log %+v, want entries ending with exit code 1", h.Log)
	}
	if len(h.Log) > 5 {
		t.Errorf("State.Health.Log holds %d entries, Docker keeps the last 5", len(h.Log))
	}
	if st := psStatus(t, name); !strings.HasSuffix(st, " (unhealthy)") {
		t.Errorf("ps STATUS %q, want \"Up N seconds (unhealthy)\"", st)
	}
	// An unhealthy container keeps running (Docker does not act on it).
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Errorf("unhealthy container: status %q, want running", s)
	}
	// And it recovers.
	skiff(t, "exec", name, "touch", "/tmp/ok").OK(t)
	waitHealth(t, name, "healthy", 20*time.Second)
	// Stopped: ps shows no health suffix.
	skiff(t, "stop", name).OK(t)
	if st := psStatus(t, name); !strings.HasPrefix(st, "Exited (0) ") || strings.Contains(st, "health") {
		t.Errorf("ps STATUS after stop %q, want Exited (0) … without health", st)
	}
}

func TestLifecycleHealthStartPeriodAndTimeout(t *testing.T) {
	parallel(t)
	// Failures inside the start period do not count: still "starting".
	n1 := lcName("health-start")
	runDetached(t, n1, []string{"--health-cmd", "false", "--health-interval", "300ms", "--health-retries", "1", "--health-start-period", "60s"}, idleCmd...)
	time.Sleep(2 * time.Second)
	if h := healthOf(t, n1); h == nil || h.Status != "starting" {
		t.Errorf("inside the start period: Health %+v, want starting", h)
	}
	if st := psStatus(t, n1); !strings.HasSuffix(st, " (health: starting)") {
		t.Errorf("ps STATUS %q, want \"Up N seconds (health: starting)\"", st)
	}
	// A check that outlives --health-timeout fails.
	n2 := lcName("health-timeout")
	runDetached(t, n2, []string{"--health-cmd", "sleep 10", "--health-interval", "500ms", "--health-timeout", "300ms", "--health-retries", "1"}, idleCmd...)
	h := waitHealth(t, n2, "unhealthy", 20*time.Second)
	if len(h.Log) == 0 || h.Log[len(h.Log)-1].ExitCode == 0 {
		t.Errorf("timed-out check: Log %+v, want a failed entry", h.Log)
	}
	// No healthcheck: no Health in State.
	n3 := lcName("health-none")
	runDetached(t, n3, nil, idleCmd...)
	if h := healthOf(t, n3); h != nil {
		t.Errorf("without a healthcheck State.Health is %+v, want absent", h)
	}
}

func TestLifecycleHealthFromImage(t *testing.T) {
	parallel(t)
	harness.PushConfigured(t, "lc-healthcheck", "latest", func(c *v1.Config) {
		c.Healthcheck = &v1.HealthConfig{
			Test:     []string{"CMD-SHELL", "test -e /tmp/image-ok"},
			Interval: 300 * time.Millisecond,
			Timeout:  2 * time.Second,
			Retries:  1,
		}
	})
	img := pulled(t, harness.E2E, "lc-healthcheck")
	// The image's HEALTHCHECK runs: no /tmp/image-ok, so unhealthy.
	n1 := lcName("health-image")
	runDetachedAs(t, harness.E2E, img, n1, nil, idleCmd...)
	if c := inspectC(t, n1); c.Config.Healthcheck == nil || !slices.Equal(c.Config.Healthcheck.Test, []string{"CMD-SHELL", "test -e /tmp/image-ok"}) {
		t.Errorf("Config.Healthcheck %+v, want the image's", c.Config.Healthcheck)
	}
	waitHealth(t, n1, "unhealthy", 20*time.Second)
	// --health-cmd replaces the image's command and keeps its timing.
	n2 := lcName("health-image-override")
	runDetachedAs(t, harness.E2E, img, n2, []string{"--health-cmd", "true"}, idleCmd...)
	waitHealth(t, n2, "healthy", 20*time.Second)
}
