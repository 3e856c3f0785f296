package engine

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/runtime"
)

// Device is a block device a limit names, by path.
type BlockDevice = container.BlockDevice

// WeightDevice is one --blkio-weight-device: the device's path and the
// weight; its numbers are found when the options are checked.
type WeightDevice = container.WeightDevice

// ThrottleDevice is one --device-{read,write}-{bps,iops}: the device's
// path and the rate.
type ThrottleDevice = container.ThrottleDevice

// ResourceOptions are a container's cgroup limits as the user gave them,
// in the units of Docker's API (its HostConfig.Resources): the CLI turns
// "64m" and "1.5" into bytes and nano-CPUs, the API sends them so. Zero
// is "not set", as in Docker.
type ResourceOptions struct {
	Memory            int64
	MemoryReservation int64
	MemorySwap        int64  // memory plus swap; -1 unlimited swap
	MemorySwappiness  *int64 // nil or -1: the kernel's
	OomKillDisable    bool

	NanoCPUs           int64 // --cpus 1.5 is 1500000000
	CPUShares          int64
	CPUPeriod          int64 // µs
	CPUQuota           int64 // µs, -1 unlimited
	CPURealtimePeriod  int64 // µs
	CPURealtimeRuntime int64 // µs
	CpusetCpus         string
	CpusetMems         string

	PidsLimit *int64 // nil: not set; 0 or -1: unlimited

	BlkioWeight          uint16
	BlkioWeightDevice    []WeightDevice
	BlkioDeviceReadBps   []ThrottleDevice
	BlkioDeviceWriteBps  []ThrottleDevice
	BlkioDeviceReadIOps  []ThrottleDevice
	BlkioDeviceWriteIOps []ThrottleDevice

	OomScoreAdj  int
	CgroupParent string

	// CPUCount and CPUPercent are Windows settings: the API's are
	// dropped with Docker's warning (the CLI refuses them).
	CPUCount   int64
	CPUPercent int64
}

// linuxMinMemory is Docker's smallest memory limit, 6 MiB.
const linuxMinMemory = 6 << 20

// parse checks r as Docker's daemon does and returns what the container
// record keeps; update relaxes the rules that concern a new container
// (a swap limit without a memory limit). Nothing here depends on whether
// the host can apply a limit: adapt says that.
func (r ResourceOptions) parse(update bool) (container.Resources, error) {
	out := container.Resources{
		Memory: r.Memory, MemoryReservation: r.MemoryReservation, MemorySwap: r.MemorySwap,
		OomKillDisable: r.OomKillDisable, NanoCPUs: r.NanoCPUs, CPUShares: r.CPUShares,
		CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CPURealtimePeriod: r.CPURealtimePeriod,
		CPURealtimeRuntime: r.CPURealtimeRuntime, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems,
		BlkioWeight: r.BlkioWeight, OomScoreAdj: r.OomScoreAdj, CgroupParent: r.CgroupParent,
	}
	if s := r.MemorySwappiness; s != nil && *s != -1 {
		if *s < 0 || *s > 100 {
			return out, errdefs.Invalid("invalid --memory-swappiness %d: the range is 0-100 (or -1 for the kernel's)", *s)
		}
		v := *s
		out.MemorySwappiness = &v
	}
	if p := r.PidsLimit; p != nil && *p > 0 {
		v := *p
		out.PidsLimit = &v
	}
	checks := []func(container.Resources, bool) error{checkMemory, checkCPU, checkCpuset, checkOomScoreAdj, checkCgroupParent}
	for _, check := range checks {
		if err := check(out, update); err != nil {
			return out, err
		}
	}
	if r.BlkioWeight != 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return out, errdefs.Invalid("invalid --blkio-weight %d: the range of blkio weight is from 10 to 1000 (or 0 for none)", r.BlkioWeight)
	}
	var err error
	if out.BlkioWeightDevice, err = weightDevices(r.BlkioWeightDevice); err != nil {
		return out, err
	}
	for _, t := range []struct {
		flag string
		in   []ThrottleDevice
		out  *[]container.ThrottleDevice
	}{
		{"--device-read-bps", r.BlkioDeviceReadBps, &out.BlkioDeviceReadBps},
		{"--device-write-bps", r.BlkioDeviceWriteBps, &out.BlkioDeviceWriteBps},
		{"--device-read-iops", r.BlkioDeviceReadIOps, &out.BlkioDeviceReadIOps},
		{"--device-write-iops", r.BlkioDeviceWriteIOps, &out.BlkioDeviceWriteIOps},
	} {
		for _, d := range t.in {
			if d.BlockDevice, err = blockDevice(t.flag, d.Path); err != nil {
				return out, err
			}
			*t.out = append(*t.out, d)
		}
	}
	return out, nil
}

