package e2e

// Resource limits (run/create flags, update, stats): as root their effect
// in the container's cgroup, read beside it (/sys/fs/cgroup/CONTROLLER/
// skiff/ID) and from inside it; rootless on a cgroup v1 host one warning,
// the container running and the values recorded, as in Docker.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/tests/harness"
)

// limitsJSON is the part of inspect the limits tests read: Docker's
// HostConfig fields of the limits and State.
type limitsJSON struct {
	Id    string
	State struct {
		Status    string
		OOMKilled bool
		ExitCode  int
	}
	HostConfig struct {
		Memory, MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpuPeriod, CpuQuota int64
		CpuRealtimePeriod, CpuRealtimeRuntime                                           int64
		MemorySwappiness, PidsLimit                                                     *int64
		OomKillDisable                                                                  *bool
		OomScoreAdj                                                                     int
		CpusetCpus, CpusetMems, CgroupParent                                            string
		BlkioWeight                                                                     uint16
		BlkioDeviceReadBps, BlkioDeviceWriteIOps                                        []struct {
			Path string
			Rate uint64
		}
		RestartPolicy struct{ Name string }
	}
}

func inspectLimits(t testing.TB, u *harness.User, name string) limitsJSON {
	t.Helper()
	r := harness.RunAs(t, u, "inspect", name).OK(t)
	var out []limitsJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("%s: want a one-element JSON array (%v)\n%s", r.Cmdline(), err, r.Output())
	}
	return out[0]
}

// cgroupFile reads a file of container id's cgroup in a cgroup v1
// controller as root placed it (under /skiff, or parent).
func cgroupFile(t testing.TB, controller, parent, id, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, parent, id, file))
	if err != nil {
		t.Fatalf("reading the container's cgroup: %v", err)
	}
	return strings.TrimSpace(string(data))
}

// needCgroupV1 skips unless the host has cgroup v1 controllers, which
// these tests read (this project's test host has them).
func needCgroupV1(t testing.TB) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("requires cgroup v1 controllers: this host is cgroup v2 only (the files differ, and rootless limits apply there)")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skipf("requires the cgroup v1 memory controller: %v", err)
	}
}

// hasCgroupFile reports whether the root of a v1 controller has file.
func hasCgroupFile(controller, file string) bool {
	_, err := os.Stat(filepath.Join("/sys/fs/cgroup", controller, file))
	return err == nil
}

// rootDevice is the block device holding /, for the throttle flags.
func rootDevice(t testing.TB) string {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Stat("/", &st))
	data, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/uevent", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		t.Skipf("requires / on a block device (for --device-read-bps): %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(l, "DEVNAME="); ok {
			if _, err := os.Stat("/dev/" + name); err == nil {
				return "/dev/" + name
			}
		}
	}
	t.Skipf("requires the device of / under /dev (%s)", data)
	return ""
}

