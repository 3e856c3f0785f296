package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Benchmarks of detached containers: the run -d / rm -f cycle, ps -a over
// many containers, and the idle memory of the per-container monitor (skiff's
// supervisor, Podman's conmon).

const (
	// psContainers is how many created containers ps -a lists.
	psContainers = 200
	// createWorkers bounds the parallel creates that set up the ps benchmark.
	createWorkers = 4
	// rmBatch is how many containers one rm -f removes when cleaning up.
	rmBatch = 50
	// monitorSettle is how long a detached container idles before the
	// monitors' memory is read.
	monitorSettle = 3 * time.Second
	// supervisorTargetKiB and supervisorAnonTargetKiB are issue 16's
	// targets for the idle supervisor: RSS no more than conmon's (2.5
	// MiB), private anonymous memory (RssAnon) at most 1 MiB.
	supervisorTargetKiB     = 2560
	supervisorAnonTargetKiB = 1024
)

// engines lists skiff, then Podman when it is usable.
func (f *fixture) engines() []*engine {
	if f.podman != nil {
		return []*engine{f.skiff, f.podman}
	}
	return []*engine{f.skiff}
}

// inOrder is the engines in iteration i's order: reversed on odd i.
func inOrder(engines []*engine, i int) []*engine {
	if i%2 != 0 && len(engines) > 1 {
		return []*engine{engines[1], engines[0]}
	}
	return engines
}

// rmForce is the command that kills and removes containers at once. Docker's
// and skiff's rm -f send SIGKILL; Podman 4's stops with the container's stop
// timeout first (10 s for a `sleep` that ignores SIGTERM as pid 1), so it is
// given -t 0 to do the same.
func rmForce(e *engine, ids ...string) []string {
	args := []string{"rm", "-f"}
	if e.name == "podman" {
		args = append(args, "-t", "0")
	}
	return append(args, ids...)
}

