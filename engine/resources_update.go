package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/blkiodev"
	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

// UpdateOptions are what `update` may change on a container: Docker's
// update flags.
type UpdateOptions struct {
	Restart string // a restart policy; "" keeps the container's
	// Resources are the limits to change; zero values (nil lists, a nil
	// PidsLimit) keep the container's, as in Docker's update. A PidsLimit
	// of 0 or -1 lifts the limit.
	Resources ResourceOptions
}

// ContainerUpdate changes a container's restart policy and limits, as
// Docker's update: in its record, and in its cgroup when it runs. A
// failure changes nothing. The warnings are Docker's, for limits the
// host cannot apply (dropped).
func (e *Engine) ContainerUpdate(ctx context.Context, ref string, o UpdateOptions) ([]string, error) {
	var warnings []string
	warn := func(w string) { warnings = append(warnings, w) }
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	var policy *container.RestartPolicy
	if o.Restart != "" {
		p, err := container.ParseRestart(o.Restart)
		if err != nil {
			return nil, err
		}
		policy = &p
	}
	u, err := o.Resources.parse(true)
	if err != nil {
		return nil, err
	}
	if err := o.Resources.updatable(); err != nil {
		return nil, err
	}
	s := runtime.HostCgroupSupport()
	if o.Resources.any() && s.Unavailable != "" {
		return nil, fmt.Errorf("cannot update the limits of %s: %s: %w", c.Name, s.Unavailable, errdefs.ErrUnavailable)
	}
	c, err = container.Update(c.ID, func(c *container.Container) error {
		if policy != nil {
			if c.HostConfig.AutoRemove && policy.Name != "no" {
				return errdefs.Invalid("conflicting options: restart policy %s and the container's --rm: restart policy cannot be updated because AutoRemove is enabled for the container", o.Restart)
			}
			c.HostConfig.RestartPolicy = *policy
		}
		if !o.Resources.any() {
			return nil
		}
		merged, err := mergeUpdate(c.HostConfig.Resources, o.Resources, u)
		if err != nil {
			return err
		}
		discardUnsupported(&merged, s, warn)
		if c.State.Running && !c.State.Restarting {
			err := runtime.UpdateResources(c, merged)
			switch {
			case errors.Is(err, runtime.ErrNoCgroup):
				warn(fmt.Sprintf("%s runs without a cgroup of its own (it was started without limits): the new limits apply from its next start", c.Name))
			case err != nil:
				return err
			}
		}
		c.HostConfig.Resources = merged
		return nil
	})
	if err != nil {
		return warnings, err
	}
	containerEvent(c, "update", nil)
	return warnings, nil
}

// any reports whether an update asks to change a limit.
func (o ResourceOptions) any() bool {
	return o.Memory != 0 || o.MemoryReservation != 0 || o.MemorySwap != 0 || o.NanoCPUs != 0 || o.CPUShares != 0 ||
		o.CPUPeriod != 0 || o.CPUQuota != 0 || o.CPURealtimePeriod != 0 || o.CPURealtimeRuntime != 0 ||
		o.CpusetCpus != "" || o.CpusetMems != "" || o.PidsLimit != nil || o.BlkioWeight != 0 ||
		o.BlkioWeightDevice != nil || o.BlkioDeviceReadBps != nil || o.BlkioDeviceWriteBps != nil ||
		o.BlkioDeviceReadIOps != nil || o.BlkioDeviceWriteIOps != nil
}

// updatable refuses the settings a container keeps for its life (Docker's
// update ignores them): a new container takes them.
func (o ResourceOptions) updatable() error {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"MemorySwappiness", o.MemorySwappiness != nil && *o.MemorySwappiness != -1},
		{"OomKillDisable", o.OomKillDisable}, {"OomScoreAdj", o.OomScoreAdj != 0},
		{"CgroupParent", o.CgroupParent != ""}, {"CpuCount", o.CPUCount != 0}, {"CpuPercent", o.CPUPercent != 0},
	} {
		if f.set {
			return errdefs.Invalid("%s cannot be updated: create a new container with it", f.name)
		}
	}
	return nil
}