func TestLimitsRootCgroup(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	dev := rootDevice(t)
	name := lcName("limits-root")
	id := runDetachedAs(t, root, bb, name, []string{
		"-m", "64m", "--memory-reservation", "32m", "--memory-swappiness", "10", "--cpus", "0.5", "-c", "512",
		"--pids-limit", "50", "--cpuset-cpus", "0", "--cpuset-mems", "0",
		"--device-read-bps", dev + ":1mb", "--device-write-iops", dev + ":300", "--device-read-iops", dev + ":200",
	}, idleCmd...)
	// Beside the container: its cgroup's files.
	for _, f := range []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"memory", "memory.soft_limit_in_bytes", strconv.Itoa(32 << 20)},
		{"memory", "memory.swappiness", "10"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"pids", "pids.max", "50"},
	} {
		if got := cgroupFile(t, f.controller, "skiff", id, f.file); got != f.want {
			t.Errorf("%s/%s = %q, want %q", f.controller, f.file, got, f.want)
		}
	}
	if hasCgroupFile("memory", "memory.memsw.limit_in_bytes") {
		if got := cgroupFile(t, "memory", "skiff", id, "memory.memsw.limit_in_bytes"); got != strconv.Itoa(128<<20) {
			t.Errorf("memory.memsw.limit_in_bytes = %s, want twice --memory (Docker's default swap limit)", got)
		}
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(dev, &st))
	majMin := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if got := cgroupFile(t, "blkio", "skiff", id, "blkio.throttle.read_bps_device"); got != majMin+" 1048576" {
		t.Errorf("blkio.throttle.read_bps_device = %q, want %q", got, majMin+" 1048576")
	}
	if got := cgroupFile(t, "blkio", "skiff", id, "blkio.throttle.write_iops_device"); got != majMin+" 300" {
		t.Errorf("blkio.throttle.write_iops_device = %q, want %q", got, majMin+" 300")
	}
	if got := cgroupFile(t, "blkio", "skiff", id, "blkio.throttle.read_iops_device"); got != majMin+" 200" {
		t.Errorf("blkio.throttle.read_iops_device = %q, want %q", got, majMin+" 200")
	}
	// Inside it: its own cgroup at /sys/fs/cgroup/CONTROLLER.
	out := harness.RunAsRoot(t, "exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/pids/pids.max").OK(t).Stdout
	if want := fmt.Sprintf("%d\n50000\n50\n", 64<<20); out != want {
		t.Errorf("the limits seen from inside the container: %q, want %q", out, want)
	}
	// inspect: Docker's HostConfig fields.
	hc := inspectLimits(t, root, name).HostConfig
	if hc.Memory != 64<<20 || hc.MemorySwap != 128<<20 || hc.MemoryReservation != 32<<20 || hc.NanoCpus != 5e8 || hc.CpuShares != 512 ||
		hc.CpuPeriod != 0 || hc.CpuQuota != 0 || hc.CpusetCpus != "0" || hc.CpusetMems != "0" ||
		hc.PidsLimit == nil || *hc.PidsLimit != 50 || hc.MemorySwappiness == nil || *hc.MemorySwappiness != 10 ||
		hc.OomKillDisable == nil || *hc.OomKillDisable || len(hc.BlkioDeviceReadBps) != 1 || hc.BlkioDeviceReadBps[0].Rate != 1<<20 ||
		len(hc.BlkioDeviceWriteIOps) != 1 || hc.BlkioDeviceWriteIOps[0].Path != dev {
		t.Errorf("inspect HostConfig %+v", hc)
	}
	// stats: the memory limit is the container's.
	r := harness.RunAsWith(t, root, harness.RunOptions{Timeout: 30 * time.Second}, "stats", "--no-stream", "--format", "{{.MemUsage}}", name).OK(t)
	if !regexp.MustCompile(`^[\d.]+(B|KiB|MiB) / 64MiB\n$`).MatchString(r.Stdout) {
		t.Errorf("stats MEM USAGE / LIMIT %q, want the 64MiB limit", r.Stdout)
	}
}

func TestLimitsRootCPUPeriodQuotaOomKillDisable(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	name := lcName("limits-cfs")
	id := runDetachedAs(t, root, bb, name, []string{"--cpu-period", "50000", "--cpu-quota", "25000", "-m", "32m", "--oom-kill-disable"}, idleCmd...)
	if got := cgroupFile(t, "cpu", "skiff", id, "cpu.cfs_period_us") + " " + cgroupFile(t, "cpu", "skiff", id, "cpu.cfs_quota_us"); got != "50000 25000" {
		t.Errorf("cfs period and quota %q, want 50000 25000", got)
	}
	if got := cgroupFile(t, "memory", "skiff", id, "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control %q, want oom_kill_disable 1", got)
	}
	hc := inspectLimits(t, root, name).HostConfig
	if hc.CpuPeriod != 50000 || hc.CpuQuota != 25000 || hc.NanoCpus != 0 || hc.OomKillDisable == nil || !*hc.OomKillDisable {
		t.Errorf("inspect HostConfig %+v", hc)
	}
	// Docker's conflict: --cpus with a period or a quota.
	bad := lcName("limits-conflict")
	harness.RunAsRoot(t, "run", "--name", bad, "--cpus", "1", "--cpu-period", "50000", bb, "true").ErrorLine(t, 125, "conflicting", "--cpus", "--cpu-period")
	notCreated(t, root, bad)
}

