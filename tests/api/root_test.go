package api

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestDockerRootService runs the docker CLI as root against root's own
// service (root mode): the cgroup operations a rootless user lacks on a
// cgroup v1 host (stats, pause, update, run -m) work there.
func TestDockerRootService(t *testing.T) {
	harness.Need(t)
	t.Parallel()
	root := harness.Root
	bb := pulledAs(t, root, "busybox")
	dk := func(args ...string) *harness.Result { return harness.Docker(t, root, args...) }
	dk("run", "--rm", bb, "sh", "-c", "exit 4").Exit(t, 4)
	n := name("root")
	t.Cleanup(func() { dk("rm", "-f", n) })
	dk("run", "-d", "--name", n, bb, "sh", "-c", idleScript).OK(t)
	checkStats(t, harness.DockerWith(t, root, harness.RunOptions{Timeout: 30 * time.Second}, "stats", "--no-stream", n), n)
	checkPause(t, root, dk("pause", n), n)
	// Resource limits: update through the API changes the record and, the
	// container running, its cgroup (root's, cgroup v1 here).
	id := strings.TrimSpace(dk("inspect", "--format", "{{.Id}}", n).OK(t).Stdout)
	dk("update", "--memory", "64m", "--memory-swap", "128m", "--cpu-shares", "512", n).OK(t).StdoutIs(t, n+"\n")
	dk("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}}", n).OK(t).StdoutIs(t, "67108864 134217728 512\n")
	checkCgroupFile(t, "memory", id, "memory.limit_in_bytes", "67108864")
	checkCgroupFile(t, "cpu", id, "cpu.shares", "512")
	// Refused as Docker refuses it (memory above the swap limit), nothing changed.
	if r := dk("update", "--memory", "256m", n); r.ExitCode == 0 || !strings.Contains(r.Stderr, "memoryswap") {
		t.Errorf("%s: want Docker's refusal of a memory limit above the swap limit\n%s", r.Cmdline(), r.Output())
	}
	checkCgroupFile(t, "memory", id, "memory.limit_in_bytes", "67108864")
	// docker run -m: the limit in the cgroup, inspect and stats.
	lim := name("root-limits")
	t.Cleanup(func() { dk("rm", "-f", lim) })
	dk("run", "-d", "--name", lim, "-m", "96m", "--cpus", "0.5", "--pids-limit", "30", bb, "sh", "-c", idleScript).OK(t)
	limID := strings.TrimSpace(dk("inspect", "--format", "{{.Id}}", lim).OK(t).Stdout)
	dk("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", lim).OK(t).StdoutIs(t, "100663296 201326592 500000000 30\n")
	checkCgroupFile(t, "memory", limID, "memory.limit_in_bytes", "100663296")
	checkCgroupFile(t, "cpu", limID, "cpu.cfs_quota_us", "50000")
	checkCgroupFile(t, "pids", limID, "pids.max", "30")
	r := harness.DockerWith(t, root, harness.RunOptions{Timeout: 30 * time.Second}, "stats", "--no-stream", "--format", "{{.MemUsage}}", lim).OK(t)
	if !strings.HasSuffix(r.Stdout, " / 96MiB\n") {
		t.Errorf("docker stats MEM USAGE / LIMIT %q, want the 96MiB limit", r.Stdout)
	}
	dk("stop", n).OK(t)
}

// checkCgroupFile reads a file of a root container's cgroup v1 controller
// (skipped on a cgroup v2 host, where the files differ).
func checkCgroupFile(t *testing.T, controller, id, file, want string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, "skiff", id, file))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat("/sys/fs/cgroup/" + controller); err != nil {
			t.Logf("no cgroup v1 %s controller on this host: %s not checked", controller, file)
			return
		}
	}
	if err != nil {
		t.Errorf("reading the container's cgroup: %v", err)
		return
	}
	if got := strings.TrimSpace(string(data)); got != want {
		t.Errorf("%s/%s = %q, want %q", controller, file, got, want)
	}
}
