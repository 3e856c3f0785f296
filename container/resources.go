package container

// Resources are a container's cgroup limits, parsed and checked when it
// was created (and changed by update), in Docker's units: bytes, CPU
// shares, microseconds of CFS and real-time periods, nano-CPUs. Zero (or
// nil) is "no limit", as in Docker's HostConfig.
type Resources struct {
	Memory            int64 `json:"Memory,omitempty"`
	MemoryReservation int64 `json:"MemoryReservation,omitempty"`
	// MemorySwap is memory plus swap; -1 is unlimited swap. Docker makes
	// it twice Memory when only Memory is given.
	MemorySwap       int64  `json:"MemorySwap,omitempty"`
	MemorySwappiness *int64 `json:"MemorySwappiness,omitempty"`
	OomKillDisable   bool   `json:"OomKillDisable,omitempty"`

	NanoCPUs           int64  `json:"NanoCpus,omitempty"`
	CPUShares          int64  `json:"CpuShares,omitempty"`
	CPUPeriod          int64  `json:"CpuPeriod,omitempty"`
	CPUQuota           int64  `json:"CpuQuota,omitempty"`
	CPURealtimePeriod  int64  `json:"CpuRealtimePeriod,omitempty"`
	CPURealtimeRuntime int64  `json:"CpuRealtimeRuntime,omitempty"`
	CpusetCpus         string `json:"CpusetCpus,omitempty"`
	CpusetMems         string `json:"CpusetMems,omitempty"`

	// PidsLimit is nil for no limit (Docker's null; -1 and 0 too).
	PidsLimit *int64 `json:"PidsLimit,omitempty"`

	BlkioWeight          uint16           `json:"BlkioWeight,omitempty"`
	BlkioWeightDevice    []WeightDevice   `json:"BlkioWeightDevice,omitempty"`
	BlkioDeviceReadBps   []ThrottleDevice `json:"BlkioDeviceReadBps,omitempty"`
	BlkioDeviceWriteBps  []ThrottleDevice `json:"BlkioDeviceWriteBps,omitempty"`
	BlkioDeviceReadIOps  []ThrottleDevice `json:"BlkioDeviceReadIOps,omitempty"`
	BlkioDeviceWriteIOps []ThrottleDevice `json:"BlkioDeviceWriteIOps,omitempty"`

	// OomScoreAdj is not a cgroup: the container's init gets it through
	// /proc/self/oom_score_adj, rootless too.
	OomScoreAdj int `json:"OomScoreAdj,omitempty"`
	// CgroupParent is the cgroup the container's cgroup is made under
	// (root only); "" is skiff's own, /skiff.
	CgroupParent string `json:"CgroupParent,omitempty"`
}

// BlockDevice is a block device as --blkio-weight-device and --device-*-bps
// name it, with its numbers found when the limit was given.
type BlockDevice struct {
	Path  string `json:"Path"`
	Major int64  `json:"Major"`
	Minor int64  `json:"Minor"`
}

// WeightDevice is one --blkio-weight-device DEVICE:WEIGHT.
type WeightDevice struct {
	BlockDevice
	Weight uint16 `json:"Weight"`
}

// ThrottleDevice is one --device-{read,write}-{bps,iops} DEVICE:RATE.
type ThrottleDevice struct {
	BlockDevice
	Rate uint64 `json:"Rate"`
}

// CgroupLimits reports whether r asks for anything of a cgroup (every
// setting but OomScoreAdj).
func (r Resources) CgroupLimits() bool {
	return r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap > 0 || r.MemorySwappiness != nil ||
		r.OomKillDisable || r.NanoCPUs != 0 || r.CPUShares != 0 || r.CPUPeriod != 0 || r.CPUQuota != 0 ||
		r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 || r.CpusetCpus != "" || r.CpusetMems != "" ||
		r.PidsLimit != nil || r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.BlkioDeviceReadBps) > 0 ||
		len(r.BlkioDeviceWriteBps) > 0 || len(r.BlkioDeviceReadIOps) > 0 || len(r.BlkioDeviceWriteIOps) > 0 ||
		r.CgroupParent != ""
}

// CgroupParentDir is the cgroup (from the hierarchy's root) the
// container's cgroup is made under as root: --cgroup-parent, made
// absolute, or /skiff.
func (r Resources) CgroupParentDir() string {
	if r.CgroupParent == "" {
		return "/skiff"
	}
	if r.CgroupParent[0] != '/' {
		return "/" + r.CgroupParent
	}
	return r.CgroupParent
}
