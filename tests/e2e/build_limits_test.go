package e2e

// build's limits for its RUN containers (issue 15): Docker's -m,
// --memory-swap, -c, --cpu-period, --cpu-quota, --cpuset-cpus,
// --cpuset-mems, --cgroup-parent, --shm-size and --ulimit. As root every
// RUN step sees them in its own cgroup; rootless on a cgroup v1 host one
// warning says the cgroup limits are not applied and the build goes on
// (/dev/shm and ulimits apply there too); bad values are refused before
// any step runs.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// limitsDockerfile prints, in each of two RUN steps, the limits the step's
// container has: its cgroup's files, its open files limit (soft and hard)
// from /proc/self/limits, the 1k-blocks of /dev/shm and its memory cgroup.
func limitsDockerfile(bb string) string {
	step := `RUN echo "step $STEP"; for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus cpuset/cpuset.mems; do ` +
		`if [ -e /sys/fs/cgroup/$f ]; then echo "$f=$(cat /sys/fs/cgroup/$f)"; fi; done; ` +
		`grep 'Max open files' /proc/self/limits | tr -s ' ' | sed 's/ $//'; echo "shm=$(df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2)"; ` +
		`echo "cgroup=$(grep :memory: /proc/self/cgroup | cut -d: -f3)"` + "\n"
	return "FROM " + bb + "\nENV STEP=1\n" + step + "ENV STEP=2\n" + step
}

// userContext is a build context holding dockerfile, in a directory u owns.
func userContext(t *testing.T, u *harness.User, dockerfile string) string {
	t.Helper()
	dir := harness.UserDir(t, u)
	harness.WriteUserFile(t, u, filepath.Join(dir, "Dockerfile"), []byte(dockerfile))
	return dir
}

// stepLines are the lines of step n's output (from "step n" to the next step).
func stepLines(out string, n int) []string {
	_, rest, ok := strings.Cut(out, "step "+strconv.Itoa(n)+"\n")
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, "STEP ")
	return strings.Split(strings.TrimSpace(rest), "\n")
}

// hasLine reports whether one of lines starts with prefix.
func hasLine(lines []string, prefix string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// removeCgroupParent removes the (empty) directories a --cgroup-parent
// left in the cgroup v1 controllers.
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", parent))
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

func TestBuildLimitsRoot(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	dir := userContext(t, harness.E2E, limitsDockerfile(pulled(t, root, "busybox")))
	parent := "skiff-e2e-build-" + harness.UniqueSuffix()
	t.Cleanup(func() { removeCgroupParent(parent) })
	r := harness.RunAsRoot(t, "build", "--no-cache", "-m", "64m", "--memory-swap", "96m", "-c", "512", "--cpu-period", "50000",
		"--cpu-quota", "25000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--cgroup-parent", parent,
		"--shm-size", "10m", "--ulimit", "nofile=512:1024", dir).OK(t)
	want := []string{
		"memory/memory.limit_in_bytes=" + strconv.Itoa(64<<20), "cpu/cpu.shares=512",
		"cpu/cpu.cfs_period_us=50000", "cpu/cpu.cfs_quota_us=25000", "cpuset/cpuset.cpus=0", "cpuset/cpuset.mems=0",
		"Max open files 512 1024 files", "shm=10240",
	}
	if hasCgroupFile("memory", "memory.memsw.limit_in_bytes") {
		want = append(want, "memory/memory.memsw.limit_in_bytes="+strconv.Itoa(96<<20))
	}
	for step := 1; step <= 2; step++ {
		lines := stepLines(r.Stdout, step)
		for _, w := range want {
			if !contains(lines, w) {
				t.Errorf("RUN step %d: no %q in its output %q", step, w, lines)
			}
		}
		// Its cgroup, under the parent (/PARENT/ID).
		if !hasLine(lines, "cgroup=/"+parent+"/") {
			t.Errorf("RUN step %d: its memory cgroup is not under --cgroup-parent %s: %q", step, parent, lines)
		}
	}
	if ws := limitsWarnings(r.Stderr); len(ws) != 0 {
		t.Errorf("root: the limits apply, yet build warned: %q", ws)
	}
	// Nothing left: the steps' cgroups went with their containers.
	entries, err := os.ReadDir(filepath.Join("/sys/fs/cgroup/memory", parent))
	must(t, err)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("the build left cgroup %s/%s behind", parent, e.Name())
		}
	}
}

