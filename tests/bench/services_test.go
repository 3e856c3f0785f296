package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of services (`skiff service …`). Podman has no services, so
// where a reference helps it is the nearest thing Podman does, and the
// line says so:
//
//   - BenchmarkServiceCreate: from `service create -d --replicas 10` to
//     the 10 replicas' commands running, next to a loop of 10 `run -d`
//     (Podman's, and skiff's own);
//   - BenchmarkServiceReplace: from kill -9 of a replica's main process to
//     its replacement's command running, next to Podman restarting a
//     `--restart always` container killed the same way (and skiff's own
//     such container);
//   - BenchmarkServicePort: requests/s through a service's published port
//     with 3 replicas, next to one skiff container's `-p` port (skiff
//     both; busybox httpd, a new connection per request), and the memory
//     of the service's keeper next to a replica's supervisor.
//
// "Running" is seen from the host: a process `sleep MARKER` with a marker
// unique to the scenario exists, so both engines are measured the same way
// and polling costs no engine command.

const (
	// defaultServiceRuns is how many timed runs the create and replace
	// scenarios get per engine (SKIFF_BENCH_SERVICE_RUNS).
	defaultServiceRuns = 3
	// serviceReplicas is how many replicas the create scenario starts.
	serviceReplicas = 10
	// serviceWait bounds how long replicas may take to run.
	serviceWait = 2 * time.Minute
	// requestWorkers and requestWindow shape one round of requests.
	requestWorkers = 8
	requestWindow  = 2 * time.Second
	requestRounds  = 3
)

// idleMarked is a container command that runs `sleep MARKER` until SIGTERM
// (trapped, so stopping is quick) and whose sleep the host can find.
func idleMarked(marker string) []string {
	return []string{"sh", "-c", "trap 'exit 0' TERM; sleep " + marker + " & wait"}
}

var markerSeq atomic.Int64

// newMarker is a sleep duration unique to this process and call.
func newMarker() string {
	return strconv.FormatInt(4_000_000+int64(os.Getpid()%1000)*1000+markerSeq.Add(1), 10)
}