// notCreated checks that a refused run or create left no container.
func notCreated(t testing.TB, u *harness.User, name string) {
	t.Helper()
	if ids := harness.RunAs(t, u, "ps", "-a", "-q", "--filter", "name=^"+name+"$").OK(t).Stdout; ids != "" {
		t.Errorf("a refused run left container %s (%s)", name, strings.TrimSpace(ids))
		harness.RunAs(t, u, "rm", "-f", name)
	}
}

func TestLimitsRootOOMKilled(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	name := lcName("limits-oom")
	rmOnCleanup(t, root, name)
	// The shell reads 100 MiB into a variable: over the 8 MiB limit (and
	// its 16 MiB of memory plus swap), so the kernel kills it.
	r := harness.RunAsRoot(t, "run", "--name", name, "-m", "8m", bb, "sh", "-c", `x=$(head -c 100m /dev/zero | tr '\0' a); echo survived`)
	r.Exit(t, 137)
	if strings.Contains(r.Stdout, "survived") {
		t.Errorf("the container outlived its memory limit\n%s", r.Output())
	}
	c := inspectLimits(t, root, name)
	if !c.State.OOMKilled || c.State.ExitCode != 137 || c.State.Status != "exited" {
		t.Errorf("State %+v, want OOMKilled true, exit 137 (Docker)", c.State)
	}
	ev := harness.RunAsRoot(t, "events", "--since", "5m", "--until", "0s", "--filter", "container="+name, "--format", "{{.Action}}").OK(t)
	if !regexp.MustCompile(`(?s)oom\n.*die`).MatchString(ev.Stdout) {
		t.Errorf("events %q, want oom before die", ev.Stdout)
	}
	// With room for it the next run survives, and OOMKilled is false again.
	harness.RunAsRoot(t, "update", "-m", "256m", "--memory-swap", "512m", name).OK(t)
	harness.RunAsRoot(t, "start", "-a", name).OK(t)
	if c = inspectLimits(t, root, name); c.State.OOMKilled || c.State.ExitCode != 0 {
		t.Errorf("a run under its limit: State %+v, want OOMKilled false, exit 0", c.State)
	}
}

func TestLimitsRootUpdate(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	name := lcName("limits-update")
	id := runDetachedAs(t, root, bb, name, []string{"-m", "64m", "--cpus", "0.5", "--pids-limit", "40"}, idleCmd...)
	harness.RunAsRoot(t, "update", "-m", "128m", "--memory-swap", "256m", "--cpus", "1.5", "--pids-limit", "-1", name).OK(t).StdoutIs(t, name+"\n")
	for _, f := range []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(128 << 20)},
		{"cpu", "cpu.cfs_quota_us", "150000"},
		{"pids", "pids.max", "max"},
	} {
		if got := cgroupFile(t, f.controller, "skiff", id, f.file); got != f.want {
			t.Errorf("after update: %s/%s = %q, want %q", f.controller, f.file, got, f.want)
		}
	}
	hc := inspectLimits(t, root, name).HostConfig
	if hc.Memory != 128<<20 || hc.MemorySwap != 256<<20 || hc.NanoCpus != 15e8 || hc.PidsLimit != nil {
		t.Errorf("inspect after update %+v", hc)
	}
	// Docker's rules: a memory limit above the swap limit needs a new
	// swap limit; --cpu-quota cannot follow --cpus. Nothing changes.
	harness.RunAsRoot(t, "update", "-m", "512m", name).ErrorLine(t, errExit, "memoryswap")
	harness.RunAsRoot(t, "update", "--cpu-quota", "20000", name).ErrorLine(t, errExit, "NanoCPUs")
	harness.RunAsRoot(t, "update", name).ErrorLine(t, errExit, "one or more flags")
	if got := cgroupFile(t, "memory", "skiff", id, "memory.limit_in_bytes"); got != strconv.Itoa(128<<20) {
		t.Errorf("a refused update changed memory.limit_in_bytes to %s", got)
	}
	// A stopped container's record changes; its next start applies it.
	harness.RunAsRoot(t, "stop", name).OK(t)
	harness.RunAsRoot(t, "update", "-m", "96m", "--restart", "on-failure:2", name).OK(t)
	harness.RunAsRoot(t, "start", name).OK(t)
	if got := cgroupFile(t, "memory", "skiff", id, "memory.limit_in_bytes"); got != strconv.Itoa(96<<20) {
		t.Errorf("updated while stopped, then started: memory.limit_in_bytes %s, want 96m", got)
	}
	if p := inspectLimits(t, root, name).HostConfig.RestartPolicy.Name; p != "on-failure" {
		t.Errorf("restart policy %q after update --restart on-failure:2", p)
	}
}

