package engine

import (
	"context"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	mstorage "github.com/moby/moby/api/types/storage"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/storage"
)

// zeroTime is how Docker shows a time that has not happened yet.
const zeroTime = "0001-01-01T00:00:00Z"

// ContainerInspect is Docker's inspect document of a container, as Docker
// sends it to clients of API 1.47: with the default network's settings
// also at the top of NetworkSettings.
type ContainerInspect struct {
	ctypes.InspectResponse
	NetworkSettings *NetworkSettings `json:"NetworkSettings"`
}

// NetworkSettings are Docker's, with the fields of the container's
// default network at the top, as Docker keeps them for API < 1.52 (and
// scripts that read {{.NetworkSettings.IPAddress}}).
type NetworkSettings struct {
	ctypes.NetworkSettings
	EndpointID          string
	Gateway             string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	MacAddress          string
}

// ContainerInspect returns Docker's inspect document of a container; with
// size, SizeRw and SizeRootFs too.
func (e *Engine) ContainerInspect(ctx context.Context, ref string, size bool) (*ContainerInspect, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	res := inspectContainer(c)
	if size {
		err := e.withStore(func(st *storage.Store) error {
			rw, rootfs := containerSizes(st, c.ID, c.ImageID)
			res.SizeRw, res.SizeRootFs = &rw, &rootfs
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func inspectContainer(c *container.Container) *ContainerInspect {
	s := c.State
	state := &ctypes.State{
		Status: ctypes.ContainerState(s.Status), Running: s.Running, Paused: s.Paused, Restarting: s.Restarting,
		OOMKilled: s.OOMKilled, Dead: s.Dead, Pid: s.Pid, ExitCode: s.ExitCode, Error: s.Error,
		StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt),
	}
	if h := s.Health; h != nil {
		state.Health = &ctypes.Health{Status: ctypes.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*ctypes.HealthcheckResult{}}
		for _, l := range h.Log {
			state.Health.Log = append(state.Health.Log, &ctypes.HealthcheckResult{Start: l.Start, End: l.End, ExitCode: l.ExitCode, Output: l.Output})
		}
	}
	return &ContainerInspect{
		InspectResponse: ctypes.InspectResponse{
			ID: c.ID, Created: c.Created.Format(time.RFC3339Nano), Path: c.Path, Args: nonNil(c.Args),
			State: state, Image: "sha256:" + c.ImageID,
			ResolvConfPath: filepath.Join(c.Dir(), "resolv.conf"), HostnamePath: filepath.Join(c.Dir(), "hostname"),
			HostsPath: filepath.Join(c.Dir(), "hosts"), LogPath: c.LogPath, Name: "/" + c.Name,
			RestartCount: c.RestartCount, Driver: "overlay", Platform: "linux",
			GraphDriver: &mstorage.DriverData{Name: "overlay", Data: map[string]string{}},
			HostConfig:  inspectHostConfig(c), Mounts: mountPointsOf(c), Config: inspectConfig(c),
		},
		NetworkSettings: inspectNetworkSettings(c),
	}
}

// inspectNetworkSettings are the container's networks, the first one's
// (or, rootless in its own namespace, slirp4netns's) settings at the top.
func inspectNetworkSettings(c *container.Container) *NetworkSettings {
	ns := &NetworkSettings{NetworkSettings: ctypes.NetworkSettings{Ports: inspectPorts(c), Networks: inspectNetworks(c)}}
	if !c.State.Running {
		return ns
	}
	if names := c.NetworkNames(); len(names) > 0 {
		e := c.NetworkSettings.Networks[names[0]]
		ns.IPAddress, ns.IPPrefixLen, ns.Gateway = e.IPAddress, e.PrefixLen, e.Gateway
	} else if c.Outbound() {
		ns.IPAddress, ns.IPPrefixLen, ns.Gateway = netns.SlirpGuest, 24, netns.SlirpGateway
	}
	if ns.IPAddress != "" {
		ns.MacAddress = c.Config.MacAddress
	}
	return ns
}

func inspectConfig(c *container.Container) *ctypes.Config {
	cc := c.Config
	cfg := &ctypes.Config{
		Hostname: firstNonEmpty(cc.Hostname, c.ID[:12]), User: cc.User, Env: cc.Env, Cmd: cc.Cmd,
		Entrypoint: cc.Entrypoint, WorkingDir: cc.WorkingDir, Labels: cc.Labels, Image: c.Image,
		Tty: cc.Tty, OpenStdin: cc.OpenStdin, AttachStdin: cc.OpenStdin, AttachStdout: true, AttachStderr: true,
		StopSignal: cc.StopSignal, StopTimeout: cc.StopTimeout, ExposedPorts: portSet(cc.ExposedPorts),
		Domainname: c.HostConfig.Isolation.Domainname,
	}
	if h := cc.Healthcheck; h != nil {
		cfg.Healthcheck = &ctypes.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries, StartInterval: h.StartInterval}
	}
	return cfg
}

func inspectHostConfig(c *container.Container) *ctypes.HostConfig {
	hc := c.HostConfig
	init := hc.Init
	out := &ctypes.HostConfig{
		Binds: hc.Binds, NetworkMode: ctypes.NetworkMode(hc.NetworkMode),
		RestartPolicy: ctypes.RestartPolicy{Name: ctypes.RestartPolicyMode(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		AutoRemove:    hc.AutoRemove, VolumesFrom: hc.VolumesFrom, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		Privileged: hc.Privileged, SecurityOpt: hc.SecurityOpt, ReadonlyRootfs: hc.ReadonlyRootfs, Init: &init,
		LogConfig:    ctypes.LogConfig{Type: hc.LogConfig.Type, Config: hc.LogConfig.Config},
		PortBindings: portMap(hc.PortBindings), PublishAllPorts: hc.PublishAllPorts, Runtime: DefaultRuntime,
		DNS: []netip.Addr{}, DNSSearch: nonNil(hc.DNSSearch), DNSOptions: nonNil(hc.DNSOptions), ExtraHosts: hc.ExtraHosts,
		Tmpfs: map[string]string{},
	}
	for _, d := range hc.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			out.DNS = append(out.DNS, a)
		}
	}
	inspectIsolation(c, out)
	for _, m := range hc.Mounts {
		switch m.Origin {
		case container.FromTmpfsFlag:
			out.Tmpfs[m.Destination] = m.TmpfsOptions()
		case container.FromMountFlag:
			out.Mounts = append(out.Mounts, mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Destination, ReadOnly: m.ReadOnly})
		}
	}
	inspectResources(out, hc.Resources) // engine/resources_update.go
	return out
}

// mountPointsOf is inspect's Mounts: binds and volumes, as mounted.
func mountPointsOf(c *container.Container) []ctypes.MountPoint {
	out := []ctypes.MountPoint{}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == container.MountTmpfs {
			continue
		}
		mp := ctypes.MountPoint{Type: mount.Type(m.Type), Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly, Propagation: mount.PropagationRPrivate}
		for _, o := range m.Options {
			mp.Propagation = mount.Propagation(o)
		}
		if m.ReadOnly {
			mp.Mode = "ro"
		}
		if m.Type == container.MountVolume {
			mp.Name, mp.Driver = m.Source, "local"
			if v, err := storage.GetVolume(m.Source); err == nil {
				mp.Source = v.Mountpoint
			}
		}
		out = append(out, mp)
	}
	return out
}