// checkMemory is Docker's memory rules.
func checkMemory(r container.Resources, update bool) error {
	switch {
	case r.Memory != 0 && r.Memory < linuxMinMemory:
		return errdefs.Invalid("invalid --memory %d: the minimum memory limit allowed is 6MB", r.Memory)
	case r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return errdefs.Invalid("invalid --memory-swap %d: the minimum memoryswap limit should be larger than the memory limit (%d): --memory-swap is memory plus swap", r.MemorySwap, r.Memory)
	case r.MemorySwap < -1:
		return errdefs.Invalid("invalid --memory-swap %d: give a size, or -1 for unlimited swap", r.MemorySwap)
	case r.Memory == 0 && r.MemorySwap > 0 && !update:
		return errdefs.Invalid("--memory-swap needs --memory: you should always set the memory limit when using the memoryswap limit")
	case r.MemoryReservation != 0 && r.MemoryReservation < linuxMinMemory:
		return errdefs.Invalid("invalid --memory-reservation %d: the minimum memory reservation allowed is 6MB", r.MemoryReservation)
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return errdefs.Invalid("invalid --memory-reservation %d: the memory limit (%d) can not be less than the memory reservation", r.MemoryReservation, r.Memory)
	}
	return nil
}

// checkCPU is Docker's CPU rules, and the kernel's range of shares.
func checkCPU(r container.Resources, _ bool) error {
	ncpu := goruntime.NumCPU()
	switch {
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return errdefs.Invalid("conflicting options: Nano CPUs (--cpus) and CPU Period (--cpu-period) cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return errdefs.Invalid("conflicting options: Nano CPUs (--cpus) and CPU Quota (--cpu-quota) cannot both be set")
	case r.NanoCPUs < 0 || r.NanoCPUs > int64(ncpu)*1e9:
		return errdefs.Invalid("invalid --cpus %s: the range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", strconv.FormatFloat(float64(r.NanoCPUs)/1e9, 'f', -1, 64), ncpu, ncpu)
	case r.CPUShares < 0:
		return errdefs.Invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	case r.CPUShares == 1 || r.CPUShares > 262144:
		return errdefs.Invalid("invalid --cpu-shares %d: the kernel allows 2 to 262144", r.CPUShares)
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return errdefs.Invalid("invalid --cpu-period %d: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", r.CPUPeriod)
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return errdefs.Invalid("invalid --cpu-quota %d: CPU cfs quota can not be less than 1ms (i.e. 1000)", r.CPUQuota)
	case r.CPUQuota < -1:
		return errdefs.Invalid("invalid --cpu-quota %d: give microseconds, or -1 for no quota", r.CPUQuota)
	}
	return checkRealtime(r)
}

// checkRealtime: real-time CPU time needs root and the kernel's RT group
// scheduling (cgroup v1's cpu.rt_runtime_us).
func checkRealtime(r container.Resources) error {
	if r.CPURealtimePeriod == 0 && r.CPURealtimeRuntime == 0 {
		return nil
	}
	period := r.CPURealtimePeriod
	if period == 0 {
		period = 1000000 // the kernel's default
	}
	switch {
	case r.CPURealtimePeriod < 0 || r.CPURealtimeRuntime < -1:
		return errdefs.Invalid("invalid --cpu-rt-period or --cpu-rt-runtime: give microseconds")
	case r.CPURealtimeRuntime > period:
		return errdefs.Invalid("invalid --cpu-rt-runtime %d: cpu real-time runtime cannot be higher than cpu real-time period (--cpu-rt-period, 1000000 µs when not given)", r.CPURealtimeRuntime)
	case paths.Rootless():
		return errdefs.Invalid("--cpu-rt-period and --cpu-rt-runtime need root: a rootless user cannot give containers real-time CPU time")
	case !runtime.HostCgroupSupport().CPURealtime:
		return errdefs.Invalid("--cpu-rt-period and --cpu-rt-runtime: kernel does not support CPU real-time scheduler (no cpu.rt_runtime_us: RT group scheduling needs cgroup v1 and CONFIG_RT_GROUP_SCHED)")
	}
	return nil
}

// checkCpuset checks --cpuset-cpus and --cpuset-mems against the host's
// online CPUs and memory nodes.
func checkCpuset(r container.Resources, _ bool) error {
	for _, s := range []struct{ flag, value, host, what string }{
		{"--cpuset-cpus", r.CpusetCpus, runtime.HostCPUs(), "CPUs"},
		{"--cpuset-mems", r.CpusetMems, runtime.HostMemNodes(), "memory nodes"},
	} {
		if s.value == "" {
			continue
		}
		want, err := parseList(s.value)
		if err != nil {
			return errdefs.Invalid("invalid value %s for %s: %v: give a list like 0-3 or 0,1", s.value, s.flag, err)
		}
		have, _ := parseList(s.host)
		for n := range want {
			if !have[n] {
				return errdefs.Invalid("invalid %s %s: requested %s are not available - requested %s, available: %s", s.flag, s.value, s.what, s.value, s.host)
			}
		}
	}
	return nil
}

// parseList reads the kernel's list syntax: 0-3,5,7-8.
func parseList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("%q is not a number or a range N-M", part)
		}
		for n := a; n <= b; n++ {
			out[n] = true
		}
	}
	return out, nil
}

