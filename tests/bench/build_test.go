package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Building an image from a Dockerfile: skiff build against podman build
// (buildah), both as the test user with their default settings (layer cache
// on, default network for RUN). The Dockerfile has ten steps on the harness's
// busybox image, three of them RUN steps that start a container each.

const (
	// defaultBuildRuns is how many timed builds of each kind each engine
	// gets, after one untimed warm-up of each.
	defaultBuildRuns = 5
	// buildTarget is the goal for skiff's median cached rebuild
	// over Podman's.
	buildTarget = 0.50
	// buildSteps is the number of instructions in buildDockerfile.
	buildSteps = 10
	// buildCacheable is how many of its steps are RUN or COPY, which both
	// engines take from the cache on an unchanged rebuild (Podman also
	// prints a hit for every metadata step).
	buildCacheable = 4
	// buildTag names the built image in both stores.
	buildTag = "localhost/bench-build:latest"
)

// buildDockerfile is the benchmark's Dockerfile; %s is the base image.
const buildDockerfile = `FROM %s
ARG GREETING=hello
ENV MODE=bench
WORKDIR /app
COPY files/ ./files/
RUN echo "$GREETING from $MODE" > greeting.txt
RUN cat files/*.txt > combined.txt && wc -c combined.txt > size.txt
RUN mkdir -p /data && for i in 1 2 3 4 5 6 7 8; do echo "line $i" >> /data/lines.txt; done
LABEL org.skiff.bench=build
CMD ["cat", "/app/greeting.txt"]
`

// buildFiles are the small context files the COPY step takes.
var buildFiles = map[string]string{
	"files/one.txt":   "one\n",
	"files/two.txt":   strings.Repeat("two ", 256) + "\n",
	"files/three.txt": strings.Repeat("three\n", 512),
}

// buildRuns is the number of timed builds of each kind per engine
// (SKIFF_BENCH_BUILD_RUNS; SKIFF_BENCH_RUNS does not apply).
func buildRuns() int {
	n, _ := envInt("SKIFF_BENCH_BUILD_RUNS", defaultBuildRuns)
	return n
}

// buildContextDir writes the Dockerfile and the context files into a fresh
// directory the test user owns. Both engines build from it; neither writes
// into it.
func buildContextDir(b *testing.B, image string) string {
	b.Helper()
	u := harness.E2E
	dir := harness.UserDir(b, u)
	files := map[string]string{"Dockerfile": fmt.Sprintf(buildDockerfile, image)}
	for p, c := range buildFiles {
		files[p] = c
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if d := filepath.Dir(full); d != dir {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Chown(d, u.UID, u.GID); err != nil {
				b.Fatal(err)
			}
		}
		harness.WriteUserFile(b, u, full, []byte(c))
	}
	return dir
}

// buildArgs is the build command line, the same for both engines: their
// default network, pull policy and (Podman) image format.
func buildArgs(noCache bool, iidfile, dir string) []string {
	args := []string{"build", "-t", buildTag, "--iidfile", iidfile}
	if noCache {
		args = append(args, "--no-cache")
	}
	return append(args, dir)
}

// buildResult is what one build printed that the benchmark checks.
type buildResult struct {
	hits int    // "--> Using cache" lines
	id   string // from --iidfile
}

// timedBuild runs one build and checks its output: every step ran
// (STEP 10/10), and a --no-cache build took nothing from the cache while an
// unchanged rebuild took at least every RUN and COPY from it.
func timedBuild(b *testing.B, e *engine, noCache bool, iidfile, dir string, i int) (time.Duration, buildResult, string) {
	b.Helper()
	if err := os.Remove(iidfile); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	args := buildArgs(noCache, iidfile, dir)
	syscall.Sync() // the previous build's writeback stays out of this one
	d, stdout, out, warn, err := timedStdout(e, args...)
	if err != nil {
		b.Fatalf("%s build (run %d): %v\n%s", e.name, i, err, out)
	}
	all := stdout + "\n" + warn
	kind := "unchanged rebuild"
	if noCache {
		kind = "--no-cache build"
	}
	res := buildResult{hits: strings.Count(all, "--> Using cache")}
	if !strings.Contains(all, fmt.Sprintf("STEP %d/%d: CMD", buildSteps, buildSteps)) {
		b.Fatalf("%s %s (run %d) printed no \"STEP %d/%d: CMD\":\n%s", e.name, kind, i, buildSteps, buildSteps, all)
	}
	if noCache && res.hits != 0 {
		b.Fatalf("%s --no-cache build (run %d) took %d steps from the cache:\n%s", e.name, i, res.hits, all)
	}
	if !noCache && res.hits < buildCacheable {
		b.Fatalf("%s unchanged rebuild (run %d) took only %d steps from the cache, want at least %d (3 RUN, 1 COPY):\n%s",
			e.name, i, res.hits, buildCacheable, all)
	}
	id, err := os.ReadFile(iidfile)
	if err != nil {
		b.Fatalf("%s build (run %d): --iidfile: %v", e.name, i, err)
	}
	res.id = strings.TrimPrefix(strings.TrimSpace(string(id)), "sha256:")
	// Podman writes its step output to stdout too, and only warnings to
	// stderr; skiff writes everything to stdout.
	return d, res, warn
}