// runDetached runs `run -d IMAGE sleep 300` and returns the time and the
// container's ID (the last line of stdout).
func runDetached(e *engine, image string) (time.Duration, string, string, error) {
	d, stdout, out, warn, err := timedStdout(e, "run", "-d", image, "sleep", "300")
	if err != nil {
		return d, "", out, err
	}
	id := lastLine(stdout)
	if !isHexID(id) {
		return d, "", fmt.Sprintf("$ %s run -d %s sleep 300\nstdout (no 64-hex ID on the last line):\n%s\nstderr:\n%s", e.name, image, stdout, warn), fmt.Errorf("no container ID")
	}
	return d, id, warn, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// BenchmarkDetachedCycle times `run -d busybox sleep 300` followed by
// `rm -f ID` (Podman: rm -f -t 0), one whole cycle per engine in an
// interleaved loop, and reports the cycle and both halves.
func BenchmarkDetachedCycle(b *testing.B) {
	f := setup(b)
	engines := f.engines()
	type phase struct{ label, suffix string }
	phases := []phase{
		{"run -d busybox sleep 300 + rm -f cycle", "_cycle"},
		{"  run -d busybox sleep 300", "_run_d"},
		{"  rm -f (the running container)", "_rm_f"},
	}
	res := map[string]map[string]*stats{}
	for _, p := range phases {
		res[p.suffix] = map[string]*stats{}
		for _, e := range engines {
			res[p.suffix][e.name] = &stats{}
		}
	}
	n := runs()
	for i := -warmups; i < n; i++ {
		for _, e := range inOrder(engines, i) {
			dRun, id, warn, err := runDetached(e, f.image)
			if err != nil {
				b.Fatalf("%s run -d, cycle %d: %v\n%s", e.name, i, err, warn)
			}
			res["_run_d"][e.name].noteStderr(warn)
			dRm, out, warn, err := timed(e, rmForce(e, id)...)
			if err != nil {
				b.Fatalf("%s rm -f, cycle %d: %v\n%s", e.name, i, err, out)
			}
			res["_rm_f"][e.name].noteStderr(warn)
			if i >= 0 {
				res["_cycle"][e.name].samples = append(res["_cycle"][e.name].samples, dRun+dRm)
				res["_run_d"][e.name].samples = append(res["_run_d"][e.name].samples, dRun)
				res["_rm_f"][e.name].samples = append(res["_rm_f"][e.name].samples, dRm)
			}
		}
	}
	for _, p := range phases {
		reportAs(b, p.label, p.suffix, 0, res[p.suffix])
	}
}

// BenchmarkPsAll times `ps -a` listing psContainers created (never started)
// containers in each engine. Creating and removing them is not timed.
func BenchmarkPsAll(b *testing.B) {
	f := setup(b)
	engines := f.engines()
	ids := map[string][]string{}
	defer func() {
		// Remove them all, even after a failure, in batches.
		for _, e := range engines {
			start := time.Now()
			list := ids[e.name]
			for len(list) > 0 {
				k := min(rmBatch, len(list))
				if out, err := runOnce(e, rmForce(e, list[:k]...)...); err != nil {
					b.Errorf("%s rm -f (cleaning up the ps benchmark): %v\n%s", e.name, err, lastLines(out, 10))
					break
				}
				list = list[k:]
			}
			if len(ids[e.name]) > 0 {
				fmt.Printf("    %s: removed the %d containers in %.1f s (rm -f, %d per call; not timed)\n",
					e.name, len(ids[e.name]), time.Since(start).Seconds(), rmBatch)
			}
		}
	}()
	for _, e := range engines {
		start := time.Now()
		created, err := createMany(e, f.image, psContainers)
		ids[e.name] = created
		if err != nil {
			b.Fatalf("%s create: %v", e.name, err)
		}
		// The listing must hold exactly these containers, or the numbers
		// compare different work.
		_, stdout, out, _, err := timedStdout(e, "ps", "-a", "-q", "--no-trunc")
		if err != nil {
			b.Fatalf("%s ps -a -q: %v\n%s", e.name, err, out)
		}
		if got := len(strings.Fields(stdout)); got != psContainers {
			fmt.Printf("    NOTE: %s ps -a -q lists %d containers, want %d\n", e.name, got, psContainers)
		}
		fmt.Printf("    %s: created %d containers in %.1f s (%d in parallel; not timed)\n",
			e.name, len(created), time.Since(start).Seconds(), createWorkers)
	}
	res := map[string]*stats{}
	for _, e := range engines {
		res[e.name] = &stats{}
	}
	n := runs()
	for i := -warmups; i < n; i++ {
		for _, e := range inOrder(engines, i) {
			d, out, warn, err := timed(e, "ps", "-a")
			if err != nil {
				b.Fatalf("%s ps -a, run %d: %v\n%s", e.name, i, err, out)
			}
			res[e.name].noteStderr(warn)
			if i >= 0 {
				res[e.name].samples = append(res[e.name].samples, d)
			}
		}
	}
	reportAs(b, fmt.Sprintf("ps -a (%d created containers)", psContainers), "", 0, res)
}

// createMany runs `create IMAGE true` n times with createWorkers at a time
// and returns the IDs created, also on error.
func createMany(e *engine, image string, n int) ([]string, error) {
	return createManyArgs(e, n, "create", image, "true")
}

// createManyArgs runs the create command args n times with createWorkers
// at a time and returns the IDs created, also on error.
func createManyArgs(e *engine, n int, args ...string) ([]string, error) {
	var (
		mu   sync.Mutex
		ids  []string
		errs []string
		wg   sync.WaitGroup
	)
	jobs := make(chan int)
	for w := 0; w < createWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				_, stdout, out, _, err := timedStdout(e, args...)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Sprintf("%v\n%s", err, out))
				} else if id := lastLine(stdout); isHexID(id) {
					ids = append(ids, id)
				} else {
					errs = append(errs, fmt.Sprintf("no 64-hex ID on create's last line: %q", stdout))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return ids, fmt.Errorf("%d of the creates failed; the first:\n%s", len(errs), errs[0])
	}
	return ids, nil
}

// memInfo is one process's memory as /proc shows it, in KiB.
type memInfo struct {
	pid               int
	rss, pss, rssAnon int
	rssFile, threads  int
	cmdline           string
}

// readMem reads VmRSS, RssAnon, RssFile and Threads from /proc/PID/status and Pss
// from /proc/PID/smaps_rollup.
func readMem(pid int) (memInfo, error) {
	m := memInfo{pid: pid}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	found := 0
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			m.rss, found = v, found+1
		case "RssAnon:":
			m.rssAnon, found = v, found+1
		case "RssFile:":
			m.rssFile = v
		case "Threads:":
			m.threads = v
		}
	}
	if found != 2 {
		return m, fmt.Errorf("/proc/%d/status has no VmRSS or RssAnon", pid)
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	for _, l := range strings.Split(string(rollup), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			m.pss, _ = strconv.Atoi(f[1])
		}
	}
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	m.cmdline = strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")
	return m, nil
}