// checkOomScoreAdj is Docker's range. The kernel lets the container's
// init lower its score below the current value only with
// CAP_SYS_RESOURCE on the host, which a rootless user lacks (and some
// roots, in containers, too): that is refused here, raising is not.
func checkOomScoreAdj(r container.Resources, _ bool) error {
	if r.OomScoreAdj < -1000 || r.OomScoreAdj > 1000 {
		return errdefs.Invalid("invalid --oom-score-adj %d: the range for oom score adj is [-1000, 1000]", r.OomScoreAdj)
	}
	if r.OomScoreAdj == 0 || !paths.Rootless() && hasCapability(unix.CAP_SYS_RESOURCE) {
		return nil
	}
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return nil
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err == nil && r.OomScoreAdj < cur {
		who := "a rootless user"
		if !paths.Rootless() {
			who = "this root (its capabilities are bounded)"
		}
		return errdefs.Invalid("invalid --oom-score-adj %d: a container can raise its OOM score but not lower it below the current value (%d) without CAP_SYS_RESOURCE on the host, which %s lacks: give %d or more", r.OomScoreAdj, cur, who, cur)
	}
	return nil
}

// hasCapability reports whether this process holds capability c in its
// effective set (from /proc/self/status).
func hasCapability(c int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<uint(c)) != 0
		}
	}
	return false
}

func checkCgroupParent(r container.Resources, _ bool) error {
	for _, part := range strings.Split(r.CgroupParent, "/") {
		if part == ".." || part == "." {
			return errdefs.Invalid("invalid --cgroup-parent %q: give a cgroup path without . or .. parts, like /batch", r.CgroupParent)
		}
	}
	return nil
}

// weightDevices checks --blkio-weight-device values and finds the devices.
func weightDevices(in []WeightDevice) ([]container.WeightDevice, error) {
	var out []container.WeightDevice
	for _, d := range in {
		if d.Weight != 0 && (d.Weight < 10 || d.Weight > 1000) {
			return nil, errdefs.Invalid("invalid --blkio-weight-device %s:%d: the weight is from 10 to 1000 (or 0)", d.Path, d.Weight)
		}
		var err error
		if d.BlockDevice, err = blockDevice("--blkio-weight-device", d.Path); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// blockDevice finds a block device's numbers.
func blockDevice(flag, path string) (container.BlockDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return container.BlockDevice{}, errdefs.Invalid("invalid %s %s: %v: give a block device such as /dev/sda", flag, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return container.BlockDevice{}, errdefs.Invalid("invalid %s %s: not a block device: give one such as /dev/sda", flag, path)
	}
	return container.BlockDevice{Path: path, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev))}, nil
}

