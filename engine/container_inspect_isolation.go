package engine

import (
	"net/netip"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/container"
)

// inspectIsolation fills Docker's HostConfig fields of the namespace
// modes, devices, sysctls and ulimits (container.Isolation).
func inspectIsolation(c *container.Container, out *ctypes.HostConfig) {
	iso := c.HostConfig.Isolation
	out.PidMode = ctypes.PidMode(iso.PidMode)
	out.IpcMode = ctypes.IpcMode(iso.IpcModeOf())
	out.UTSMode = ctypes.UTSMode(iso.UTSMode)
	out.UsernsMode = ctypes.UsernsMode(iso.UsernsMode)
	out.CgroupnsMode = ctypes.CgroupnsMode(firstNonEmpty(iso.CgroupnsMode, "host"))
	out.GroupAdd, out.Sysctls, out.Annotations = iso.GroupAdd, iso.Sysctls, iso.Annotations
	out.ShmSize = iso.ShmSize
	if out.ShmSize == 0 {
		out.ShmSize = container.DefaultShmSize
	}
	out.Ulimits = []*ctypes.Ulimit{}
	for _, u := range iso.Ulimits {
		out.Ulimits = append(out.Ulimits, &units.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	out.Devices = []ctypes.DeviceMapping{}
	for _, d := range iso.Devices {
		out.Devices = append(out.Devices, ctypes.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions})
	}
	out.DeviceCgroupRules = iso.DeviceCgroupRules
	out.DeviceRequests = gpuRequests(iso)
	for _, l := range iso.Links {
		out.Links = append(out.Links, "/"+l.Name+":/"+c.Name+"/"+l.Alias)
	}
}

// gpuRequests is --gpus as Docker's DeviceRequests.
func gpuRequests(iso container.Isolation) []ctypes.DeviceRequest {
	if iso.GPUs == "" {
		return nil
	}
	r := ctypes.DeviceRequest{Count: -1, Capabilities: [][]string{{"gpu"}}}
	var ids []string
	for _, d := range iso.CDIDevices {
		if id, ok := strings.CutPrefix(d, "nvidia.com/gpu="); ok && id != "all" {
			ids = append(ids, id)
		}
	}
	if n, err := strconv.Atoi(iso.GPUs); err == nil {
		r.Count = n
	} else if len(ids) > 0 && strings.Contains(iso.GPUs, "device=") {
		r.Count, r.DeviceIDs = 0, ids
	}
	return []ctypes.DeviceRequest{r}
}

// endpointIPAM is an endpoint's fixed address (--ip, network connect
// --ip) in Docker's shape.
func endpointIPAM(c *container.Container, name string, e *container.EndpointSettings) *network.EndpointIPAMConfig {
	v4, v6 := c.HostConfig.Isolation.IPv4Address, c.HostConfig.Isolation.IPv6Address
	if e.IPAMConfig != nil {
		v4, v6 = e.IPAMConfig.IPv4Address, e.IPAMConfig.IPv6Address
	} else if name != c.HostConfig.NetworkMode {
		v4, v6 = "", ""
	}
	if v4 == "" && v6 == "" {
		return nil
	}
	out := &network.EndpointIPAMConfig{}
	out.IPv4Address, _ = netip.ParseAddr(v4)
	out.IPv6Address, _ = netip.ParseAddr(v6)
	return out
}
