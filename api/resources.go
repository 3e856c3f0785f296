package api

import (
	"net/http"
	"strconv"

	"github.com/moby/moby/api/types/blkiodev"
	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// limitFields are the fields of Docker's HostConfig.Resources that
// resourceOptions carries over (the rest, devices and ulimits, are not
// limits).
var limitFields = map[string]bool{
	"CPUShares": true, "Memory": true, "NanoCPUs": true, "CgroupParent": true, "BlkioWeight": true,
	"BlkioWeightDevice": true, "BlkioDeviceReadBps": true, "BlkioDeviceWriteBps": true,
	"BlkioDeviceReadIOps": true, "BlkioDeviceWriteIOps": true, "CPUPeriod": true, "CPUQuota": true,
	"CPURealtimePeriod": true, "CPURealtimeRuntime": true, "CpusetCpus": true, "CpusetMems": true,
	"MemoryReservation": true, "MemorySwap": true, "MemorySwappiness": true, "OomKillDisable": true,
	"PidsLimit": true, "CPUCount": true, "CPUPercent": true, "IOMaximumIOps": true, "IOMaximumBandwidth": true,
}

// resourceOptions turns Docker's HostConfig.Resources (and OomScoreAdj)
// into the engine's limits; the engine checks them as Docker's daemon.
func resourceOptions(r ctypes.Resources, oomScoreAdj int) (engine.ResourceOptions, error) {
	o := engine.ResourceOptions{
		Memory: r.Memory, MemoryReservation: r.MemoryReservation, MemorySwap: r.MemorySwap,
		MemorySwappiness: r.MemorySwappiness, NanoCPUs: r.NanoCPUs, CPUShares: r.CPUShares,
		CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CPURealtimePeriod: r.CPURealtimePeriod,
		CPURealtimeRuntime: r.CPURealtimeRuntime, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems,
		PidsLimit: r.PidsLimit, BlkioWeight: r.BlkioWeight, OomScoreAdj: oomScoreAdj,
		CgroupParent: r.CgroupParent, CPUCount: r.CPUCount, CPUPercent: r.CPUPercent,
	}
	switch {
	case r.IOMaximumBandwidth != 0:
		return o, errdefs.Invalid("invalid option: QoS maximum bandwidth configuration (IOMaximumBandwidth) is not supported on linux: use BlkioDeviceWriteBps")
	case r.IOMaximumIOps != 0:
		return o, errdefs.Invalid("invalid option: QoS maximum IOPs configuration (IOMaximumIOps) is not supported on linux: use BlkioDeviceWriteIOps")
	}
	if r.OomKillDisable != nil {
		o.OomKillDisable = *r.OomKillDisable
	}
	if r.BlkioWeightDevice != nil {
		o.BlkioWeightDevice = []engine.WeightDevice{}
	}
	for _, d := range r.BlkioWeightDevice {
		if d != nil {
			o.BlkioWeightDevice = append(o.BlkioWeightDevice, engine.WeightDevice{BlockDevice: engine.BlockDevice{Path: d.Path}, Weight: d.Weight})
		}
	}
	o.BlkioDeviceReadBps, o.BlkioDeviceWriteBps = throttles(r.BlkioDeviceReadBps), throttles(r.BlkioDeviceWriteBps)
	o.BlkioDeviceReadIOps, o.BlkioDeviceWriteIOps = throttles(r.BlkioDeviceReadIOps), throttles(r.BlkioDeviceWriteIOps)
	return o, nil
}

// throttles keeps nil (not given) apart from an empty list (none).
func throttles(in []*blkiodev.ThrottleDevice) []engine.ThrottleDevice {
	if in == nil {
		return nil
	}
	out := []engine.ThrottleDevice{}
	for _, d := range in {
		if d != nil {
			out = append(out, engine.ThrottleDevice{BlockDevice: engine.BlockDevice{Path: d.Path}, Rate: d.Rate})
		}
	}
	return out
}

// updateContainer is POST /containers/{id}/update: Docker's update of the
// restart policy and the limits, through the engine's update.
func (s *Server) updateContainer(w http.ResponseWriter, r *http.Request, p params) error {
	var u ctypes.UpdateConfig
	if err := decodeJSON(r, &u, false); err != nil {
		return err
	}
	if err := refuseUnsupported(&ctypes.Config{}, &ctypes.HostConfig{Resources: u.Resources}); err != nil {
		return err
	}
	res, err := resourceOptions(u.Resources, 0)
	if err != nil {
		return err
	}
	o := engine.UpdateOptions{Resources: res, Restart: string(u.RestartPolicy.Name)}
	if u.RestartPolicy.MaximumRetryCount != 0 {
		o.Restart += ":" + strconv.Itoa(u.RestartPolicy.MaximumRetryCount)
	}
	warnings, err := s.e.ContainerUpdate(r.Context(), p["id"], o)
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusOK, ctypes.UpdateResponse{Warnings: warnings})
	return nil
}