// adapt does, for a new container, what Docker's daemon does after the
// checks: it drops (with a warning each) what the host cannot limit and
// the Windows settings, and makes the swap limit twice the memory limit
// when only memory is given. Rootless without a cgroup of its own, the
// values are kept and one warning says that none of them applies.
func (o ResourceOptions) adapt(r *container.Resources, s runtime.CgroupSupport, warn func(string)) {
	if o.CPUCount != 0 {
		warn(goruntime.GOOS + " does not support CPU count. Count discarded.")
	}
	if o.CPUPercent != 0 {
		warn(goruntime.GOOS + " does not support CPU percent. Percent discarded.")
	}
	switch {
	case s.Unavailable != "" && r.CgroupLimits():
		warn("resource limits are recorded but not applied: " + s.Unavailable)
	case s.Unavailable == "":
		discardUnsupported(r, s, warn)
	}
	if r.OomKillDisable && r.Memory == 0 {
		warn("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
	}
	if r.Memory > 0 && r.MemorySwap == 0 {
		r.MemorySwap = 2 * r.Memory
	}
}

// discardUnsupported drops the settings the host's cgroups lack, with
// Docker's warnings.
func discardUnsupported(r *container.Resources, s runtime.CgroupSupport, warn func(string)) {
	drop := func(set, supported bool, msg string, clear func()) {
		if set && !supported {
			if s.Systemd {
				msg += " (Rootless: the controller is not delegated to your user slice; see skiff system doctor.)"
			}
			warn(msg)
			clear()
		}
	}
	drop(r.Memory > 0, s.Memory, "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.", func() { r.Memory, r.MemorySwap = 0, -1 })
	drop(r.Memory > 0 && r.MemorySwap != -1, s.Swap, "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.", func() { r.MemorySwap = -1 })
	drop(r.MemorySwappiness != nil, s.Swappiness, "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.", func() { r.MemorySwappiness = nil })
	drop(r.MemoryReservation > 0, s.MemoryReservation, "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.", func() { r.MemoryReservation = 0 })
	drop(r.OomKillDisable, s.OomKillDisable, "Your kernel does not support OomKillDisable. OomKillDisable discarded.", func() { r.OomKillDisable = false })
	drop(r.PidsLimit != nil, s.Pids, "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.", func() { r.PidsLimit = nil })
	drop(r.CPUShares > 0, s.CPUShares, "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.", func() { r.CPUShares = 0 })
	drop(r.CPUPeriod != 0 || r.CPUQuota != 0 || r.NanoCPUs != 0, s.CPUCfs, "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.", func() { r.CPUPeriod, r.CPUQuota, r.NanoCPUs = 0, 0, 0 })
	drop(r.CpusetCpus != "" || r.CpusetMems != "", s.Cpuset, "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.", func() { r.CpusetCpus, r.CpusetMems = "", "" })
	drop(r.BlkioWeight > 0, s.BlkioWeight, "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.", func() { r.BlkioWeight = 0 })
	drop(len(r.BlkioWeightDevice) > 0, s.BlkioWeightDevice, "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.", func() { r.BlkioWeightDevice = nil })
	drop(len(r.BlkioDeviceReadBps) > 0, s.BlkioReadBps, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.", func() { r.BlkioDeviceReadBps = nil })
	drop(len(r.BlkioDeviceWriteBps) > 0, s.BlkioWriteBps, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.", func() { r.BlkioDeviceWriteBps = nil })
	drop(len(r.BlkioDeviceReadIOps) > 0, s.BlkioReadIOps, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.", func() { r.BlkioDeviceReadIOps = nil })
	drop(len(r.BlkioDeviceWriteIOps) > 0, s.BlkioWriteIOps, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.", func() { r.BlkioDeviceWriteIOps = nil })
	if s.Systemd && r.CgroupParent != "" {
		warn("--cgroup-parent is for root: rootless containers are scopes of the user's systemd (user.slice). Cgroup parent discarded.")
		r.CgroupParent = ""
	}
}
