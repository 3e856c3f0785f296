package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// BenchmarkScale checks that skiff's cost does not grow with the work
// (issue 16): `run --rm`, `ps -a` and `inspect` with 1, 100 and 500
// containers present (at 100 and 500, 100 of them running) against their
// time with one; the memory of each idle running container (its
// supervisor and slirp4netns) with 1 and 100 running; and how long a new
// member of a user network takes to start once 100 are on it, against the
// first. Skiff only: the targets are ratios to skiff's own times.
//
// The machine's speed drifts while the containers pile up, so each level
// is not compared with a loop timed minutes earlier: a second store of
// the same user (its own XDG_DATA_HOME and XDG_RUNTIME_DIR) keeps one
// container, and every command runs on both stores in turn, in pairs.

const (
	// scaleRunning is how many containers run at the 100 and 500 levels.
	scaleRunning = 100
	// scaleNetworked is how many of them have the default network
	// (slirp4netns), for the memory figure; the rest have none.
	scaleNetworked = 20
	// scaleTarget is the bound on a time over its 1-container time.
	scaleTarget = 1.5
	// scaleFirst is the container inspect looks up at every level.
	scaleFirst = "scale-first"
	// scaleNet is the user network that gets 100 members, scaleEmpty the
	// one whose first member is timed beside it.
	scaleNet, scaleEmpty = "scale-net", "scale-empty"
	// netSamples is how many first and 101st members are timed.
	netSamples = 10
	// keysNeeded is the kernel key quota 200 running containers need:
	// each takes a session keyring (2 keys here), and the default per-user
	// quota (kernel.keys.maxkeys 200) stops the 100th.
	keysNeeded, keyBytesNeeded = 1000, 100000
)

// scaleOps are the commands timed at each level, in one interleaved loop.
func scaleOps(image string) [][]string {
	return [][]string{
		{"run", "--rm", image, "true"},
		{"ps", "-a"},
		{"inspect", scaleFirst},
	}
}

func BenchmarkScale(b *testing.B) {
	f := setup(b)
	e := f.skiff
	defer raiseKeyQuota(b)()
	base, baseID, done := baseStore(b, f)
	defer done()
	defer scaleCleanup(b, e)
	b.ReportMetric(0, "ns/op")

	if _, _, warn, _, err := timedStdout(e, "run", "-d", "--name", scaleFirst, f.image, "sleep", "1d"); err != nil {
		b.Fatalf("run -d --name %s: %v\n%s", scaleFirst, err, warn)
	}
	image := f.image
	ops := scaleOps(image)
	mem := map[int]memTotal{}
	for _, n := range []int{1, 100, 500} {
		if err := scaleTo(e, image, n); err != nil {
			b.Fatal(err)
		}
		if n <= scaleRunning {
			time.Sleep(monitorSettle)
			mem[n] = runningMemory(baseID)
		}
		one, many := scaleMeasure(b, base, e, ops)
		for i, op := range ops {
			label := strings.ReplaceAll(strings.Join(op, " "), image, "busybox")
			ratio := float64(many[i].median()) / float64(one[i].median())
			fmt.Printf("%-26s with %3d containers: %5.1f ms (p90 %5.1f), with 1: %5.1f ms (p90 %5.1f); medians of %d in pairs   ratio %.2f (target <= %.1f)\n",
				label, n, ms(many[i].median()), ms(many[i].p90()), ms(one[i].median()), ms(one[i].p90()), len(many[i].samples), ratio, scaleTarget)
			name := op[0]
			if name == "run" {
				name = "run_rm"
			}
			b.ReportMetric(ms(many[i].median()), fmt.Sprintf("%s_%d_ms", name, n))
			b.ReportMetric(ratio, fmt.Sprintf("%s_%d_ratio", name, n))
		}
	}
	for _, n := range []int{1, scaleRunning} {
		m := mem[n]
		fmt.Printf("idle memory with %3d running: per container: supervisor RSS %.2f MiB Pss %.2f MiB (%d);  per networked container: slirp4netns RSS %.2f MiB Pss %.2f MiB (%d)\n",
			n, mib(m.per(m.supRSS, m.sups)), mib(m.per(m.supPss, m.sups)), m.sups,
			mib(m.per(m.slirpRSS, m.slirps)), mib(m.per(m.slirpPss, m.slirps)), m.slirps)
		b.ReportMetric(float64(m.per(m.supPss+m.slirpPss, m.sups)), fmt.Sprintf("pss_per_container_%d_kib", n))
	}
	scaleNetwork(b, e, image)
}

