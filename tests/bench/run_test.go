package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

const (
	// defaultRuns is how many timed runs each engine gets per scenario.
	defaultRuns = 20
	// warmups are untimed runs of each engine before a scenario's loop.
	warmups = 2
	// runTimeout bounds one timed invocation.
	runTimeout = time.Minute
	// target is the goal for skiff's median over Podman's.
	target = 0.30
)

// floorArgs is the kernel's floor for a container start, timed as the user
// in the same loop: every namespace a container gets, /proc mounted, one
// exec. The goals are skiff's run --rm at most floorTarget times it
// (floorTargetNone with --network none), so they hold on any machine.
var floorArgs = []string{"-r", "-p", "-f", "-n", "-m", "-i", "-u", "--mount-proc", "true"}

const (
	floorTarget     = 4.0
	floorTargetNone = 3.0
)

// floorEngine runs the floor's command whatever it is asked to run.
func floorEngine() *engine {
	return &engine{name: "floor", command: func(ctx context.Context, _ ...string) *exec.Cmd {
		return harness.UserCommandContext(ctx, harness.E2E, "unshare", floorArgs...)
	}}
}

// engine is one container engine under measurement.
type engine struct {
	name    string
	command func(ctx context.Context, args ...string) *exec.Cmd
}

// fixture is what every benchmark shares: the image, pulled into both
// engines, and Podman when it is usable.
type fixture struct {
	image   string
	skiff   *engine
	podman  *engine // nil when Podman is unavailable
	missing string  // why podman is nil
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// setup prepares the shared fixture once: Podman installed and configured
// for the test user, and the harness's busybox image pulled by both engines.
func setup(b *testing.B) *fixture {
	b.Helper()
	harness.Need(b)
	fixOnce.Do(func() { fix, fixErr = prepare() })
	if fixErr != nil {
		b.Fatal(fixErr)
	}
	return fix
}

func prepare() (*fixture, error) {
	u := harness.E2E
	img, ok := harness.Images["busybox"]
	if !ok {
		return nil, fmt.Errorf("the harness pushed no busybox image")
	}
	f := &fixture{
		image: img.Ref,
		skiff: &engine{name: "skiff", command: func(ctx context.Context, args ...string) *exec.Cmd {
			return harness.UserCommandContext(ctx, u, harness.Binary, args...)
		}},
	}
	// Podman first: cleaning its state ends every process of the user and
	// removes skiff's store too.
	if f.missing = ensurePodman(); f.missing == "" {
		if err := harness.CleanPodman(u); err != nil {
			return nil, err
		}
		driver := podmanDriver()
		if err := harness.ConfigurePodman(u, driver); err != nil {
			return nil, fmt.Errorf("configuring podman for %s: %w", u.Name, err)
		}
		if _, err := podmanOutput(u, "info"); err != nil && driver != "vfs" {
			// This kernel may not allow overlay mounts in a user namespace.
			fmt.Printf("bench: podman cannot use the %s storage driver here, falling back to vfs: %s\n", driver, lastLines(err.Error(), 2))
			if err := harness.CleanPodman(u); err != nil {
				return nil, err
			}
			if err := harness.ConfigurePodman(u, "vfs"); err != nil {
				return nil, err
			}
		}
		f.podman = &engine{name: "podman", command: func(ctx context.Context, args ...string) *exec.Cmd {
			return harness.PodmanCommand(ctx, u, args...)
		}}
	}
	for _, e := range []*engine{f.skiff, f.podman} {
		if e == nil {
			continue
		}
		if out, err := runOnce(e, "pull", "-q", f.image); err != nil {
			return nil, fmt.Errorf("%s pull %s: %v\n%s", e.name, f.image, err, out)
		}
	}

	fmt.Printf("bench: image %s, engines run as %s (uid %d), %d timed runs each after %d warm-ups, order alternating\n",
		f.image, u.Name, u.UID, runs(), warmups)
	version := "(skiff version failed)"
	if out, err := harness.Command(u, "version", "--format", "{{.Client.Version}}").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	fmt.Printf("bench: skiff %s (storage %s)\n", version, storageDriver(u.DataDir()))
	if f.podman != nil {
		fmt.Printf("bench: reference %s\n", podmanDescription(u))
	} else {
		fmt.Printf("bench: PODMAN UNAVAILABLE, reporting skiff only: %s\n", f.missing)
	}
	return f, nil
}

// storageDriver names the graph driver of the containers/storage store
// under dataDir from its DRIVER-images directory, for the header only.
func storageDriver(dataDir string) string {
	matches, _ := filepath.Glob(filepath.Join(dataDir, "storage", "*-images"))
	if len(matches) != 1 {
		return "unknown"
	}
	return strings.TrimSuffix(filepath.Base(matches[0]), "-images")
}

// runs is the number of timed runs per engine and scenario.
func runs() int {
	if s := os.Getenv("SKIFF_BENCH_RUNS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return defaultRuns
}

// runOnce runs e with args and returns its combined output on failure.
func runOnce(e *engine, args ...string) (string, error) {
	_, out, _, err := timed(e, args...)
	return out, err
}

// timed runs e with args once and returns its wall time, from start to exit.
// Output goes to files, not pipes, so a helper that keeps a copy of them open
// cannot stretch the measurement. A non-zero exit is an error carrying the
// output; on success it returns what the engine wrote to stderr.
func timed(e *engine, args ...string) (d time.Duration, out, stderrText string, err error) {
	d, _, out, stderrText, err = timedStdout(e, args...)
	return d, out, stderrText, err
}

// timedStdout is timed that also returns what a successful run wrote to
// stdout (run -d and create print the new container's ID there).
func timedStdout(e *engine, args ...string) (d time.Duration, stdoutText, out, stderrText string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	stdout, err := os.CreateTemp("", "skiff-bench-out-")
	if err != nil {
		return 0, "", "", "", err
	}
	defer os.Remove(stdout.Name())
	defer stdout.Close()
	stderr, err := os.CreateTemp("", "skiff-bench-err-")
	if err != nil {
		return 0, "", "", "", err
	}
	defer os.Remove(stderr.Name())
	defer stderr.Close()

	cmd := e.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	d = time.Since(start)
	errB, _ := os.ReadFile(stderr.Name())
	outB, _ := os.ReadFile(stdout.Name())
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %s: %w", runTimeout, err)
		}
		return d, "", fmt.Sprintf("$ %s %s\nstdout:\n%s\nstderr:\n%s", e.name, strings.Join(args, " "), outB, errB), "", err
	}
	return d, string(outB), "", string(errB), nil
}