// mergeUpdate puts an update's limits (o as given, u parsed) over the
// container's, with Docker's rules: --cpus and --cpu-period/--cpu-quota
// exclude each other across updates, and a memory limit above the swap
// limit needs a new swap limit too.
func mergeUpdate(cur container.Resources, o ResourceOptions, u container.Resources) (container.Resources, error) {
	switch {
	case u.NanoCPUs > 0 && cur.CPUPeriod > 0:
		return cur, errdefs.Invalid("conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
	case u.NanoCPUs > 0 && cur.CPUQuota > 0:
		return cur, errdefs.Invalid("conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
	case u.CPUPeriod > 0 && cur.NanoCPUs > 0:
		return cur, errdefs.Invalid("conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case u.CPUQuota > 0 && cur.NanoCPUs > 0:
		return cur, errdefs.Invalid("conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	case u.Memory != 0 && u.Memory > cur.MemorySwap && u.MemorySwap == 0:
		return cur, errdefs.Invalid("memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time (--memory-swap, -1 for unlimited)")
	}
	m := cur
	setInt := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	setInt(&m.Memory, u.Memory)
	setInt(&m.MemorySwap, u.MemorySwap)
	setInt(&m.MemoryReservation, u.MemoryReservation)
	setInt(&m.NanoCPUs, u.NanoCPUs)
	setInt(&m.CPUShares, u.CPUShares)
	setInt(&m.CPUPeriod, u.CPUPeriod)
	setInt(&m.CPUQuota, u.CPUQuota)
	setInt(&m.CPURealtimePeriod, u.CPURealtimePeriod)
	setInt(&m.CPURealtimeRuntime, u.CPURealtimeRuntime)
	if u.CpusetCpus != "" {
		m.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		m.CpusetMems = u.CpusetMems
	}
	if o.PidsLimit != nil {
		m.PidsLimit = u.PidsLimit // nil for 0 or -1: unlimited
	}
	if u.BlkioWeight != 0 {
		m.BlkioWeight = u.BlkioWeight
	}
	if o.BlkioWeightDevice != nil {
		m.BlkioWeightDevice = u.BlkioWeightDevice
	}
	for _, d := range []struct {
		given bool
		dst   *[]container.ThrottleDevice
		v     []container.ThrottleDevice
	}{
		{o.BlkioDeviceReadBps != nil, &m.BlkioDeviceReadBps, u.BlkioDeviceReadBps},
		{o.BlkioDeviceWriteBps != nil, &m.BlkioDeviceWriteBps, u.BlkioDeviceWriteBps},
		{o.BlkioDeviceReadIOps != nil, &m.BlkioDeviceReadIOps, u.BlkioDeviceReadIOps},
		{o.BlkioDeviceWriteIOps != nil, &m.BlkioDeviceWriteIOps, u.BlkioDeviceWriteIOps},
	} {
		if d.given {
			*d.dst = d.v
		}
	}
	// The result must hold together as a new container's would.
	for _, check := range []func(container.Resources, bool) error{checkMemory, checkCPU} {
		if err := check(m, true); err != nil {
			return cur, err
		}
	}
	return m, nil
}

// inspectResources fills inspect's HostConfig with the container's
// limits, in Docker's shape: empty device lists, null swappiness and
// pids limit when unset, OomKillDisable false.
func inspectResources(out *ctypes.HostConfig, r container.Resources) {
	oomKillDisable := r.OomKillDisable
	out.Resources = ctypes.Resources{
		CPUShares: r.CPUShares, Memory: r.Memory, NanoCPUs: r.NanoCPUs, CgroupParent: r.CgroupParent,
		BlkioWeight: r.BlkioWeight, CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota,
		CPURealtimePeriod: r.CPURealtimePeriod, CPURealtimeRuntime: r.CPURealtimeRuntime,
		CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, MemoryReservation: r.MemoryReservation,
		MemorySwap: r.MemorySwap, MemorySwappiness: r.MemorySwappiness, OomKillDisable: &oomKillDisable,
		PidsLimit: r.PidsLimit, BlkioWeightDevice: []*blkiodev.WeightDevice{},
		BlkioDeviceReadBps: throttleList(r.BlkioDeviceReadBps), BlkioDeviceWriteBps: throttleList(r.BlkioDeviceWriteBps),
		BlkioDeviceReadIOps: throttleList(r.BlkioDeviceReadIOps), BlkioDeviceWriteIOps: throttleList(r.BlkioDeviceWriteIOps),
		// Isolation's (devices, ulimits) come on top of these.
		Devices: out.Devices, DeviceCgroupRules: out.DeviceCgroupRules, DeviceRequests: out.DeviceRequests, Ulimits: out.Ulimits,
	}
	for _, d := range r.BlkioWeightDevice {
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, &blkiodev.WeightDevice{Path: d.Path, Weight: d.Weight})
	}
	out.OomScoreAdj = r.OomScoreAdj
}

func throttleList(ds []container.ThrottleDevice) []*blkiodev.ThrottleDevice {
	out := []*blkiodev.ThrottleDevice{}
	for _, d := range ds {
		out = append(out, &blkiodev.ThrottleDevice{Path: d.Path, Rate: d.Rate})
	}
	return out
}
