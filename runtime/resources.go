package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// CgroupSupport is what this host lets skiff limit, as Docker's sysinfo
// says it: a setting the host lacks is dropped with a warning.
type CgroupSupport struct {
	// Unavailable says why no limit can be applied at all (rootless
	// without a delegated cgroup) and what would make them work; "" when
	// they can.
	Unavailable string
	V2          bool
	// Systemd is rootless on cgroup v2: the user's systemd makes the
	// container a scope in its delegated user slice.
	Systemd bool

	Memory, Swap, MemoryReservation, Swappiness, OomKillDisable bool
	Pids, CPUShares, CPUCfs, CPURealtime, Cpuset                bool
	BlkioWeight, BlkioWeightDevice                              bool
	BlkioReadBps, BlkioWriteBps, BlkioReadIOps, BlkioWriteIOps  bool
}

// cgroupHost is what the probe of CgroupSupport reads: the mount point,
// the cgroup version, rootless or not, the user and the user's bus.
type cgroupHost struct {
	root     string
	v2       bool
	rootless bool
	uid      int
	bus      string // the user's D-Bus socket, "" when there is none
}

// HostCgroupSupport probes this host once per call.
func HostCgroupSupport() CgroupSupport {
	h := cgroupHost{root: cgroupRoot, rootless: paths.Rootless(), uid: paths.UID()}
	var st unix.Statfs_t
	h.v2 = unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
	h.bus = userBus()
	return h.support()
}

// userBus is the user's session bus socket, as systemd's user manager
// serves it: $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus.
func userBus() string {
	if a, ok := strings.CutPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path="); ok {
		a, _, _ = strings.Cut(a, ",")
		return a
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		if st, err := os.Stat(filepath.Join(x, "bus")); err == nil && st.Mode()&os.ModeSocket != 0 {
			return filepath.Join(x, "bus")
		}
	}
	return ""
}

// unavailableV1 is the one line a rootless user on a cgroup v1 host reads
// when a container asks for limits.
const unavailableV1 = "rootless containers get no cgroup of their own on this host's cgroup v1 (no delegation); limits apply as root, or rootless on cgroup v2 with a delegated systemd user slice"

func (h cgroupHost) support() CgroupSupport {
	switch {
	case !h.v2 && h.rootless:
		return CgroupSupport{Unavailable: unavailableV1}
	case !h.v2:
		return h.supportV1()
	case !h.rootless:
		return supportV2(readWords(filepath.Join(h.root, "cgroup.controllers")))
	}
	svc := filepath.Join(h.root, fmt.Sprintf("user.slice/user-%d.slice/user@%d.service", h.uid, h.uid))
	ctrls := readWords(filepath.Join(svc, "cgroup.controllers"))
	if ctrls == nil || h.bus == "" {
		return CgroupSupport{V2: true, Unavailable: fmt.Sprintf("uid %d has no systemd user manager with a session bus to delegate a cgroup to (%s on cgroup v2): run loginctl enable-linger for the user and set XDG_RUNTIME_DIR", h.uid, svc)}
	}
	s := supportV2(ctrls)
	s.Systemd = true
	return s
}

func (h cgroupHost) supportV1() CgroupSupport {
	has := func(ctrl, file string) bool {
		_, err := os.Stat(filepath.Join(h.root, ctrl, file))
		return err == nil
	}
	return CgroupSupport{
		Memory: has("memory", "memory.limit_in_bytes"), Swap: has("memory", "memory.memsw.limit_in_bytes"),
		MemoryReservation: has("memory", "memory.soft_limit_in_bytes"), Swappiness: has("memory", "memory.swappiness"),
		OomKillDisable: has("memory", "memory.oom_control"), Pids: has("pids", "cgroup.procs"),
		CPUShares: has("cpu", "cpu.shares"), CPUCfs: has("cpu", "cpu.cfs_quota_us"), CPURealtime: has("cpu", "cpu.rt_runtime_us"),
		Cpuset:      has("cpuset", "cpuset.cpus"),
		BlkioWeight: has("blkio", "blkio.weight") || has("blkio", "blkio.bfq.weight"), BlkioWeightDevice: has("blkio", "blkio.weight_device") || has("blkio", "blkio.bfq.weight_device"),
		BlkioReadBps: has("blkio", "blkio.throttle.read_bps_device"), BlkioWriteBps: has("blkio", "blkio.throttle.write_bps_device"),
		BlkioReadIOps: has("blkio", "blkio.throttle.read_iops_device"), BlkioWriteIOps: has("blkio", "blkio.throttle.write_iops_device"),
	}
}

