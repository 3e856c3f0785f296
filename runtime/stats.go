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
	"github.com/skiff-project/skiff/netns"
)

// StatsSample is one reading of a container's counters, as Docker's
// stats API reports them: CPU times in nanoseconds, sizes in bytes.
type StatsSample struct {
	Read       time.Time
	CPUTotal   uint64 // the container's CPU time
	CPUKernel  uint64
	CPUUser    uint64
	SystemCPU  uint64 // the host's CPU time
	OnlineCPUs uint32
	MemUsage   uint64
	MemLimit   uint64            // the host's memory when the container has no limit
	MemStats   map[string]uint64 // memory.stat (cache, inactive_file, …)
	BlockRead  uint64
	BlockWrite uint64
	// Networks are the interfaces of the container's own network
	// namespace, loopback left out (none with --network host).
	Networks map[string]NetStats
	Pids     uint64
	Running  bool
}

// NetStats are one interface's counters from /proc/PID/net/dev.
type NetStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
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
		out.MemStats = cg.MemoryStats.Stats
		out.Pids = cg.PidsStats.Current
		for _, e := range cg.BlkioStats.IoServiceBytesRecursive {
			switch strings.ToLower(e.Op) {
			case "read":
				out.BlockRead += e.Value
			case "write":
				out.BlockWrite += e.Value
			}
		}
	}
	if host := hostMemory(); out.MemLimit > host || out.MemLimit == 0 {
		out.MemLimit = host
	}
	if c.HostConfig.NetworkKind != netns.ModeHost {
		out.Networks = netDev(c.State.Pid)
	}
	return out, nil
}

// netDev reads the interfaces' counters of pid's network namespace.
func netDev(pid int) map[string]NetStats {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return nil
	}
	out := map[string]NetStats{}
	for _, l := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if !ok || name == "lo" || len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop
		out[name] = NetStats{RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11]}
	}
	return out
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
