package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// limitsLine is a RUN step that prints, on one line after "limits", its
// memory limit, CPU shares, CFS period and quota, cpuset, open files
// limits (soft, hard), /dev/shm's 1k-blocks and its memory cgroup's parent.
const limitsLine = `RUN echo "limits $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) $(cat /sys/fs/cgroup/cpu/cpu.shares) ` +
	`$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpuset/cpuset.cpus) ` +
	`$(ulimit -n) $(ulimit -Hn) $(df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2) $(grep :memory: /proc/self/cgroup | cut -d: -f3 | cut -d/ -f2)"`

// limitsOutput is the fields limitsLine printed in a build's output.
func limitsOutput(t *testing.T, r *harness.Result) []string {
	t.Helper()
	for _, l := range strings.Split(r.Stdout, "\n") {
		if f := strings.Fields(l); len(f) == 10 && f[0] == "limits" {
			return f[1:]
		}
	}
	t.Fatalf("%s: no limits line in the build's output\n%s", r.Cmdline(), r.Output())
	return nil
}

// TestDockerBuildLimitsRootService: docker build's limits reach every RUN
// container through root's service (its cgroup's files), and through the
// user's on a cgroup v1 host one warning in the stream says they are not
// applied while /dev/shm and the ulimits are.
func TestDockerBuildLimitsRootService(t *testing.T) {
	parallel(t)
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skipf("requires the cgroup v1 memory controller, whose files the RUN step reads: %v", err)
	}
	root := harness.Root
	dir := buildContext(t, "FROM "+pulledAs(t, root, "busybox")+"\n"+limitsLine+"\n", nil)
	opts := harness.RunOptions{Dir: dir, Timeout: 3 * time.Minute}
	parent := "skiff-api-build-" + harness.UniqueSuffix()
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", parent))
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	flags := []string{"build", "--no-cache", "-m", "64m", "--memory-swap", "96m", "-c", "512", "--cpu-period", "50000", "--cpu-quota", "25000",
		"--cpuset-cpus", "0", "--cpuset-mems", "0", "--shm-size", "10m", "--ulimit", "nofile=512:1024"}
	r := harness.DockerWith(t, root, opts, append(flags, "--cgroup-parent", parent, ".")...).OK(t)
	if got, want := strings.Join(limitsOutput(t, r), " "), "67108864 512 50000 25000 0 512 1024 10240 "+parent; got != want {
		t.Errorf("root's build: the RUN step saw %q, want %q", got, want)
	}
	// The user's service: one warning, the build goes on.
	r = dockerWith(t, opts, append(flags, ".")...).OK(t)
	if n := strings.Count(r.Stdout, "WARNING: resource limits are recorded but not applied"); n != 1 {
		t.Errorf("rootless docker build -m: %d warnings about the limits in the stream, want 1\n%s", n, r.Output())
	}
	if got := strings.Join(limitsOutput(t, r)[5:8], " "); got != "512 1024 10240" {
		t.Errorf("rootless: ulimits and /dev/shm %q, want 512 1024 10240", got)
	}
	// Refused by the engine, as run's values are.
	for _, bad := range []struct{ flag, value, word string }{{"-m", "4m", "6MB"}, {"-c", "1", "--cpu-shares"}, {"--cpuset-cpus", "99", "not available"}} {
		r := dockerWith(t, opts, "build", bad.flag, bad.value, ".")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, bad.word) {
			t.Errorf("docker build %s %s: want a failure saying %q\n%s", bad.flag, bad.value, bad.word, r.Output())
		}
	}
}
