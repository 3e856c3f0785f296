package runtime

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

// StatsSnapshot is one `stats --no-stream` line.
type StatsSnapshot struct {
	CPUPercent float64
	MemUsage   uint64
	MemLimit   uint64
	MemPercent float64
	Pids       uint64
}

// StatsSample is one reading of a container's counters, as Docker's
// stats API reports them: CPU times in nanoseconds.
type StatsSample struct {
	Read       time.Time
	CPUTotal   uint64 // the container's CPU time
	CPUKernel  uint64
	CPUUser    uint64
	SystemCPU  uint64 // the host's CPU time
	OnlineCPUs uint32
	MemUsage   uint64
	MemLimit   uint64 // the host's memory when the container has no limit
	Pids       uint64
	Running    bool
}

// Sample reads a container's cgroup once; a stopped container reads as
// zeros.
func Sample(c *container.Container) (*StatsSample, error) {
	out := &StatsSample{Read: time.Now(), OnlineCPUs: uint32(runtime.NumCPU())}
	if !c.State.Running {
		return out, nil
	}
	if rootlessCgroupV1() {
		return nil, fmt.Errorf("stats for %s: cgroup data is not readable for a rootless user on this host (cgroup v1 without delegation); run as root or on a cgroup v2 host with delegation: %w", c.Name, errdefs.ErrUnavailable)
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return nil, fmt.Errorf("stats for %s: %w", c.Name, err)
	}
	st, err := lc.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats for %s: reading its cgroup: %w", c.Name, err)
	}
	out.SystemCPU, out.Running = systemCPU(), true
	if cg := st.CgroupStats; cg != nil {
		out.CPUTotal = cg.CpuStats.CpuUsage.TotalUsage
		out.CPUKernel = cg.CpuStats.CpuUsage.UsageInKernelmode
		out.CPUUser = cg.CpuStats.CpuUsage.UsageInUsermode
		out.MemUsage = cg.MemoryStats.Usage.Usage
		out.MemLimit = cg.MemoryStats.Usage.Limit
		out.Pids = cg.PidsStats.Current
	}
	if out.MemLimit > 1<<62 || out.MemLimit == 0 {
		out.MemLimit = hostMemory()
	}
	return out, nil
}

// Stats samples a running container's cgroup twice, interval apart.
func Stats(c *container.Container, interval time.Duration) (*StatsSnapshot, error) {
	if !c.State.Running {
		return &StatsSnapshot{}, nil
	}
	s1, err := Sample(c)
	if err != nil {
		return nil, err
	}
	time.Sleep(interval)
	s2, err := Sample(c)
	if err != nil {
		return nil, err
	}
	out := &StatsSnapshot{MemUsage: s2.MemUsage, MemLimit: s2.MemLimit, Pids: s2.Pids}
	dc := float64(s2.CPUTotal - s1.CPUTotal)
	if ds := float64(s2.SystemCPU - s1.SystemCPU); ds > 0 {
		out.CPUPercent = dc / ds * float64(s2.OnlineCPUs) * 100
	}
	if out.MemLimit > 0 {
		out.MemPercent = float64(out.MemUsage) / float64(out.MemLimit) * 100
	}
	return out, nil
}

// systemCPU is the host's total CPU time in nanoseconds, from /proc/stat.
func systemCPU() uint64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var total uint64
	for _, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		total += n
	}
	return total * 1e9 / 100 // USER_HZ is 100
}

func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}
