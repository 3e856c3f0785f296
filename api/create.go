package api

import (
	"fmt"
	"net/http"
	"reflect"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// unsupported is the 400 for a setting skiff cannot honour: the request
// fails rather than the setting being dropped.
func unsupported(field, why string) error {
	return errdefs.Invalid("%s is not supported by skiff (%s): leave it unset", field, why)
}

// createOptions turns Docker's container create request into the
// engine's options: every field is either carried over or, when set to
// something skiff cannot do, refused with the field's name.
func createOptions(name string, req *ctypes.CreateRequest) (engine.ContainerCreateOptions, map[string]*network.EndpointSettings, error) {
	cfg := req.Config
	if cfg == nil {
		cfg = &ctypes.Config{}
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &ctypes.HostConfig{}
	}
	o := engine.ContainerCreateOptions{
		Image: cfg.Image, Name: strings.TrimPrefix(name, "/"), Cmd: cfg.Cmd, Env: cfg.Env,
		Workdir: cfg.WorkingDir, User: cfg.User, Hostname: cfg.Hostname, Labels: cfg.Labels,
		Binds: hc.Binds, VolumesFrom: hc.VolumesFrom, ReadOnly: hc.ReadonlyRootfs,
		PublishAll: hc.PublishAllPorts, ExtraHosts: hc.ExtraHosts,
		DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions,
		CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, Privileged: hc.Privileged, SecurityOpt: hc.SecurityOpt,
		AutoRemove: hc.AutoRemove, StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout,
		Interactive: cfg.OpenStdin, TTY: cfg.Tty, LogDriver: hc.LogConfig.Type,
	}
	if cfg.Entrypoint != nil {
		o.EntrypointSet = true
		if len(cfg.Entrypoint) > 1 || len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] != "" {
			o.Entrypoint = cfg.Entrypoint
		}
	}
	for _, d := range hc.DNS {
		o.DNS = append(o.DNS, d.String())
	}
	for _, k := range sortedKeys(hc.LogConfig.Config) {
		o.LogOpts = append(o.LogOpts, k+"="+hc.LogConfig.Config[k])
	}
	if hc.Init != nil {
		o.Init = *hc.Init
	}
	for _, p := range sortedKeys(cfg.ExposedPorts) {
		o.Expose = append(o.Expose, p.String())
	}
	switch r := hc.RestartPolicy; r.Name {
	case "", "no":
		if r.MaximumRetryCount != 0 {
			return o, nil, errdefs.Invalid("invalid restart policy: MaximumRetryCount needs on-failure")
		}
	case "on-failure":
		o.Restart = "on-failure"
		if r.MaximumRetryCount != 0 {
			o.Restart += ":" + strconv.Itoa(r.MaximumRetryCount)
		}
	default:
		if r.MaximumRetryCount != 0 {
			return o, nil, errdefs.Invalid("invalid restart policy: MaximumRetryCount needs on-failure, not %s", r.Name)
		}
		o.Restart = string(r.Name)
	}
	if h := cfg.Healthcheck; h != nil {
		o.Health = engine.HealthOptions{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries, StartInterval: h.StartInterval}
	}
	// Ports.
	for _, p := range sortedKeys(hc.PortBindings) {
		for _, b := range hc.PortBindings[p] {
			spec := p.String()
			switch ip := b.HostIP; {
			case ip.IsValid() && ip.Is6():
				spec = "[" + ip.String() + "]:" + b.HostPort + ":" + spec
			case ip.IsValid():
				spec = ip.String() + ":" + b.HostPort + ":" + spec
			case b.HostPort != "":
				spec = b.HostPort + ":" + spec
			}
			o.Publish = append(o.Publish, spec)
		}
	}
	// Mounts: -v's strings, the image-style anonymous volumes, --mount's
	// structs and --tmpfs's map.
	taken := map[string]bool{}
	for _, m := range hc.Mounts {
		f, err := mountFields(m)
		if err != nil {
			return o, nil, err
		}
		o.MountSpecs = append(o.MountSpecs, f)
		taken[m.Target] = true
	}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) >= 2 {
			taken[parts[1]] = true
		}
	}
	for _, p := range sortedKeys(hc.Tmpfs) {
		t := p
		if opts := hc.Tmpfs[p]; opts != "" {
			t += ":" + opts
		}
		o.Tmpfs = append(o.Tmpfs, t)
		taken[p] = true
	}
	for _, p := range sortedKeys(cfg.Volumes) {
		if !taken[p] {
			o.Binds = append(o.Binds, p)
		}
	}
	// Networks.
	mode := string(hc.NetworkMode)
	switch {
	case cfg.NetworkDisabled:
		mode = "none"
	case mode == "default":
		mode = ""
	}
	o.NetworkMode = mode
	var extra map[string]*network.EndpointSettings
	var primary *network.EndpointSettings
	if req.NetworkingConfig != nil {
		eps := req.NetworkingConfig.EndpointsConfig
		if mode == "" && len(eps) == 1 {
			// docker run --network NAME sends the network both ways;
			// some clients only in EndpointsConfig.
			for netName := range eps {
				if !builtinNetwork(netName) {
					mode, o.NetworkMode = netName, netName
				}
			}
		}
		for _, netName := range sortedKeys(eps) {
			ep := eps[netName]
			if ep == nil {
				ep = &network.EndpointSettings{}
			}
			if netName == mode || builtinNetwork(netName) && builtinNetwork(mode) {
				primary = ep
				o.Aliases = ep.Aliases
				if len(ep.MacAddress) > 0 {
					o.MacAddress = ep.MacAddress.String()
				}
				continue
			}
			if extra == nil {
				extra = map[string]*network.EndpointSettings{}
			}
			extra[netName] = ep
		}
	}
	if err := refuseUnsupported(cfg, hc); err != nil {
		return o, nil, err
	}
	res, err := resourceOptions(hc.Resources, hc.OomScoreAdj) // api/resources.go
	if err != nil {
		return o, nil, err
	}
	o.Resources = res
	if o.Isolation, err = isolationOptions(cfg, hc, primary); err != nil {
		return o, nil, err
	}
	if primary != nil {
		o.Isolation.Links = append(o.Isolation.Links, primary.Links...)
	}
	return o, extra, nil
}