// stats are the timings of one engine in one scenario, and the distinct
// stderr lines of its successful runs (warnings).
type stats struct {
	samples  []time.Duration
	stderr   []string
	stderrOf map[string]bool
}

func (s *stats) noteStderr(text string) {
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l = strings.TrimSpace(l); l == "" || s.stderrOf[l] {
			continue
		}
		if s.stderrOf == nil {
			s.stderrOf = map[string]bool{}
		}
		s.stderrOf[l] = true
		s.stderr = append(s.stderr, l)
	}
}

func (s *stats) median() time.Duration {
	v := s.sorted()
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// p90 is the 90th percentile by nearest rank.
func (s *stats) p90() time.Duration {
	v := s.sorted()
	if len(v) == 0 {
		return 0
	}
	i := (len(v)*9+9)/10 - 1
	return v[i]
}

func (s *stats) sorted() []time.Duration {
	v := append([]time.Duration(nil), s.samples...)
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure runs `ENGINE run --rm [extra...] IMAGE true` for every engine in
// one interleaved loop: warm-ups first, then runs() timed iterations whose
// order of engines alternates. Any failed run fails the benchmark.
func measure(b *testing.B, f *fixture, more []*engine, extra ...string) map[string]*stats {
	b.Helper()
	engines := []*engine{f.skiff}
	if f.podman != nil {
		engines = append(engines, f.podman)
	}
	engines = append(engines, more...)
	args := append(append([]string{"run", "--rm"}, extra...), f.image, "true")
	res := map[string]*stats{}
	for _, e := range engines {
		res[e.name] = &stats{}
	}
	n := runs()
	for i := -warmups; i < n; i++ {
		// The order rotates, so no engine always follows the same one.
		k := (i + warmups) % len(engines)
		order := append(append([]*engine(nil), engines[k:]...), engines[:k]...)
		for _, e := range order {
			d, out, warn, err := timed(e, args...)
			if err != nil {
				b.Fatalf("%s run %d: %v\n%s", e.name, i, err, out)
			}
			res[e.name].noteStderr(warn)
			if i >= 0 {
				res[e.name].samples = append(res[e.name].samples, d)
			}
		}
	}
	return res
}

// report prints one line for a scenario and reports its metrics.
func report(b *testing.B, label string, res map[string]*stats) {
	b.Helper()
	reportAs(b, label, "", target, res)
}

// reportAs is report for a benchmark that reports several measurements:
// suffix tells their metrics apart (skiff<suffix>_ms, ratio<suffix>, ...),
// and tgt is the ratio's target, or 0 when the issue sets none.
func reportAs(b *testing.B, label, suffix string, tgt float64, res map[string]*stats) {
	b.Helper()
	s := res["skiff"]
	line := fmt.Sprintf("%-40s (%d runs, median / p90):  skiff %4.0f ms / %4.0f ms", label, len(s.samples), ms(s.median()), ms(s.p90()))
	b.ReportMetric(0, "ns/op") // the whole loop's time per op means nothing here
	b.ReportMetric(ms(s.median()), "skiff"+suffix+"_ms")
	b.ReportMetric(ms(s.p90()), "skiff"+suffix+"_p90_ms")
	if p, ok := res["podman"]; ok {
		ratio := float64(s.median()) / float64(p.median())
		line += fmt.Sprintf("   podman %4.0f ms / %4.0f ms   ratio %.2f", ms(p.median()), ms(p.p90()), ratio)
		if tgt > 0 {
			line += fmt.Sprintf(" (target <= %.2f)", tgt)
		}
		b.ReportMetric(ms(p.median()), "podman"+suffix+"_ms")
		b.ReportMetric(ms(p.p90()), "podman"+suffix+"_p90_ms")
		b.ReportMetric(ratio, "ratio"+suffix)
	} else {
		line += "   podman n/a"
	}
	fmt.Println(line)
	for _, name := range []string{"skiff", "podman"} {
		if st, ok := res[name]; ok {
			for _, l := range st.stderr {
				fmt.Printf("    %s stderr (successful runs): %s\n", name, l)
			}
		}
	}
}

// reportFloor prints skiff's median as a multiple of the kernel's floor.
func reportFloor(b *testing.B, res map[string]*stats, tgt float64) {
	b.Helper()
	s, fl := res["skiff"], res["floor"]
	if s == nil || fl == nil || fl.median() == 0 {
		return
	}
	x := float64(s.median()) / float64(fl.median())
	fmt.Printf("    kernel floor (unshare %s) %.1f ms: skiff = %.1fx the floor (target <= %.0fx)\n", strings.Join(floorArgs, " "), ms(fl.median()), x, tgt)
	b.ReportMetric(ms(fl.median()), "floor_ms")
	b.ReportMetric(x, "x_floor")
}

// BenchmarkRunRm times `run --rm busybox true` end to end (CLI start to exit:
// user namespace entry, container creation, start, wait, removal) for skiff
// and Podman, with the default network (both slirp4netns) and with
// --network none, which takes the network setup out.
func BenchmarkRunRm(b *testing.B) {
	f := setup(b)
	results := map[string]map[string]*stats{}
	for _, sc := range []struct {
		name, label string
		extra       []string
		floor       float64
	}{
		{"default", "run --rm busybox true", nil, floorTarget},
		{"network-none", "run --rm --network none busybox true", []string{"--network", "none"}, floorTargetNone},
	} {
		b.Run(sc.name, func(b *testing.B) {
			// The loop is the measurement; -benchtime 1x runs it once.
			res := measure(b, f, []*engine{floorEngine()}, sc.extra...)
			report(b, sc.label, res)
			reportFloor(b, res, sc.floor)
			results[sc.name] = res
		})
	}
	def, none := results["default"], results["network-none"]
	if def == nil || none == nil {
		return
	}
	line := "network setup cost (median default - median none):"
	for _, name := range []string{"skiff", "podman"} {
		if def[name] != nil && none[name] != nil {
			line += fmt.Sprintf("  %s %+.0f ms", name, ms(def[name].median()-none[name].median()))
		}
	}
	fmt.Println(line)
}
