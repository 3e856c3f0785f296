package api

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// isolationOptions carries the request's namespace modes, devices,
// sysctls, ulimits and addresses over to the engine's options, in the
// CLI's syntax, so that both are checked by the same parser.
func isolationOptions(cfg *ctypes.Config, hc *ctypes.HostConfig, ep *network.EndpointSettings) (engine.IsolationOptions, error) {
	io := engine.IsolationOptions{
		PidMode: string(hc.PidMode), IpcMode: string(hc.IpcMode), UTSMode: string(hc.UTSMode),
		UsernsMode: string(hc.UsernsMode), CgroupnsMode: string(hc.CgroupnsMode),
		GroupAdd: hc.GroupAdd, DeviceCgroupRules: hc.DeviceCgroupRules, Links: hc.Links,
		Domainname: cfg.Domainname, Runtime: hc.Runtime, Isolation: string(hc.Isolation), VolumeDriver: hc.VolumeDriver,
	}
	var err error
	if io.ShmSize, err = shmSizeOption("HostConfig.ShmSize", hc.ShmSize); err != nil {
		return io, err
	}
	for _, k := range sortedKeys(hc.Sysctls) {
		io.Sysctls = append(io.Sysctls, k+"="+hc.Sysctls[k])
	}
	for _, k := range sortedKeys(hc.Annotations) {
		io.Annotations = append(io.Annotations, k+"="+hc.Annotations[k])
	}
	for _, k := range sortedKeys(hc.StorageOpt) {
		io.StorageOpts = append(io.StorageOpts, k+"="+hc.StorageOpt[k])
	}
	io.Ulimits = ulimitOptions(hc.Ulimits)
	for _, d := range hc.Devices {
		io.Devices = append(io.Devices, strings.Join([]string{d.PathOnHost, cmp.Or(d.PathInContainer, d.PathOnHost), cmp.Or(d.CgroupPermissions, "rwm")}, ":"))
	}
	for _, r := range hc.DeviceRequests {
		if err := deviceRequest(r, &io); err != nil {
			return io, err
		}
	}
	if ep != nil && ep.IPAMConfig != nil {
		if a := ep.IPAMConfig.IPv4Address; a.IsValid() {
			io.IP = a.String()
		}
		if a := ep.IPAMConfig.IPv6Address; a.IsValid() {
			io.IP6 = a.String()
		}
		io.LinkLocalIPs = addrStrings(ep.IPAMConfig.LinkLocalIPs)
	}
	return io, nil
}

// shmSizeOption is Docker's /dev/shm size in bytes (0: the default) as
// --shm-size's value.
func shmSizeOption(field string, n int64) (string, error) {
	switch {
	case n < 0:
		return "", errdefs.Invalid("invalid %s %d: bytes, not negative", field, n)
	case n == 0:
		return "", nil
	}
	return strconv.FormatInt(n, 10), nil
}

// ulimitOptions are Docker's ulimits as --ulimit values.
func ulimitOptions(us []*ctypes.Ulimit) []string {
	var out []string
	for _, u := range us {
		if u != nil {
			out = append(out, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
	}
	return out
}

// deviceRequest turns one of Docker's DeviceRequests into --gpus (the
// nvidia driver, or none with the gpu capability) or CDI device names
// (the cdi driver).
func deviceRequest(r ctypes.DeviceRequest, io *engine.IsolationOptions) error {
	switch {
	case r.Driver == "cdi":
		io.Devices = append(io.Devices, r.DeviceIDs...)
		return nil
	case r.Driver != "" && r.Driver != "nvidia":
		return unsupported("HostConfig.DeviceRequests driver "+r.Driver, "GPUs come from CDI specs: drivers nvidia and cdi")
	case io.GPUs != "":
		return unsupported("HostConfig.DeviceRequests with several GPU requests", "one --gpus per container")
	case len(r.DeviceIDs) > 0:
		io.GPUs = "device=" + strings.Join(r.DeviceIDs, ",")
	case r.Count < 0:
		io.GPUs = "all"
	case r.Count > 0:
		io.GPUs = strconv.Itoa(r.Count)
	default:
		return errdefs.Invalid("invalid HostConfig.DeviceRequests: give Count (-1 for all) or DeviceIDs")
	}
	return nil
}

// connectOptions are an endpoint's settings as network connect's options.
func connectOptions(ep *network.EndpointSettings) engine.NetworkConnectOptions {
	o := engine.NetworkConnectOptions{Aliases: ep.Aliases, Links: ep.Links, DriverOpts: ep.DriverOpts}
	if c := ep.IPAMConfig; c != nil {
		if c.IPv4Address.IsValid() {
			o.IPv4 = c.IPv4Address.String()
		}
		if c.IPv6Address.IsValid() {
			o.IPv6 = c.IPv6Address.String()
		}
		o.LinkLocalIPs = addrStrings(c.LinkLocalIPs)
	}
	return o
}

// addrStrings are addresses as text.
func addrStrings(addrs []netip.Addr) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// networkIPAM is one of the API's IPAM.Config entries as the engine's.
func networkIPAM(c network.IPAMConfig) engine.NetworkIPAM {
	out := engine.NetworkIPAM{}
	if c.Subnet.IsValid() {
		out.Subnet = c.Subnet.String()
	}
	if c.Gateway.IsValid() {
		out.Gateway = c.Gateway.String()
	}
	if c.IPRange.IsValid() {
		out.IPRange = c.IPRange.String()
	}
	for k, v := range c.AuxAddress {
		if out.AuxAddresses == nil {
			out.AuxAddresses = map[string]string{}
		}
		out.AuxAddresses[k] = v.String()
	}
	return out
}