// mountFields carries one of the API's mounts over to --mount's fields.
func mountFields(m mount.Mount) (engine.MountFields, error) {
	f := engine.MountFields{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	what := "HostConfig.Mounts (target " + m.Target + ")"
	if m.ImageOptions != nil || m.ClusterOptions != nil {
		return f, unsupported(what+" of type "+string(m.Type), "bind, volume and tmpfs mounts only")
	}
	if b := m.BindOptions; b != nil {
		if b.NonRecursive || b.ReadOnlyNonRecursive || b.ReadOnlyForceRecursive || b.CreateMountpoint {
			return f, unsupported(what+".BindOptions", "only Propagation")
		}
		f.Propagation = string(b.Propagation)
	}
	if v := m.VolumeOptions; v != nil {
		if v.Subpath != "" || v.DriverConfig != nil && v.DriverConfig.Name != "" && v.DriverConfig.Name != "local" || len(v.Labels) > 0 {
			return f, unsupported(what+".VolumeOptions", "only NoCopy, with the local driver")
		}
		f.NoCopy = v.NoCopy
	}
	if t := m.TmpfsOptions; t != nil {
		if len(t.Options) > 0 {
			return f, unsupported(what+".TmpfsOptions.Options", "only SizeBytes and Mode")
		}
		if t.SizeBytes > 0 {
			f.TmpfsSize = strconv.FormatInt(t.SizeBytes, 10)
		}
		if t.Mode != 0 {
			f.TmpfsMode = strconv.FormatUint(uint64(t.Mode.Perm()), 8)
		}
	}
	return f, nil
}

// refuseUnsupported names the first field set to something skiff does
// not do yet (resource limits: issue 15). The namespace modes, devices,
// sysctls and ulimits are checked by the engine (isolationOptions).
func refuseUnsupported(cfg *ctypes.Config, hc *ctypes.HostConfig) error {
	// Modes, each with the values that say what skiff does anyway.
	for _, m := range []struct {
		field, value string
		ok           []string
		why          string
	}{
		{"Cgroup", string(hc.Cgroup), nil, "every container has its own namespaces"},
	} {
		if m.value != "" && !slices.Contains(m.ok, m.value) {
			return unsupported("HostConfig."+m.field+" "+m.value, m.why)
		}
	}
	// MaskedPaths and ReadonlyPaths set but empty unmask everything.
	switch {
	case hc.MaskedPaths != nil:
		return unsupported("HostConfig.MaskedPaths", "Docker's masked paths only")
	case hc.ReadonlyPaths != nil:
		return unsupported("HostConfig.ReadonlyPaths", "Docker's read-only paths only")
	}
	if f := firstSet(reflect.ValueOf(*hc), "Umask"); f != "" {
		return unsupported("HostConfig."+f, "not yet")
	}
	r := hc.Resources
	r.Devices, r.DeviceCgroupRules, r.DeviceRequests, r.Ulimits = nil, nil, nil, nil // isolationOptions
	var all []string
	for _, f := range reflect.VisibleFields(reflect.TypeOf(r)) {
		if !limitFields[f.Name] { // api/resources.go
			all = append(all, f.Name)
		}
	}
	if f := firstSet(reflect.ValueOf(r), all...); f != "" {
		return unsupported("HostConfig."+f, "not supported by skiff")
	}
	return nil
}

// firstSet names the first of a struct's fields that is set: not zero,
// and not an empty list or map.
func firstSet(v reflect.Value, fields ...string) string {
	for _, f := range fields {
		fv := v.FieldByName(f)
		if !fv.IsValid() || fv.IsZero() || (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
			continue
		}
		return f
	}
	return ""
}

// builtinNetwork reports whether a network mode is one of the built-in
// ones rather than a user-defined network's name.
func builtinNetwork(mode string) bool {
	switch mode {
	case "", "default", "bridge", "private", "slirp4netns", "host", "none":
		return true
	}
	return strings.HasPrefix(mode, "container:")
}

func hostArch() string { return goruntime.GOARCH }

func sortedKeys[K interface{ comparable }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	return keys
}

// createContainer is POST /containers/create.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request, _ params) error {
	var req ctypes.CreateRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if p := r.FormValue("platform"); p != "" && p != "linux" && p != "linux/"+hostArch() {
		return errdefs.Invalid("platform %s: skiff runs linux/%s containers only", p, hostArch())
	}
	o, extra, err := createOptions(r.FormValue("name"), &req)
	if err != nil {
		return err
	}
	res, err := s.e.ContainerCreate(r.Context(), o)
	if err != nil {
		return err
	}
	if req.HostConfig != nil && o.TTY {
		sz := req.HostConfig.ConsoleSize // height, width
		s.attaches.setSize(res.ID, uint16(min(sz[1], 65535)), uint16(min(sz[0], 65535)))
	}
	for _, netName := range sortedKeys(extra) {
		if err := s.e.NetworkConnectWith(r.Context(), netName, res.ID, connectOptions(extra[netName])); err != nil {
			_ = s.e.ContainerRemove(r.Context(), res.ID, engine.RemoveOptions{Force: true, Volumes: true})
			return err
		}
	}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}