func TestLimitsRootCgroupParentAndRealtime(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	parent := "skiff-e2e-" + harness.UniqueSuffix()
	name := lcName("limits-parent")
	id := runDetachedAs(t, root, bb, name, []string{"--cgroup-parent", parent, "-m", "48m"}, idleCmd...)
	t.Cleanup(func() {
		harness.RunAsRoot(t, "rm", "-f", name)
		for _, ctrl := range []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer", "systemd", "net_cls", "perf_event", "hugetlb", "unified"} {
			_ = os.Remove(filepath.Join("/sys/fs/cgroup", ctrl, parent))
		}
	})
	if got := cgroupFile(t, "memory", parent, id, "memory.limit_in_bytes"); got != strconv.Itoa(48<<20) {
		t.Errorf("--cgroup-parent %s: memory.limit_in_bytes %s", parent, got)
	}
	if got := inspectLimits(t, root, name).HostConfig.CgroupParent; got != parent {
		t.Errorf("inspect CgroupParent %q, want %q", got, parent)
	}
	if !hasCgroupFile("cpu", "cpu.rt_runtime_us") {
		t.Log("skipping --cpu-rt-*: the kernel has no RT group scheduling (no cpu.rt_runtime_us)")
		harness.RunAsRoot(t, "run", "--rm", "--cpu-rt-runtime", "1000", bb, "true").ErrorLine(t, 125, "real-time")
		return
	}
	rt := lcName("limits-rt")
	rtID := runDetachedAs(t, root, bb, rt, []string{"--cpu-rt-period", "100000", "--cpu-rt-runtime", "5000"}, idleCmd...)
	if got := cgroupFile(t, "cpu", "skiff", rtID, "cpu.rt_period_us") + " " + cgroupFile(t, "cpu", "skiff", rtID, "cpu.rt_runtime_us"); got != "100000 5000" {
		t.Errorf("cpu.rt_period_us and cpu.rt_runtime_us %q, want 100000 5000", got)
	}
	harness.RunAsRoot(t, "run", "--rm", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "2000", bb, "true").ErrorLine(t, 125, "cannot be higher")
}

func TestLimitsRootOomScoreAdj(t *testing.T) {
	parallel(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	harness.RunAsRoot(t, "run", "--rm", "--oom-score-adj", "300", bb, "cat", "/proc/1/oom_score_adj").OK(t).StdoutIs(t, "300\n")
	low := harness.RunAsRoot(t, "run", "--rm", "--oom-score-adj", "-500", bb, "cat", "/proc/1/oom_score_adj")
	if capEff(t)&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		low.OK(t).StdoutIs(t, "-500\n")
		return
	}
	// This root lacks CAP_SYS_RESOURCE (a container's root): refused, with why.
	low.ErrorLine(t, 125, "CAP_SYS_RESOURCE")
}

// capEff is this (root) process's effective capability set.
func capEff(t testing.TB) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	must(t, err)
	n, err := strconv.ParseUint(procStatusField(t, string(data), "CapEff"), 16, 64)
	must(t, err)
	return n
}

// limitsWarnings are the stderr lines about resource limits.
func limitsWarnings(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "resource limits") {
			out = append(out, l)
		}
	}
	return out
}