func TestBuildLimitsRootless(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	for _, u := range []*harness.User{harness.E2E, harness.NoSub} {
		t.Run(u.Name, func(t *testing.T) {
			dir := userContext(t, u, limitsDockerfile(pulled(t, u, "busybox")))
			tag := "build-limits:" + harness.UniqueSuffix()
			t.Cleanup(func() { harness.RunAs(t, u, "rmi", "-f", tag) })
			r := harness.RunAs(t, u, "build", "--no-cache", "-t", tag, "-m", "64m", "--memory-swap", "128m", "-c", "512",
				"--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0", "--cgroup-parent", "/batch",
				"--shm-size", "10m", "--ulimit", "nofile=512:1024", dir).OK(t)
			// One warning for the build, not one per RUN step: why, and what would make them work.
			ws := limitsWarnings(r.Stderr)
			if len(ws) != 1 || !strings.HasPrefix(ws[0], "WARNING: ") || !strings.Contains(ws[0], "cgroup v1") || !strings.Contains(ws[0], "cgroup v2 with a delegated systemd user slice") {
				t.Errorf("want one warning line saying the limits are not applied, why, and what would make them work\n%s", r.Output())
			}
			// What a user namespace can set applies to every step.
			for step := 1; step <= 2; step++ {
				lines := stepLines(r.Stdout, step)
				if !contains(lines, "Max open files 512 1024 files") || !contains(lines, "shm=10240") {
					t.Errorf("RUN step %d: want the --ulimit and --shm-size values: %q", step, lines)
				}
			}
			harness.RunAs(t, u, "image", "inspect", tag).OK(t)
			// No limit, no warning.
			if ws := limitsWarnings(harness.RunAs(t, u, "build", "-q", "--shm-size", "10m", dir).OK(t).Stderr); len(ws) != 0 {
				t.Errorf("a build without cgroup limits warned: %q", ws)
			}
		})
	}
}

// TestBuildLimitsBadValues: refused with one line and the status build
// gives any option it refuses (that of --isolation hyperv), a flag that
// does not parse with 125; before any step runs, so nothing is made.
func TestBuildLimitsBadValues(t *testing.T) {
	parallel(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + busybox(t) + "\nRUN echo ran\n"})
	refused := skiff(t, "build", "--isolation", "hyperv", dir).ExitCode
	if refused != 1 && refused != 125 {
		t.Fatalf("build --isolation hyperv exited %d: want Docker's 1 (or 125)", refused)
	}
	for _, tt := range []struct {
		flags []string
		words []string
		parse bool // Docker's CLI parses the value as a flag: 125
	}{
		{[]string{"-m", "1x"}, []string{"--memory", "1x"}, true},
		{[]string{"-m", "4m"}, []string{"6MB"}, false},
		{[]string{"--memory-swap", "128m"}, []string{"--memory"}, false},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, []string{"memoryswap"}, false},
		{[]string{"-c", "1"}, []string{"--cpu-shares"}, false},
		{[]string{"--cpu-period", "100"}, []string{"1ms"}, false},
		{[]string{"--cpu-quota", "5"}, []string{"1ms"}, false},
		{[]string{"--cpuset-cpus", "99"}, []string{"--cpuset-cpus", "not available"}, false},
		{[]string{"--cpuset-mems", "0-x"}, []string{"--cpuset-mems"}, false},
		{[]string{"--cgroup-parent", "../x"}, []string{"--cgroup-parent"}, false},
		{[]string{"--shm-size", "x"}, []string{"--shm-size"}, true},
		{[]string{"--ulimit", "nofiles=1"}, []string{"--ulimit", "nofile"}, true},
		{[]string{"--ulimit", "nofile=20:10"}, []string{"--ulimit"}, true},
	} {
		tag := "build-limits-bad:" + harness.UniqueSuffix()
		args := append(append([]string{"build", "-t", tag}, tt.flags...), dir)
		r := skiff(t, args...)
		want := refused
		if tt.parse {
			want = usageExit
		}
		r.ErrorLine(t, want, tt.words...)
		// Refused before anything: no step ran, no image.
		if r.Stdout != "" {
			t.Errorf("%s: refused, yet it printed %q", r.Cmdline(), r.Stdout)
		}
		if skiff(t, "image", "inspect", tag).ExitCode == 0 {
			t.Errorf("%s: refused, yet %s exists", r.Cmdline(), tag)
			skiff(t, "rmi", "-f", tag)
		}
	}
	// Not a number: the flag does not parse.
	skiff(t, "build", "-c", "x", dir).ErrorLine(t, 125, "-c")
}
