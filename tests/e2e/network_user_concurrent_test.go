package e2e

// User-defined networks under concurrent commands: creates that race for
// the default subnet, containers that join one network at once.

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// concResult is one command of concurrently.
type concResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r concResult) String() string {
	return fmt.Sprintf("skiff %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// concurrently starts every command as u at once and waits for all (each
// killed after timeout). It makes no testing calls from the goroutines.
func concurrently(t *testing.T, u *harness.User, timeout time.Duration, cmds ...[]string) []concResult {
	t.Helper()
	needRootless(t, u)
	out := make([]concResult, len(cmds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := harness.Command(u, args...)
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			cmd.WaitDelay = 5 * time.Second
			<-start
			out[i] = concResult{args: args, code: -1}
			if err := cmd.Start(); err != nil {
				out[i].stderr = err.Error()
				return
			}
			timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
			_ = cmd.Wait()
			timer.Stop()
			out[i].code, out[i].stdout, out[i].stderr = cmd.ProcessState.ExitCode(), so.String(), se.String()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestNetworkUserConcurrent(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	img := busybox(t)

	// Three creates at once: three different default subnets.
	var nets []string
	var creates [][]string
	for i := 0; i < 3; i++ {
		n := unNet(fmt.Sprintf("conc-%d", i))
		unRmOnCleanup(t, harness.E2E, n)
		nets = append(nets, n)
		creates = append(creates, []string{"network", "create", n})
	}
	for _, r := range concurrently(t, harness.E2E, 30*time.Second, creates...) {
		if r.code != 0 || !networkIDRe.MatchString(strings.TrimSpace(r.stdout)) {
			t.Errorf("concurrent create: want exit 0 and the ID\n%s", r)
		}
	}
	seen := map[string]string{}
	for _, n := range nets {
		s := unInspect(t, n).subnet()
		if !regexp.MustCompile(`^10\.89\.\d+\.0/24$`).MatchString(s) {
			t.Errorf("network %s created concurrently: subnet %q, want a 10.89.N.0/24", n, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("networks %s and %s, created at once, both got subnet %s", other, n, s)
		}
		seen[s] = n
	}

	// Four containers joining one network at once: four addresses, and each
	// one's /etc/hosts names all four.
	nw := nets[0]
	var ctrs []string
	var runs [][]string
	for i := 0; i < 4; i++ {
		c := unCtr(fmt.Sprintf("conc-%d", i))
		rmOnCleanup(t, harness.E2E, c)
		ctrs = append(ctrs, c)
		runs = append(runs, append([]string{"run", "-d", "--name", c, "--network", nw, img}, idleCmd...))
	}
	for _, r := range concurrently(t, harness.E2E, 60*time.Second, runs...) {
		if r.code != 0 {
			t.Errorf("concurrent run: want exit 0\n%s", r)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	ips := map[string]string{}
	for _, c := range ctrs {
		ip := ipOn(t, harness.E2E, c, nw)
		if other, dup := ips[ip]; dup {
			t.Errorf("containers %s and %s, started at once, both got %s", other, c, ip)
		}
		ips[ip] = c
	}
	if got := unInspect(t, nw).Containers; len(got) != len(ctrs) {
		t.Errorf("network inspect %s: %d containers, want %d: %+v", nw, len(got), len(ctrs), got)
	}
	for i, c := range ctrs {
		h := hostsOf(t, harness.E2E, c)
		for _, peer := range ctrs {
			if !hostsHas(h, peer) {
				t.Errorf("/etc/hosts of %s lacks %s (all joined at once)\n%s", c, peer, h)
			}
		}
		wantPing(t, harness.E2E, c, ctrs[(i+1)%len(ctrs)], "")
	}
}