func TestLimitsRootless(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	for _, u := range []*harness.User{harness.E2E, harness.NoSub} {
		t.Run(u.Name, func(t *testing.T) {
			bb := pulled(t, u, "busybox")
			name := lcName("limits-rootless")
			rmOnCleanup(t, u, name)
			r := harness.RunAs(t, u, "run", "-d", "--name", name, "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "--cgroup-parent", "/batch", bb, "sh", "-c", idleScript).OK(t)
			ws := limitsWarnings(r.Stderr)
			if len(ws) != 1 || !strings.HasPrefix(ws[0], "WARNING: ") || !strings.Contains(ws[0], "cgroup v1") || !strings.Contains(ws[0], "cgroup v2 with a delegated systemd user slice") {
				t.Errorf("want one warning line saying the limits are not applied, why, and what would make them work\n%s", r.Output())
			}
			waitStatus(t, u, name, "running", 10*time.Second)
			hc := inspectLimits(t, u, name).HostConfig
			if hc.Memory != 64<<20 || hc.MemorySwap != 128<<20 || hc.NanoCpus != 5e8 || hc.PidsLimit == nil || *hc.PidsLimit != 20 || hc.CgroupParent != "/batch" {
				t.Errorf("inspect records %+v, want the values asked for (as Docker records them)", hc)
			}
			// update: --restart works; limits cannot change without a cgroup.
			harness.RunAs(t, u, "update", "--restart", "unless-stopped", name).OK(t).StdoutIs(t, name+"\n")
			harness.RunAs(t, u, "update", "-m", "128m", "--memory-swap", "256m", name).ErrorLine(t, errExit, "cgroup v1", "cgroup v2")
			hc = inspectLimits(t, u, name).HostConfig
			if hc.Memory != 64<<20 || hc.RestartPolicy.Name != "unless-stopped" {
				t.Errorf("after the updates: Memory %d, restart %q; want 64m kept and unless-stopped", hc.Memory, hc.RestartPolicy.Name)
			}
			// No limit, no warning.
			if ws := limitsWarnings(harness.RunAs(t, u, "run", "--rm", bb, "true").OK(t).Stderr); len(ws) != 0 {
				t.Errorf("a run without limits warned: %q", ws)
			}
		})
	}
}

func TestLimitsOomScoreAdjRootless(t *testing.T) {
	parallel(t)
	name := lcName("limits-oomadj")
	runDetached(t, name, []string{"--oom-score-adj", "500"}, idleCmd...)
	skiff(t, "exec", name, "cat", "/proc/1/oom_score_adj").OK(t).StdoutIs(t, "500\n")
	if n := inspectLimits(t, harness.E2E, name).HostConfig.OomScoreAdj; n != 500 {
		t.Errorf("inspect OomScoreAdj %d, want 500", n)
	}
	// Lowering it needs CAP_SYS_RESOURCE on the host: refused, with why.
	low := lcName("limits-oomadj-low")
	skiff(t, "run", "--name", low, "--oom-score-adj", "-100", busybox(t), "true").ErrorLine(t, 125, "CAP_SYS_RESOURCE")
	notCreated(t, harness.E2E, low)
}

func TestLimitsBadValues(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, tt := range []struct {
		flags []string
		words []string
	}{
		{[]string{"-m", "1x"}, []string{"--memory", "1x"}},
		{[]string{"-m", "4m"}, []string{"6MB"}},
		{[]string{"--memory-swap", "128m"}, []string{"--memory"}},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, []string{"memoryswap"}},
		{[]string{"--cpus", "-1"}, []string{"--cpus", "range of CPUs"}},
		{[]string{"--cpus", "x"}, []string{"--cpus"}},
		{[]string{"--blkio-weight", "5"}, []string{"--blkio-weight", "10 to 1000"}},
		{[]string{"--cpuset-cpus", "99"}, []string{"--cpuset-cpus", "not available"}},
		{[]string{"--cpuset-mems", "0-x"}, []string{"--cpuset-mems"}},
		{[]string{"--memory-swappiness", "101"}, []string{"0-100"}},
		{[]string{"--oom-score-adj", "1001"}, []string{"[-1000, 1000]"}},
		{[]string{"--cpu-period", "100"}, []string{"1ms"}},
		{[]string{"--device-read-bps", "/dev/nosuch:1mb"}, []string{"/dev/nosuch"}},
		{[]string{"--device-write-bps", "vda:1mb"}, []string{"device path"}},
		{[]string{"--cpu-count", "2"}, []string{"windows"}},
		{[]string{"--cpu-percent", "50"}, []string{"windows", "--cpus"}},
		{[]string{"--io-maxbandwidth", "10m"}, []string{"windows", "--device-read-bps"}},
		{[]string{"--io-maxiops", "100"}, []string{"windows", "--device-read-iops"}},
		{[]string{"--link-local-ip", "169.254.1.1"}, []string{"--link-local-ip", "--ip"}},
		{[]string{"--disable-content-trust=false"}, []string{"content trust"}},
	} {
		name := lcName("limits-bad")
		args := append(append([]string{"run", "--name", name}, tt.flags...), bb, "true")
		skiff(t, args...).ErrorLine(t, 125, tt.words...)
		notCreated(t, harness.E2E, name)
	}
	// create refuses the same way.
	name := lcName("limits-bad-create")
	skiff(t, "create", "--name", name, "--blkio-weight", "5", bb).ErrorLine(t, 125, "--blkio-weight")
	notCreated(t, harness.E2E, name)
}