// procsByArgs returns the live processes whose argument list satisfies match.
func procsByArgs(match func(args []string) bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// monitorPIDs finds the monitor of container id: skiff's supervisor (an
// argument "__supervise" and the ID), Podman's conmon (argv[0] conmon and
// the ID among its arguments).
func monitorPIDs(e *engine, id string) []int {
	return procsByArgs(func(args []string) bool {
		hasID := false
		for _, a := range args[1:] {
			if strings.Contains(a, id) {
				hasID = true
			}
		}
		if !hasID {
			return false
		}
		if e.name == "podman" {
			return args[0] == "conmon" || strings.HasSuffix(args[0], "/conmon")
		}
		for _, a := range args[1:] {
			if a == "__supervise" {
				return true
			}
		}
		return false
	})
}

func mib(kib int) float64 { return float64(kib) / 1024 }

// BenchmarkMonitorMemory starts one `run -d busybox sleep 300` per engine,
// lets both idle for monitorSettle, and reads the memory of the container's
// monitor process: skiff's supervisor and Podman's conmon.
func BenchmarkMonitorMemory(b *testing.B) {
	f := setup(b)
	engines := f.engines()
	ids := map[string]string{}
	defer func() {
		for _, e := range engines {
			if id := ids[e.name]; id != "" {
				if out, err := runOnce(e, rmForce(e, id)...); err != nil {
					b.Errorf("%s rm -f %s: %v\n%s", e.name, id, err, out)
				}
			}
		}
	}()
	for _, e := range engines {
		_, id, warn, err := runDetached(e, f.image)
		if err != nil {
			b.Fatalf("%s run -d: %v\n%s", e.name, err, warn)
		}
		ids[e.name] = id
	}
	time.Sleep(monitorSettle)
	b.ReportMetric(0, "ns/op")
	mem := readMonitors(b, engines, ids, monitorSettle)
	printMonitorTargets(b, mem, monitorSettle)
	// SKIFF_BENCH_IDLE (a duration past 2m) reads them again after the Go
	// runtime's forced collections (every two minutes once one has run;
	// an idle supervisor runs none).
	if d, err := time.ParseDuration(os.Getenv("SKIFF_BENCH_IDLE")); err == nil && d > monitorSettle {
		time.Sleep(d - monitorSettle)
		printMonitorTargets(b, readMonitors(b, engines, ids, d), d)
	}
}

// readMonitors reads and prints the memory of each engine's monitor of
// container ids[engine].
func readMonitors(b *testing.B, engines []*engine, ids map[string]string, idle time.Duration) map[string]memInfo {
	mem := map[string]memInfo{}
	for _, e := range engines {
		role := map[string]string{"skiff": "supervisor", "podman": "conmon"}[e.name]
		pids := monitorPIDs(e, ids[e.name])
		if len(pids) != 1 {
			b.Fatalf("%s: want one %s process for container %s, found pids %v", e.name, role, ids[e.name][:12], pids)
		}
		m, err := readMem(pids[0])
		if err != nil {
			b.Fatalf("%s %s (pid %d): %v", e.name, role, pids[0], err)
		}
		mem[e.name] = m
		fmt.Printf("idle monitor memory after %s: %-6s %-10s  RSS %6.2f MiB  Pss %6.2f MiB  RssAnon %6.2f MiB  RssFile %6.2f MiB  (%d threads; pid %d: %s)\n",
			idle, e.name, role, mib(m.rss), mib(m.pss), mib(m.rssAnon), mib(m.rssFile), m.threads, m.pid, shorten(m.cmdline, 90))
		b.ReportMetric(float64(m.rss), e.name+"_rss_kib")
		b.ReportMetric(float64(m.pss), e.name+"_pss_kib")
		b.ReportMetric(float64(m.rssAnon), e.name+"_anon_kib")
	}
	return mem
}

// printMonitorTargets prints the supervisor's memory against issue 16's
// targets, with conmon's beside it.
func printMonitorTargets(b *testing.B, mem map[string]memInfo, idle time.Duration) {
	s := mem["skiff"]
	verdict := func(v, target int) string {
		if v <= target {
			return "met"
		}
		return "NOT met"
	}
	conmon := "conmon n/a"
	if p, ok := mem["podman"]; ok {
		conmon = fmt.Sprintf("conmon RSS %.2f MiB, RssAnon %.2f MiB, RssFile %.2f MiB", mib(p.rss), mib(p.rssAnon), mib(p.rssFile))
	}
	fmt.Printf("idle monitor memory after %s: supervisor RSS %.2f MiB (target <= %.2f: %s), RssAnon %.2f MiB (target <= %.2f: %s), RssFile %.2f MiB; %s\n",
		idle, mib(s.rss), mib(supervisorTargetKiB), verdict(s.rss, supervisorTargetKiB),
		mib(s.rssAnon), mib(supervisorAnonTargetKiB), verdict(s.rssAnon, supervisorAnonTargetKiB), mib(s.rssFile), conmon)
	if p, ok := mem["podman"]; ok {
		r := func(a, c int) float64 {
			if c == 0 {
				return 0
			}
			return float64(a) / float64(c)
		}
		fmt.Printf("idle monitor memory after %s: skiff/conmon ratio: RSS %.2f  Pss %.2f  RssAnon %.2f\n", idle, r(s.rss, p.rss), r(s.pss, p.pss), r(s.rssAnon, p.rssAnon))
		b.ReportMetric(r(s.rss, p.rss), "ratio_rss")
		b.ReportMetric(r(s.pss, p.pss), "ratio_pss")
		b.ReportMetric(r(s.rssAnon, p.rssAnon), "ratio_anon")
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
