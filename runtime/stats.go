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

// Stats samples a running container's cgroup twice, interval apart.
func Stats(c *container.Container, interval time.Duration) (*StatsSnapshot, error) {
	if !c.State.Running {
		return &StatsSnapshot{}, nil
	}
	if rootlessCgroupV1() {
		return nil, fmt.Errorf("stats for %s: cgroup data is not readable for a rootless user on this host (cgroup v1 without delegation); run as root or on a cgroup v2 host with delegation: %w", c.Name, errdefs.ErrUnavailable)
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return nil, fmt.Errorf("stats for %s: %w", c.Name, err)
	}
	s1, err := lc.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats for %s: reading its cgroup: %w", c.Name, err)
	}
	sys1 := systemCPU()
	time.Sleep(interval)
	s2, err := lc.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats for %s: reading its cgroup: %w", c.Name, err)
	}
	sys2 := systemCPU()
	out := &StatsSnapshot{}
	cg1, cg2 := s1.CgroupStats, s2.CgroupStats
	if cg1 != nil && cg2 != nil {
		dc := float64(cg2.CpuStats.CpuUsage.TotalUsage - cg1.CpuStats.CpuUsage.TotalUsage)
		ds := float64(sys2 - sys1)
		if ds > 0 {
			out.CPUPercent = dc / ds * float64(runtime.NumCPU()) * 100
		}
		out.MemUsage = cg2.MemoryStats.Usage.Usage
		out.MemLimit = cg2.MemoryStats.Usage.Limit
		if out.MemLimit > 1<<62 || out.MemLimit == 0 {
			out.MemLimit = hostMemory()
		}
		if out.MemLimit > 0 {
			out.MemPercent = float64(out.MemUsage) / float64(out.MemLimit) * 100
		}
		out.Pids = cg2.PidsStats.Current
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