// inspectNetworks is NetworkSettings.Networks: the user-defined networks
// with their addresses, or the mode.
func inspectNetworks(c *container.Container) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for name, e := range c.NetworkSettings.Networks {
		ep := &network.EndpointSettings{NetworkID: e.NetworkID, Aliases: e.Aliases, IPPrefixLen: e.PrefixLen, DNSNames: append([]string{c.Name}, e.Aliases...)}
		ep.IPAddress, _ = netip.ParseAddr(e.IPAddress)
		ep.Gateway, _ = netip.ParseAddr(e.Gateway)
		ep.IPAMConfig = endpointIPAM(c, name, e)
		ep.GlobalIPv6Address, _ = netip.ParseAddr(e.IPv6Address)
		ep.GlobalIPv6PrefixLen = e.IPv6PrefixLen
		ep.IPv6Gateway, _ = netip.ParseAddr(e.IPv6Gateway)
		out[name] = ep
	}
	if len(out) == 0 {
		out[c.HostConfig.NetworkMode] = &network.EndpointSettings{}
	}
	return out
}

// inspectPorts is NetworkSettings.Ports: while running, the published
// ports with their host bindings and the exposed ones with null.
func inspectPorts(c *container.Container) network.PortMap {
	out := network.PortMap{}
	if !c.State.Running {
		return out
	}
	for k := range c.Config.ExposedPorts {
		if p, err := network.ParsePort(k); err == nil {
			out[p] = nil
		}
	}
	for k, v := range portMap(c.NetworkSettings.Ports) {
		out[k] = v
	}
	return out
}