// baseStore makes the store of one container that every level's times
// are paired with: its engine, the container's ID, and what removes it.
func baseStore(b *testing.B, f *fixture) (*engine, string, func()) {
	u := harness.E2E
	data := filepath.Join(u.Home, "scale-base")
	run := fmt.Sprintf("/tmp/skiff-scale-base-%d", u.UID)
	for _, d := range []string{data, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(d, u.UID, u.GID); err != nil {
			b.Fatal(err)
		}
	}
	e := &engine{name: "skiff (1 container)", command: func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := harness.UserCommandContext(ctx, u, harness.Binary, args...)
		cmd.Env = append(cmd.Env, "XDG_DATA_HOME="+data, "XDG_RUNTIME_DIR="+run)
		return cmd
	}}
	done := func() {
		if out, err := runOnce(e, "rm", "-f", scaleFirst); err != nil {
			b.Errorf("rm -f %s (the 1-container store): %v\n%s", scaleFirst, err, out)
		}
		if out, err := runOnce(e, "system", "prune", "-a", "-f"); err != nil {
			b.Logf("system prune (the 1-container store): %v\n%s", err, out)
		}
		_ = os.RemoveAll(data)
		_ = os.RemoveAll(run)
	}
	if out, err := runOnce(e, "pull", "-q", f.image); err != nil {
		done()
		b.Fatalf("pull into the 1-container store: %v\n%s", err, out)
	}
	_, stdout, out, _, err := timedStdout(e, "run", "-d", "--network", "none", "--name", scaleFirst, f.image, "sleep", "1d")
	if err != nil {
		done()
		b.Fatalf("run -d in the 1-container store: %v\n%s", err, out)
	}
	return e, lastLine(stdout), done
}

// scaleTo brings the store to n containers: up to scaleRunning running
// `sleep 1d` (scaleNetworked with the default network, the rest with
// none), the others created.
func scaleTo(e *engine, image string, n int) error {
	_, stdout, out, _, err := timedStdout(e, "ps", "-a", "-q")
	if err != nil {
		return fmt.Errorf("ps -a -q: %v\n%s", err, out)
	}
	have := len(strings.Fields(stdout))
	start := time.Now()
	for i := have; i < min(n, scaleRunning); i++ {
		netw := "none"
		if i < scaleNetworked {
			netw = "default"
		}
		if _, _, warn, _, err := timedStdout(e, "run", "-d", "--network", netw, image, "sleep", "1d"); err != nil {
			return fmt.Errorf("run -d (container %d): %v\n%s", i+1, err, warn)
		}
	}
	if extra := n - max(have, scaleRunning); extra > 0 {
		if _, err := createManyArgs(e, extra, "create", "--network", "none", image, "true"); err != nil {
			return err
		}
	}
	if n > have {
		fmt.Printf("    scale: %d containers (not timed: made %d in %.1f s)\n", n, n-have, time.Since(start).Seconds())
	}
	return nil
}

// scaleMeasure times ops on both stores in one loop, warm-ups first, the
// store that goes first alternating: the 1-container times, then the
// others.
func scaleMeasure(b *testing.B, one, many *engine, ops [][]string) ([]*stats, []*stats) {
	res := map[*engine][]*stats{}
	for _, e := range []*engine{one, many} {
		for range ops {
			res[e] = append(res[e], &stats{})
		}
	}
	for i := -warmups; i < runs(); i++ {
		for j, op := range ops {
			for _, e := range inOrder([]*engine{one, many}, i) {
				d, out, _, err := timed(e, op...)
				if err != nil {
					b.Fatalf("%s: %s: %v\n%s", e.name, strings.Join(op, " "), err, out)
				}
				if i >= 0 {
					res[e][j].samples = append(res[e][j].samples, d)
				}
			}
		}
	}
	return res[one], res[many]
}

// memTotal sums the memory of the running containers' helpers, in KiB.
type memTotal struct {
	sups, slirps                       int
	supRSS, supPss, slirpRSS, slirpPss int
}

func (m memTotal) per(kib, n int) int {
	if n == 0 {
		return 0
	}
	return kib / n
}

// runningMemory reads every skiff supervisor of the test user but the
// one of container except, and every slirp4netns (the harness's users run
// nothing else that is one).
func runningMemory(except string) memTotal {
	var m memTotal
	for _, pid := range procsByArgs(func(args []string) bool {
		return len(args) > 2 && args[1] == "__supervise" && args[2] != except
	}) {
		if mi, err := readMem(pid); err == nil && ownedByTestUser(pid) {
			m.sups++
			m.supRSS += mi.rss
			m.supPss += mi.pss
		}
	}
	for _, pid := range procsByArgs(func(args []string) bool { return strings.HasSuffix(args[0], "slirp4netns") }) {
		if mi, err := readMem(pid); err == nil && ownedByTestUser(pid) {
			m.slirps++
			m.slirpRSS += mi.rss
			m.slirpPss += mi.pss
		}
	}
	return m
}