func TestLimitsKernelMemoryDeprecated(t *testing.T) {
	parallel(t)
	r := skiff(t, "run", "--rm", "--kernel-memory", "64m", busybox(t), "true").OK(t)
	if !strings.Contains(r.Stderr, "--kernel-memory has been deprecated") {
		t.Errorf("want Docker's deprecation warning for --kernel-memory\n%s", r.Output())
	}
}

func TestLimitsRootStats(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	root := harness.Root
	bb := pulled(t, root, "busybox")
	name, stopped := lcName("limits-stats"), lcName("limits-stats-stopped")
	id := runDetachedAs(t, root, bb, name, []string{"-m", "96m"}, idleCmd...)
	rmOnCleanup(t, root, stopped)
	harness.RunAsRoot(t, "create", "--name", stopped, bb, "true").OK(t)
	stats := func(args ...string) string {
		return harness.RunAsWith(t, root, harness.RunOptions{Timeout: 30 * time.Second}, append([]string{"stats"}, args...)...).OK(t).Stdout
	}
	// Docker's columns and units.
	tb := parseTable(t, stats("--no-stream", name))
	row := tb.rowWith("NAME", name)
	if row == nil || strings.Join(tb.header, "|") != "CONTAINER ID|NAME|CPU %|MEM USAGE / LIMIT|MEM %|NET I/O|BLOCK I/O|PIDS" {
		t.Fatalf("stats table %+v", tb)
	}
	unit := `[\d.]+(B|kB|MB|GB)`
	switch {
	case row["CONTAINER ID"] != id[:12]:
		t.Errorf("CONTAINER ID %q, want %q", row["CONTAINER ID"], id[:12])
	case !regexp.MustCompile(`^[\d.]+(B|KiB|MiB) / 96MiB$`).MatchString(row["MEM USAGE / LIMIT"]):
		t.Errorf("MEM USAGE / LIMIT %q", row["MEM USAGE / LIMIT"])
	case !regexp.MustCompile(`^` + unit + ` / ` + unit + `$`).MatchString(row["NET I/O"]), !regexp.MustCompile(`^` + unit + ` / ` + unit + `$`).MatchString(row["BLOCK I/O"]):
		t.Errorf("NET I/O %q, BLOCK I/O %q: want Docker's decimal units", row["NET I/O"], row["BLOCK I/O"])
	case row["PIDS"] == "0":
		t.Errorf("PIDS 0 for a running container")
	}
	// --format with Docker's placeholders, table or not; --no-trunc.
	if got := stats("--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.Container}} {{.PIDs}}", name); !regexp.MustCompile(`^` + id + ` ` + name + ` ` + name + ` [1-9]\d*\n$`).MatchString(got) {
		t.Errorf("--format with --no-trunc: %q", got)
	}
	if got := stats("--no-stream", "--format", "table {{.Name}}\t{{.MemPerc}}\t{{.CPUPerc}}", name); !regexp.MustCompile(`^NAME\s+MEM %\s+CPU %\n` + name + `\s+\d+\.\d\d%\s+\d+\.\d\d%\n$`).MatchString(got) {
		t.Errorf("--format 'table …': %q", got)
	}
	// -a adds the stopped container, with zeros.
	all := parseTable(t, stats("--no-stream", "-a"))
	if r := all.rowWith("NAME", stopped); r == nil || r["CPU %"] != "0.00%" || r["PIDS"] != "0" {
		t.Errorf("stats -a: the created container's row %v", r)
	}
	if r := parseTable(t, stats("--no-stream")).rowWith("NAME", stopped); r != nil {
		t.Errorf("stats without -a lists a container that does not run: %v", r)
	}
	// Streaming on a pipe: a new block each time, until stopped.
	cmd := harness.Command(root, "stats", "--format", "{{.Name}} {{.MemUsage}}", name)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	for n := 0; n < 3; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stats ended after %d blocks; a stream goes on until stopped", n)
			}
			if !strings.HasPrefix(l, name+" ") || strings.Contains(l, "\033") {
				t.Fatalf("streamed line %q: want a plain line per container on a pipe", l)
			}
			n++
		case <-time.After(20 * time.Second):
			t.Fatalf("stats streamed %d blocks in 20s", n)
		}
	}
}