// supportV2 is what the controllers available to a v2 cgroup give:
// never swappiness, the OOM killer switch or real-time CPU time.
func supportV2(ctrls []string) CgroupSupport {
	on := map[string]bool{}
	for _, c := range ctrls {
		on[c] = true
	}
	return CgroupSupport{
		V2: true, Memory: on["memory"], Swap: on["memory"], MemoryReservation: on["memory"], Pids: on["pids"],
		CPUShares: on["cpu"], CPUCfs: on["cpu"], Cpuset: on["cpuset"],
		BlkioWeight: on["io"], BlkioWeightDevice: on["io"], BlkioReadBps: on["io"], BlkioWriteBps: on["io"],
		BlkioReadIOps: on["io"], BlkioWriteIOps: on["io"],
	}
}

func readWords(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return append([]string{}, strings.Fields(string(data))...)
}

// HostCPUs and HostMemNodes are the online CPUs and memory nodes, as the
// kernel lists them ("0-3,6"); a host without NUMA has node 0.
func HostCPUs() string { return readList("/sys/devices/system/cpu/online", "0") }

// HostMemNodes: see HostCPUs.
func HostMemNodes() string { return readList("/sys/devices/system/node/online", "0") }

func readList(path, dflt string) string {
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) == "" {
		return dflt
	}
	return strings.TrimSpace(string(data))
}

// withCgroup places the container's cgroup and sets its limits in the
// libcontainer configuration (see placeCgroup) on this host.
func withCgroup(config *configs.Config, c *container.Container, rootless bool) error {
	if !placeCgroup(config, c, rootless, HostCgroupSupport()) || rootless {
		return nil
	}
	return realtimeBudget(c.HostConfig.Resources, c.ID)
}

// realtimeBudget makes room for a container's real-time CPU time (root).
func realtimeBudget(r container.Resources, id string) error {
	if r.CPURealtimeRuntime <= 0 {
		return nil
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "cpu")
	if err != nil {
		return fmt.Errorf("--cpu-rt-runtime: no cpu cgroup hierarchy: %w", err)
	}
	return ensureRealtimeBudget(mnt, r.CgroupParentDir(), id, r.CPURealtimePeriod, r.CPURealtimeRuntime)
}

// placeCgroup puts the container's cgroup under its cgroup parent
// (/skiff) as root, or rootless on cgroup v2 makes a container that has
// limits a scope of the user's systemd in its delegated user slice, and
// sets its limits; rootless without delegation (or without limits) it
// gets none of its own, and placeCgroup reports false. The OOM score is
// the init's, with or without a cgroup.
func placeCgroup(config *configs.Config, c *container.Container, rootless bool, s CgroupSupport) bool {
	r := c.HostConfig.Resources
	if r.OomScoreAdj != 0 {
		adj := r.OomScoreAdj
		config.OomScoreAdj = &adj
	}
	cg := config.Cgroups
	switch {
	case !rootless:
		cg.Path, cg.Name = r.CgroupParentDir()+"/"+c.ID, ""
	case s.Unavailable != "" || !s.Systemd || !r.CgroupLimits():
		return false
	default:
		cg.Systemd, cg.Rootless = true, true
		cg.Parent, cg.ScopePrefix, cg.Name, cg.Path = "user.slice", "skiff", c.ID, ""
	}
	setResources(cg.Resources, r, s)
	return true
}

// setResources carries the container's limits over to libcontainer's,
// for a new cgroup and for an update of a running one. Unlimited swap
// (-1) is written only where the host limits swap at all.
func setResources(out *cgroups.Resources, r container.Resources, s CgroupSupport) {
	out.Memory, out.MemoryReservation, out.MemorySwap = r.Memory, r.MemoryReservation, 0
	if r.MemorySwap > 0 || r.MemorySwap == -1 && s.Swap {
		out.MemorySwap = r.MemorySwap
	}
	out.OomKillDisable = r.OomKillDisable
	out.MemorySwappiness = nil
	if r.MemorySwappiness != nil {
		v := uint64(*r.MemorySwappiness)
		out.MemorySwappiness = &v
	}
	out.CpuShares = uint64(r.CPUShares)
	out.CpuPeriod, out.CpuQuota = uint64(r.CPUPeriod), r.CPUQuota
	if r.NanoCPUs > 0 {
		// Docker's: a period of 100 ms and the share of it.
		out.CpuPeriod = 100000
		out.CpuQuota = r.NanoCPUs * 100000 / 1e9
	}
	out.CpuRtPeriod, out.CpuRtRuntime = uint64(r.CPURealtimePeriod), r.CPURealtimeRuntime
	out.CpusetCpus, out.CpusetMems = r.CpusetCpus, r.CpusetMems
	out.PidsLimit = r.PidsLimit
	out.BlkioWeight = r.BlkioWeight
	out.BlkioWeightDevice = nil
	for _, d := range r.BlkioWeightDevice {
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, cgroups.NewWeightDevice(d.Major, d.Minor, d.Weight, 0))
	}
	throttle := func(ds []container.ThrottleDevice) []*cgroups.ThrottleDevice {
		var list []*cgroups.ThrottleDevice
		for _, d := range ds {
			list = append(list, cgroups.NewThrottleDevice(d.Major, d.Minor, d.Rate))
		}
		return list
	}
	out.BlkioThrottleReadBpsDevice = throttle(r.BlkioDeviceReadBps)
	out.BlkioThrottleWriteBpsDevice = throttle(r.BlkioDeviceWriteBps)
	out.BlkioThrottleReadIOPSDevice = throttle(r.BlkioDeviceReadIOps)
	out.BlkioThrottleWriteIOPSDevice = throttle(r.BlkioDeviceWriteIOps)
}