// sleepers returns the pids of live processes `sleep MARKER`.
func sleepers(marker string) []int {
	var live []int
	for _, pid := range procsByArgs(func(args []string) bool {
		return len(args) == 2 && (args[0] == "sleep" || strings.HasSuffix(args[0], "/sleep")) && args[1] == marker
	}) {
		if alive(pid) {
			live = append(live, pid)
		}
	}
	return live
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitSleepers polls /proc every 5 ms until cond holds for the marker's
// sleepers, and returns the time it was first seen and the pids.
func waitSleepers(marker string, within time.Duration, cond func([]int) bool) (time.Time, []int, error) {
	deadline := time.Now().Add(within)
	for {
		pids := sleepers(marker)
		if cond(pids) {
			return time.Now(), pids, nil
		}
		if time.Now().After(deadline) {
			return time.Now(), pids, fmt.Errorf("not within %s (sleep %s processes: %v)", within, marker, pids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func serviceRuns() int {
	n, _ := envInt("SKIFF_BENCH_SERVICE_RUNS", defaultServiceRuns)
	return n
}

// skiffOK runs skiff and fails the benchmark on an error.
func skiffOK(b *testing.B, f *fixture, args ...string) string {
	b.Helper()
	_, stdout, out, _, err := timedStdout(f.skiff, args...)
	if err != nil {
		b.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return stdout
}

// serviceRm removes a service, reporting (not failing on) an error.
func serviceRm(b *testing.B, f *fixture, name string) {
	if out, err := runOnce(f.skiff, "service", "rm", name); err != nil {
		b.Errorf("skiff service rm %s: %v\n%s", name, err, lastLines(out, 10))
	}
}

// BenchmarkServiceCreate times `service create -d --replicas 10` until the
// 10 replicas' commands run, next to 10 `run -d` in a loop until the 10th
// container's command runs, for Podman (the nearest thing it has to a
// service) and for skiff itself. Removing them is not timed.
func BenchmarkServiceCreate(b *testing.B) {
	f := setup(b)
	engines := f.engines()
	res := map[string]map[string]*stats{"_service": {"skiff": {}}, "_run_loop": {}}
	for _, e := range engines {
		res["_run_loop"][e.name] = &stats{}
	}
	n := serviceRuns()
	for i := -1; i < n; i++ {
		// skiff's service, then the run -d loops in alternating order.
		{
			marker := newMarker()
			name := "bench-svc-" + marker
			args := append([]string{"service", "create", "-d", "--replicas", strconv.Itoa(serviceReplicas), "--name", name, f.image}, idleMarked(marker)...)
			start := time.Now()
			_, _, out, warn, err := timedStdout(f.skiff, args...)
			if err != nil {
				b.Fatalf("skiff service create, run %d: %v\n%s", i, err, out)
			}
			at, pids, err := waitSleepers(marker, serviceWait, func(p []int) bool { return len(p) >= serviceReplicas })
			if err != nil {
				serviceRm(b, f, name)
				b.Fatalf("skiff service %s: %d replicas running: %v", name, len(pids), err)
			}
			res["_service"]["skiff"].noteStderr(warn)
			if i >= 0 {
				res["_service"]["skiff"].samples = append(res["_service"]["skiff"].samples, at.Sub(start))
			}
			serviceRm(b, f, name)
		}
		for _, e := range inOrder(engines, i) {
			marker := newMarker()
			var ids []string
			start := time.Now()
			for k := 0; k < serviceReplicas; k++ {
				args := append([]string{"run", "-d", f.image}, idleMarked(marker)...)
				_, stdout, out, warn, err := timedStdout(e, args...)
				if err != nil {
					b.Fatalf("%s run -d, loop %d, container %d: %v\n%s", e.name, i, k, err, out)
				}
				res["_run_loop"][e.name].noteStderr(warn)
				ids = append(ids, lastLine(stdout))
			}
			at, pids, err := waitSleepers(marker, serviceWait, func(p []int) bool { return len(p) >= serviceReplicas })
			if err != nil {
				b.Fatalf("%s run -d x%d: %d running: %v", e.name, serviceReplicas, len(pids), err)
			}
			if i >= 0 {
				res["_run_loop"][e.name].samples = append(res["_run_loop"][e.name].samples, at.Sub(start))
			}
			if out, err := runOnce(e, rmForce(e, ids...)...); err != nil {
				b.Errorf("%s rm -f: %v\n%s", e.name, err, lastLines(out, 10))
			}
		}
	}
	// The service next to Podman's loop: the nearest thing Podman has.
	svc := map[string]*stats{"skiff": res["_service"]["skiff"]}
	if p, ok := res["_run_loop"]["podman"]; ok {
		svc["podman"] = p
	}
	reportAs(b, fmt.Sprintf("service create -d --replicas %d, all running (podman: run -d x%d, no services)", serviceReplicas, serviceReplicas), "_service", 0, svc)
	reportAs(b, fmt.Sprintf("run -d x%d in a loop, all running", serviceReplicas), "_run_loop", 0, res["_run_loop"])
	if s, l := res["_service"]["skiff"], res["_run_loop"]["skiff"]; len(s.samples) > 0 && len(l.samples) > 0 {
		fmt.Printf("    skiff: the service starts its %d replicas in %.2f x the time of its own run -d loop\n", serviceReplicas, float64(s.median())/float64(l.median()))
	}
}

// BenchmarkServiceReplace kills (SIGKILL, from the host) the main process
// of the replica of a new 1-replica service and times until the
// replacement's command runs. Podman has no services: the nearest thing
// is a new `run -d --restart always` container killed the same way and
// restarted, which skiff's own such container is also timed against (its
// supervisor restarts it), so the lines tell the service's cost from the
// engines'. Every kill is the first failure of a fresh service or
// container, so no restart back-off has built up (skiff, as Docker, doubles
// the delay after each failure of a replica or container that ran less
// than 10 s); creating and removing them is not timed. One warm-up round,
// then the timed ones, the subjects' order rotating.
func BenchmarkServiceReplace(b *testing.B) {
	f := setup(b)
	type subject struct {
		key string // skiff-service, skiff-restart, podman-restart
		// start makes a fresh service or container running `sleep
		// marker`, and returns the pid to kill and how to remove it.
		start func(marker string) (pid int, remove func(), err error)
	}
	inspectPid := func(e *engine, ref string) (int, error) {
		_, stdout, out, _, err := timedStdout(e, "inspect", "-f", "{{.State.Pid}}", ref)
		if err != nil {
			return 0, fmt.Errorf("%v\n%s", err, out)
		}
		return strconv.Atoi(strings.TrimSpace(stdout))
	}
	subjects := []*subject{{key: "skiff-service", start: func(m string) (int, func(), error) {
		name := "bench-replace-" + m
		args := append([]string{"service", "create", "--replicas", "1", "--name", name, f.image}, idleMarked(m)...)
		remove := func() { serviceRm(b, f, name) }
		if out, err := runOnce(f.skiff, args...); err != nil {
			return 0, remove, fmt.Errorf("skiff service create: %v\n%s", err, out)
		}
		if _, _, err := waitSleepers(m, serviceWait, func(p []int) bool { return len(p) == 1 }); err != nil {
			return 0, remove, err
		}
		pid, err := inspectPid(f.skiff, name+".1")
		return pid, remove, err
	}}}
	for _, e := range f.engines() {
		e := e
		subjects = append(subjects, &subject{key: e.name + "-restart", start: func(m string) (int, func(), error) {
			args := append([]string{"run", "-d", "--restart", "always", f.image}, idleMarked(m)...)
			_, stdout, out, _, err := timedStdout(e, args...)
			if err != nil {
				return 0, func() {}, fmt.Errorf("%s run -d --restart always: %v\n%s", e.name, err, out)
			}
			id := lastLine(stdout)
			remove := func() {
				if out, err := runOnce(e, rmForce(e, id)...); err != nil {
					b.Errorf("%s rm -f: %v\n%s", e.name, err, lastLines(out, 10))
				}
			}
			if _, _, err := waitSleepers(m, serviceWait, func(p []int) bool { return len(p) == 1 }); err != nil {
				return 0, remove, err
			}
			pid, err := inspectPid(e, id)
			return pid, remove, err
		}})
	}

	res := map[string]*stats{}
	all := map[string][]string{}
	for _, s := range subjects {
		res[s.key] = &stats{}
	}
	n := 2 * serviceRuns()
	for i := -1; i < n; i++ {
		for k := range subjects {
			s := subjects[(i+1+k)%len(subjects)]
			if res[s.key] == nil {
				continue // given up on
			}
			m := newMarker()
			pid, remove, err := s.start(m)
			if err != nil || pid <= 0 {
				remove()
				b.Fatalf("%s, round %d: pid %d: %v", s.key, i, pid, err)
			}
			before := sleepers(m)
			start := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				remove()
				b.Fatalf("%s: kill -9 %d: %v", s.key, pid, err)
			}
			// Gone: the killed one's sleep has ended.
			goneAt, _, _ := waitSleepers(m, 60*time.Second, func(p []int) bool { return len(p) == 0 || p[0] != before[0] })
			// Replaced: one sleeper again, a new one.
			at, pids, err := waitSleepers(m, 60*time.Second, func(p []int) bool { return len(p) == 1 && p[0] != before[0] })
			remove()
			if err != nil {
				if s.key == "podman-restart" {
					fmt.Printf("    NOTE: podman did not restart its --restart always container after kill -9: %v\n", err)
					delete(res, s.key)
					continue
				}
				b.Fatalf("%s: not replaced after kill -9 of %d (round %d): %v (now %v)", s.key, pid, i, err, pids)
			}
			if i >= 0 {
				res[s.key].samples = append(res[s.key].samples, at.Sub(start))
				all[s.key] = append(all[s.key], fmt.Sprintf("%.0f (gone %.0f)", ms(at.Sub(start)), ms(goneAt.Sub(start))))
			}
		}
	}
	svc := map[string]*stats{"skiff": res["skiff-service"]}
	if p, ok := res["podman-restart"]; ok {
		svc["podman"] = p
	}
	reportAs(b, "kill -9 a service replica until replaced (podman: a --restart always container, no services)", "_replace", 0, svc)
	restart := map[string]*stats{"skiff": res["skiff-restart"]}
	if p, ok := res["podman-restart"]; ok {
		restart["podman"] = p
	}
	reportAs(b, "kill -9 a --restart always container until it runs again", "_restart", 0, restart)
	for _, s := range subjects {
		if v, ok := all[s.key]; ok {
			fmt.Printf("    %s, ms from the kill until running (until the killed one's process was gone): %s\n", s.key, strings.Join(v, ", "))
		}
	}
}

// BenchmarkServicePort measures requests/s through a service's published
// port (3 replicas, the keeper balancing) next to one skiff container's
// `-p` port, both busybox httpd answering a small page on a new connection
// per request (httpd closes it), requestWorkers clients at once for
// requestWindow per round, the targets' order rotating. It also reports
// the keeper's memory (idle, and after the load) next to a replica's
// supervisor.
func BenchmarkServicePort(b *testing.B) {
	f := setup(b)
	const script = "mkdir -p /www; echo hello > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
	svcPort, err := freeLoopbackPort()
	if err != nil {
		b.Fatal(err)
	}
	ctrPort, err := freeLoopbackPort()
	if err != nil {
		b.Fatal(err)
	}
	name := "bench-port-" + newMarker()
	svcID := strings.TrimSpace(skiffOK(b, f, "service", "create", "--replicas", "3", "-p", fmt.Sprintf("%d:80", svcPort), "--name", name, f.image, "sh", "-c", script))
	defer serviceRm(b, f, name)
	ctrID := lastLine(skiffOK(b, f, "run", "-d", "-p", fmt.Sprintf("%d:80", ctrPort), f.image, "sh", "-c", script))
	defer func() {
		if out, err := runOnce(f.skiff, "rm", "-f", ctrID); err != nil {
			b.Errorf("skiff rm -f: %v\n%s", err, lastLines(out, 10))
		}
	}()
	targets := []struct{ name, url string }{
		{"service (3 replicas)", fmt.Sprintf("http://127.0.0.1:%d/", svcPort)},
		{"container -p", fmt.Sprintf("http://127.0.0.1:%d/", ctrPort)},
	}
	for _, tg := range targets {
		if err := waitHTTPBody(tg.url, "hello\n", 30*time.Second); err != nil {
			b.Fatalf("%s: %v", tg.name, err)
		}
	}

	// The keeper and a replica's supervisor, idle.
	time.Sleep(monitorSettle)
	keeper := procsByArgs(func(args []string) bool {
		role, id := false, false
		for _, a := range args {
			role = role || strings.Contains(a, "__keeper")
			id = id || (svcID != "" && strings.Contains(a, svcID))
		}
		return role && id
	})
	_, stdout, out, _, err := timedStdout(f.skiff, "inspect", "-f", "{{.Id}}", name+".1")
	if err != nil {
		b.Fatalf("skiff inspect %s.1: %v\n%s", name, err, out)
	}
	sup := monitorPIDs(f.skiff, strings.TrimSpace(stdout))
	memLine := func(when string) {
		line := "service keeper memory, " + when + ":"
		if len(keeper) == 1 {
			if m, err := readMem(keeper[0]); err == nil {
				line += fmt.Sprintf("  keeper RSS %.2f MiB Pss %.2f MiB RssAnon %.2f MiB (%d threads)", mib(m.rss), mib(m.pss), mib(m.rssAnon), m.threads)
				b.ReportMetric(float64(m.rss), "keeper_"+strings.Fields(when)[0]+"_rss_kib")
			} else {
				line += "  keeper: " + err.Error()
			}
		} else {
			line += fmt.Sprintf("  keeper: want one process with __keeper and %s, found %v", svcID, keeper)
		}
		if len(sup) == 1 {
			if m, err := readMem(sup[0]); err == nil {
				line += fmt.Sprintf("   next to a replica's supervisor RSS %.2f MiB Pss %.2f MiB", mib(m.rss), mib(m.pss))
				b.ReportMetric(float64(m.rss), "supervisor_"+strings.Fields(when)[0]+"_rss_kib")
			}
		} else {
			line += fmt.Sprintf("   supervisor: found %v", sup)
		}
		fmt.Println(line)
	}
	memLine("idle after " + monitorSettle.String())

	// Warm-up, then the rounds.
	for _, tg := range targets {
		if _, errs := requestLoad(tg.url, requestWorkers, 500*time.Millisecond); errs > 0 {
			fmt.Printf("    %s: %d failed requests in the warm-up\n", tg.name, errs)
		}
	}
	rates := map[string][]float64{}
	failed := map[string]int{}
	for i := 0; i < requestRounds; i++ {
		for k := range targets {
			tg := targets[(i+k)%len(targets)]
			n, errs := requestLoad(tg.url, requestWorkers, requestWindow)
			rates[tg.name] = append(rates[tg.name], float64(n)/requestWindow.Seconds())
			failed[tg.name] += errs
		}
	}
	b.ReportMetric(0, "ns/op")
	s, c := medianRate(rates[targets[0].name]), medianRate(rates[targets[1].name])
	b.ReportMetric(s, "service_req/s")
	b.ReportMetric(c, "container_req/s")
	line := fmt.Sprintf("HTTP requests/s, %d clients, new connection each (%d x %s, median):  service port (3 replicas) %6.0f   one container's -p port %6.0f",
		requestWorkers, requestRounds, requestWindow, s, c)
	if c > 0 {
		line += fmt.Sprintf("   service/container %.2f", s/c)
		b.ReportMetric(s/c, "ratio_service_container")
	}
	fmt.Println(line)
	for _, tg := range targets {
		if failed[tg.name] > 0 {
			fmt.Printf("    %s: %d requests failed\n", tg.name, failed[tg.name])
		}
	}
	memLine("after the load")
}

// benchHTTP is the clients' HTTP client: a new connection per request.
var benchHTTP = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, MaxIdleConnsPerHost: -1},
}

// waitHTTPBody waits until url answers 200 with body.
func waitHTTPBody(url, body string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := benchHTTP.Get(url)
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(data) == body {
				return nil
			}
			last = fmt.Sprintf("%s %q", resp.Status, data)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %q within %s: %s", url, body, within, last)
}

// requestLoad runs workers clients against url for d and returns the
// requests answered 200 and the failed ones.
func requestLoad(url string, workers int, d time.Duration) (ok, failed int) {
	var okN, failN atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				resp, err := benchHTTP.Get(url)
				if err != nil {
					failN.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					okN.Add(1)
				} else {
					failN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(okN.Load()), int(failN.Load())
}