func TestLimitsRootStatsTerminal(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	harness.Requires(t, "pty")
	root := harness.Root
	name := lcName("limits-stats-tty")
	runDetachedAs(t, root, pulled(t, root, "busybox"), name, nil, idleCmd...)
	master, slavePath, err := console.NewPty()
	must(t, err)
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	cmd := harness.Command(root, "stats", name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	must(t, cmd.Start())
	slave.Close()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var out syncBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	// Each frame goes home and clears what the last one left, as docker
	// stats does on a terminal: wait for the second.
	eventually(t, 20*time.Second, "two frames of stats on a terminal", func() (bool, string) {
		return strings.Count(out.String(), "\033[H") >= 2, fmt.Sprintf("%q", out.String())
	})
	frames := strings.Split(out.String(), "\033[H")
	if f := frames[2]; !strings.Contains(f, "CONTAINER ID") || !strings.Contains(f, name+" ") || !strings.Contains(f, "\033[K") {
		t.Errorf("second frame %q: want the table again, each line cleared to its end", f)
	}
}

// --blkio-weight-device: in the cgroup where the kernel has per-device
// weights, else dropped with Docker's warning; recorded either way.
func TestLimitsRootBlkioWeightDevice(t *testing.T) {
	parallel(t)
	needCgroupV1(t)
	bb := pulled(t, harness.Root, "busybox")
	dev := rootDevice(t)
	name := lcName("limits-weightdev")
	r := harness.RunAsRoot(t, "run", "-d", "--name", name, "--blkio-weight-device", dev+":300", bb, "sleep", "300").OK(t)
	t.Cleanup(func() { harness.RunAsRoot(t, "rm", "-f", name) })
	id := strings.TrimSpace(r.Stdout)
	var st syscall.Stat_t
	must(t, syscall.Stat(dev, &st))
	majMin := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	// As Docker's daemon: a weight the kernel cannot apply is discarded
	// with a warning, and inspect shows none.
	want := 0
	if hasCgroupFile("blkio", "blkio.weight_device") {
		want = 1
		if got := cgroupFile(t, "blkio", "skiff", id, "blkio.weight_device"); !strings.Contains(got, majMin+" 300") {
			t.Errorf("blkio.weight_device = %q, want %s 300", got, majMin)
		}
	} else if !strings.Contains(r.Stderr, "WARNING: ") || !strings.Contains(r.Stderr, "weight_device") {
		t.Errorf("this kernel has no blkio.weight_device: want Docker's warning that the weight is discarded, got %q", r.Stderr)
	}
	var out []struct {
		HostConfig struct {
			BlkioWeightDevice []struct {
				Path   string
				Weight uint16
			}
		}
	}
	must(t, json.Unmarshal([]byte(harness.RunAsRoot(t, "inspect", name).OK(t).Stdout), &out))
	if w := out[0].HostConfig.BlkioWeightDevice; len(w) != want || want == 1 && (w[0].Path != dev || w[0].Weight != 300) {
		t.Errorf("inspect HostConfig.BlkioWeightDevice = %+v, want %d entries (%s 300)", w, want, dev)
	}
}