// ownedByTestUser reports whether pid runs as the benchmark's user.
func ownedByTestUser(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1] == strconv.Itoa(harness.E2E.UID)
		}
	}
	return false
}

// scaleNetwork times `run -d --network` of a network's first member
// (on scaleEmpty, which has none) and of a 101st (on scaleNet, once 100
// are on it), in pairs, each member removed again after its sample.
func scaleNetwork(b *testing.B, e *engine, image string) {
	for _, n := range []string{scaleNet, scaleEmpty} {
		if out, err := runOnce(e, "network", "create", n); err != nil {
			b.Fatalf("network create %s: %v\n%s", n, err, out)
		}
	}
	member := func(netw string) time.Duration {
		d, id, warn, err := runDetachedOn(e, image, netw)
		if err != nil {
			b.Fatalf("run -d --network %s: %v\n%s", netw, err, warn)
		}
		if out, err := runOnce(e, "rm", "-f", id); err != nil {
			b.Fatalf("rm -f: %v\n%s", err, out)
		}
		return d
	}
	start := time.Now()
	for i := 0; i < scaleRunning; i++ {
		if _, _, warn, err := runDetachedOn(e, image, scaleNet); err != nil {
			b.Fatalf("run -d --network %s (member %d): %v\n%s", scaleNet, i+1, err, warn)
		}
	}
	fmt.Printf("    scale: %d members on %s (not timed: %.1f s)\n", scaleRunning, scaleNet, time.Since(start).Seconds())
	time.Sleep(monitorSettle)
	first, last := &stats{}, &stats{}
	for i := -1; i < netSamples; i++ {
		pair := []string{scaleEmpty, scaleNet}
		if i%2 != 0 {
			pair = []string{scaleNet, scaleEmpty}
		}
		for _, netw := range pair {
			d := member(netw)
			switch {
			case i < 0: // a warm-up
			case netw == scaleEmpty:
				first.samples = append(first.samples, d)
			default:
				last.samples = append(last.samples, d)
			}
		}
	}
	ratio := float64(last.median()) / float64(first.median())
	fmt.Printf("run -d --network: a network's first member %5.1f ms, its 101st %5.1f ms (medians of %d, in pairs)   ratio %.2f (target <= %.1f)\n",
		ms(first.median()), ms(last.median()), netSamples, ratio, scaleTarget)
	b.ReportMetric(ms(first.median()), "net_first_ms")
	b.ReportMetric(ms(last.median()), "net_101st_ms")
	b.ReportMetric(ratio, "net_ratio")
}

// runDetachedOn is `run -d --network netw IMAGE sleep 1d`: its time and
// the container's ID.
func runDetachedOn(e *engine, image, netw string) (time.Duration, string, string, error) {
	d, stdout, out, _, err := timedStdout(e, "run", "-d", "--network", netw, image, "sleep", "1d")
	if err != nil {
		return d, "", out, err
	}
	return d, lastLine(stdout), "", nil
}

// scaleCleanup removes every container of the user and the network.
func scaleCleanup(b *testing.B, e *engine) {
	start := time.Now()
	_, stdout, out, _, err := timedStdout(e, "ps", "-a", "-q", "--no-trunc")
	if err != nil {
		b.Errorf("ps -a -q (cleaning up): %v\n%s", err, out)
		return
	}
	ids := strings.Fields(stdout)
	for len(ids) > 0 {
		k := min(rmBatch, len(ids))
		if out, err := runOnce(e, rmForce(e, ids[:k]...)...); err != nil {
			b.Errorf("rm -f (cleaning up): %v\n%s", err, lastLines(out, 10))
		}
		ids = ids[k:]
	}
	_, _ = runOnce(e, "network", "rm", scaleNet, scaleEmpty)
	fmt.Printf("    scale: removed everything in %.1f s (not timed)\n", time.Since(start).Seconds())
}

// raiseKeyQuota lifts the kernel's per-user key quota to what the
// benchmark's running containers need, if it is lower, and returns what
// puts it back.
func raiseKeyQuota(b *testing.B) func() {
	var undo []func()
	for file, need := range map[string]int{"/proc/sys/kernel/keys/maxkeys": keysNeeded, "/proc/sys/kernel/keys/maxbytes": keyBytesNeeded} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		have, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if have >= need {
			continue
		}
		if err := os.WriteFile(file, []byte(strconv.Itoa(need)), 0o644); err != nil {
			b.Fatalf("raising %s to %d for %d running containers: %v", file, need, 2*scaleRunning, err)
		}
		fmt.Printf("    scale: %s raised from %d to %d for the benchmark's running containers\n", file, have, need)
		undo = append(undo, func() { _ = os.WriteFile(file, data, 0o644) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