// defaultRtPeriod is the kernel's cpu.rt_period_us of a new cgroup.
const defaultRtPeriod = 1000000

// ensureRealtimeBudget gives every cgroup above the container's (parent
// and its ancestors under the cpu hierarchy mounted at mnt, /skiff by
// default) the real-time CPU time its
// children then hold, with the container's share added: a new cgroup
// has none, and the kernel refuses a child more than its parent has.
// This is what Docker's daemon-wide --cpu-rt-runtime does by hand.
func ensureRealtimeBudget(mnt, parent, id string, period, runtime int64) error {
	if period == 0 {
		period = defaultRtPeriod
	}
	dirs := []string{}
	for p := filepath.Clean(parent); p != "/" && p != "."; p = filepath.Dir(p) {
		dirs = append([]string{filepath.Join(mnt, p)}, dirs...)
	}
	child := filepath.Base(filepath.Join(parent, id))
	for i, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		skip := ""
		if i == len(dirs)-1 {
			skip = child // an update replaces the container's own share
		}
		dirPeriod := readInt(filepath.Join(dir, "cpu.rt_period_us"), defaultRtPeriod)
		want := childrenRealtime(dir, skip, dirPeriod) + ceilDiv(runtime*dirPeriod, period)
		if readInt(filepath.Join(dir, "cpu.rt_runtime_us"), 0) >= want {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cpu.rt_runtime_us"), []byte(strconv.FormatInt(want, 10)), 0o644); err != nil {
			return fmt.Errorf("--cpu-rt-runtime %d: the kernel refused %d µs of real-time CPU time to %s (%v): the host's real-time budget (cpu.rt_runtime_us of the cgroups above it) is taken; give less: %w",
				runtime, want, dir, err, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// childrenRealtime is the real-time time dir's children hold, in dir's
// period, leaving out the child named skip.
func childrenRealtime(dir, skip string, dirPeriod int64) int64 {
	entries, _ := os.ReadDir(dir)
	var sum int64
	for _, e := range entries {
		if !e.IsDir() || e.Name() == skip {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		rt := readInt(filepath.Join(sub, "cpu.rt_runtime_us"), 0)
		if rt > 0 {
			sum += ceilDiv(rt*dirPeriod, readInt(filepath.Join(sub, "cpu.rt_period_us"), defaultRtPeriod))
		}
	}
	return sum
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}

func readInt(path string, dflt int64) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return dflt
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return dflt
	}
	return n
}

// ErrNoCgroup is UpdateResources's answer for a rootless container that
// was started without limits, and so without a cgroup of its own: the
// new ones can apply from its next start only.
var ErrNoCgroup = errors.New("the container runs without a cgroup of its own")

// UpdateResources writes a running container's new limits to its cgroup
// (libcontainer's Set, as runc update does). A container without a
// cgroup of its own (rootless on cgroup v1) cannot be changed.
func UpdateResources(c *container.Container, r container.Resources) error {
	s := HostCgroupSupport()
	if s.Unavailable != "" {
		return fmt.Errorf("cannot update the limits of %s: %s: %w", c.Name, s.Unavailable, errdefs.ErrUnavailable)
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return fmt.Errorf("updating %s: %w", c.Name, err)
	}
	if !paths.Rootless() {
		if err := realtimeBudget(r, c.ID); err != nil {
			return err
		}
	}
	cfg := lc.Config()
	if paths.Rootless() && !cfg.Cgroups.Systemd {
		return ErrNoCgroup
	}
	res := *cfg.Cgroups.Resources
	setResources(&res, r, s)
	if r.PidsLimit == nil && s.Pids {
		unlimited := int64(-1) // lifts a limit set before
		res.PidsLimit = &unlimited
	}
	cfg.Cgroups.Resources = &res
	if err := lc.Set(cfg); err != nil {
		return fmt.Errorf("updating the cgroup of %s: %w", c.Name, err)
	}
	return nil
}