// BenchmarkBuild times a full build (--no-cache) of the ten-step Dockerfile
// and an unchanged rebuild (every step from the cache), skiff against
// podman build, in one interleaved loop.
func BenchmarkBuild(b *testing.B) {
	f := setup(b)
	engines := f.engines()
	u := harness.E2E
	dir := buildContextDir(b, f.image)
	iidDir := harness.UserDir(b, u)
	tagged := map[string]bool{}
	defer func() {
		// Leave both stores as the other benchmarks expect them: the tag
		// and the images the builds left behind removed.
		for _, e := range engines {
			cmds := [][]string{{"image", "prune", "-f"}}
			if tagged[e.name] {
				cmds = append([][]string{{"rmi", "-f", buildTag}}, cmds...)
			}
			for _, args := range cmds {
				if out, err := runOnce(e, args...); err != nil {
					b.Errorf("%s %s (cleaning up): %v\n%s", e.name, strings.Join(args, " "), err, lastLines(out, 5))
				}
			}
		}
	}()

	full, cached := map[string]*stats{}, map[string]*stats{}
	hits := map[string]int{}
	sameID, idNotes := map[string]int{}, map[string]string{}
	rebuildIDs := map[string]map[string]bool{}
	for _, e := range engines {
		full[e.name], cached[e.name] = &stats{}, &stats{}
	}
	n := buildRuns()
	start := time.Now()
	for i := -1; i < n; i++ { // i = -1: the warm-up, untimed
		for _, e := range inOrder(engines, i) {
			iid := filepath.Join(iidDir, e.name+".iid")
			dFull, rFull, warn := timedBuild(b, e, true, iid, dir, i)
			tagged[e.name] = true
			full[e.name].noteStderr(warn)
			dCached, rCached, warn := timedBuild(b, e, false, iid, dir, i)
			cached[e.name].noteStderr(warn)
			if i < 0 {
				continue
			}
			full[e.name].samples = append(full[e.name].samples, dFull)
			cached[e.name].samples = append(cached[e.name].samples, dCached)
			hits[e.name] = rCached.hits
			if rebuildIDs[e.name] == nil {
				rebuildIDs[e.name] = map[string]bool{}
			}
			rebuildIDs[e.name][rCached.id] = true
			if rCached.id == rFull.id {
				sameID[e.name]++
			} else if idNotes[e.name] == "" {
				idNotes[e.name] = fmt.Sprintf("run %d: --no-cache build %.12s, rebuild %.12s", i, rFull.id, rCached.id)
			}
		}
	}
	loop := time.Since(start)
	checkBuiltImage(b, engines)

	b.Run("no-cache", func(b *testing.B) {
		reportAs(b, "build --no-cache (10 steps, 3 RUN)", "_full", 0, full)
	})
	b.Run("cached", func(b *testing.B) {
		reportAs(b, "build, unchanged rebuild (all cached)", "_cached", buildTarget, cached)
	})
	var each, hitLine, idLine, distinct []string
	for _, e := range engines {
		var v []string
		for k := range full[e.name].samples {
			v = append(v, fmt.Sprintf("%.0f/%.0f", ms(full[e.name].samples[k]), ms(cached[e.name].samples[k])))
		}
		each = append(each, e.name+" "+strings.Join(v, " "))
		hitLine = append(hitLine, fmt.Sprintf("%s %d", e.name, hits[e.name]))
		idLine = append(idLine, fmt.Sprintf("%s %d/%d", e.name, sameID[e.name], n))
		distinct = append(distinct, fmt.Sprintf("%s %d", e.name, len(rebuildIDs[e.name])))
	}
	fmt.Printf("    each run, full/cached ms: %s   (loop with 1 warm-up each: %.1f s)\n", strings.Join(each, "   "), loop.Seconds())
	fmt.Printf("    cache hits printed by the rebuild: %s;  rebuild kept the full build's image ID: %s;  distinct rebuild IDs: %s\n",
		strings.Join(hitLine, "  "), strings.Join(idLine, "  "), strings.Join(distinct, "  "))
	for _, e := range engines {
		if note := idNotes[e.name]; note != "" {
			fmt.Printf("    NOTE: %s's rebuild gave another image ID (%s)\n", e.name, note)
		}
	}
}

// buildCheck is a command run in the built image (untimed), and the words
// it prints when every step did its work (GREETING is a build arg, so it is
// not in the image's environment).
var (
	buildCheck     = []string{"sh", "-c", "cat greeting.txt size.txt; wc -l < /data/lines.txt; ls files; echo $MODE $GREETING"}
	buildCheckWant = "hello from bench 4101 combined.txt 8 one.txt three.txt two.txt bench" // words, spaced
)

// checkBuiltImage runs buildCheck in each engine's last build, so a fast
// build is known to have done the same work as the reference's.
func checkBuiltImage(b *testing.B, engines []*engine) {
	b.Helper()
	for _, e := range engines {
		args := append([]string{"run", "--rm", "--network", "none", buildTag}, buildCheck...)
		_, stdout, out, _, err := timedStdout(e, args...)
		if err != nil {
			b.Fatalf("%s: checking the built image: %v\n%s", e.name, err, out)
		}
		if got := strings.Join(strings.Fields(stdout), " "); got != buildCheckWant {
			b.Fatalf("%s: the built image holds the wrong files: `%s` printed\n%s\nwant\n%s", e.name, strings.Join(buildCheck, " "), stdout, buildCheckWant)
		}
	}
}