// portMap turns skiff's port bindings into Docker's.
func portMap(pm netns.PortMap) network.PortMap {
	out := network.PortMap{}
	for k, bs := range pm {
		p, err := network.ParsePort(k)
		if err != nil {
			continue
		}
		list := []network.PortBinding{}
		for _, b := range bs {
			pb := network.PortBinding{HostPort: b.HostPort}
			pb.HostIP, _ = netip.ParseAddr(b.HostIP)
			list = append(list, pb)
		}
		out[p] = list
	}
	return out
}

func portSet(ports map[string]struct{}) network.PortSet {
	if ports == nil {
		return nil
	}
	out := network.PortSet{}
	for k := range ports {
		if p, err := network.ParsePort(k); err == nil {
			out[p] = struct{}{}
		}
	}
	return out
}

// containerSizes are the container's own layer and that plus its image.
func containerSizes(st *storage.Store, id, imageID string) (rw, rootfs int64) {
	if n, err := st.Raw().ContainerSize(id); err == nil {
		rw = n
	}
	rootfs = rw
	if img, err := st.LookupImage(imageID); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs
}

// statusText is Docker's Status: "Up 5 minutes (healthy)", "Exited (0) 3
// seconds ago", "Created".
func statusText(c *container.Container) string {
	s := c.State
	switch s.Status {
	case container.StatusRunning, container.StatusPaused:
		t := "Up " + units.HumanDuration(time.Since(s.StartedAt))
		if s.Paused {
			t += " (Paused)"
		}
		if s.Health != nil {
			switch s.Health.Status {
			case "starting":
				t += " (health: starting)"
			default:
				t += " (" + s.Health.Status + ")"
			}
		}
		return t
	case container.StatusRestarting:
		return "Restarting (" + strconv.Itoa(s.ExitCode) + ") " + units.HumanDuration(time.Since(s.FinishedAt)) + " ago"
	case container.StatusExited:
		return "Exited (" + strconv.Itoa(s.ExitCode) + ") " + units.HumanDuration(time.Since(s.FinishedAt)) + " ago"
	case container.StatusDead:
		return "Dead"
	case container.StatusRemoving:
		return "Removal In Progress"
	}
	return "Created"
}

// summarize is a container's line in Docker's list.
func summarize(c *container.Container) ctypes.Summary {
	sm := ctypes.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Image, ImageID: "sha256:" + c.ImageID,
		Command: strings.Join(append([]string{c.Path}, c.Args...), " "), Created: c.Created.Unix(),
		Ports: []ctypes.PortSummary{}, Labels: c.Config.Labels, State: ctypes.ContainerState(c.State.Status),
		Status: statusText(c), Mounts: mountPointsOf(c),
		NetworkSettings: &ctypes.NetworkSettingsSummary{Networks: inspectNetworks(c)},
	}
	sm.HostConfig.NetworkMode = c.HostConfig.NetworkMode
	if h := c.State.Health; h != nil {
		sm.Health = &ctypes.HealthSummary{Status: ctypes.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	for k, bs := range c.NetworkSettings.Ports {
		p, err := network.ParsePort(k)
		if err != nil {
			continue
		}
		for _, b := range bs {
			ps := ctypes.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())}
			ps.IP, _ = netip.ParseAddr(b.HostIP)
			if n, err := strconv.Atoi(b.HostPort); err == nil {
				ps.PublicPort = uint16(n)
			}
			sm.Ports = append(sm.Ports, ps)
		}
	}
	sort.Slice(sm.Ports, func(i, j int) bool {
		a, b := sm.Ports[i], sm.Ports[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		return a.IP.Less(b.IP)
	})
	return sm
}

func dockerTime(t time.Time) string {
	if t.IsZero() {
		return zeroTime
	}
	return t.Format(time.RFC3339Nano)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
