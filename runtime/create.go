package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// Create checks the options, makes the container's writable layer and
// writes its record in state created. Nothing runs yet.
func Create(st *storage.Store, img *storage.Image, o RunOptions) (_ *Container, retErr error) {
	if _, err := validate(&o); err != nil {
		return nil, err
	}
	restart, err := ParseRestart(o.Restart)
	if err != nil {
		return nil, err
	}
	if restart.Name != "no" && o.Remove {
		return nil, errdefs.Invalid("conflicting options: --restart %s and --rm", o.Restart)
	}
	logCfg, err := parseLogOpts(o.LogOpts)
	if err != nil {
		return nil, err
	}
	if o.StopSignal != "" {
		if _, err := ParseSignal(o.StopSignal); err != nil {
			return nil, err
		}
	}
	ports, err := netns.ParsePublish(o.Publish)
	if err != nil {
		return nil, err
	}
	mode, _ := netns.ParseMode(o.Network)
	if mode == netns.ModeContainer {
		// Docker's rule: the other container owns the network settings.
		switch {
		case len(ports) > 0 || o.PublishAll:
			return nil, errdefs.Invalid("conflicting options: port publishing and --network %s", o.Network)
		case len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0:
			return nil, errdefs.Invalid("conflicting options: DNS settings and --network %s", o.Network)
		case len(o.AddHost) > 0:
			return nil, errdefs.Invalid("conflicting options: --add-host and --network %s", o.Network)
		}
	}
	var userNet *network.Network
	if mode == netns.ModeUser {
		if userNet, err = network.Lookup(o.Network); err != nil {
			return nil, err
		}
		o.Network = userNet.Name
	} else if len(o.Aliases) > 0 {
		return nil, errdefs.Invalid("--network-alias needs a user-defined network (--network NAME)")
	}
	if mode == netns.ModePrivate && !userns.Rootless() {
		// Root: Docker's default bridge with NAT instead of slirp4netns.
		if userNet, err = network.EnsureDefault(); err != nil {
			return nil, err
		}
		o.Network = network.DefaultName
	}
	if (len(ports) > 0 || o.PublishAll) && !netns.OwnNamespace(mode) {
		if o.Warn != nil {
			o.Warn(fmt.Sprintf("published ports are discarded with --network %s", o.Network))
		}
		ports, o.PublishAll = netns.PortMap{}, false
	}
	if mode == netns.ModeContainer {
		target, err := Lookup(strings.TrimPrefix(o.Network, "container:"))
		if err != nil {
			return nil, fmt.Errorf("--network %s: %w", o.Network, err)
		}
		o.Network = "container:" + target.ID
		if o.Hostname != "" {
			return nil, errdefs.Invalid("conflicting options: --hostname and --network container:…, which shares the other container's")
		}
	}
	if o.MacAddress != "" {
		hw, err := net.ParseMAC(o.MacAddress)
		if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
			return nil, errdefs.Invalid("invalid --mac-address %q: a unicast Ethernet address like 02:42:ac:11:00:02", o.MacAddress)
		}
		if !netns.OwnNamespace(mode) {
			return nil, errdefs.Invalid("--mac-address needs the container's own network (not --network %s)", o.Network)
		}
	}
	for _, d := range o.DNS {
		if net.ParseIP(d) == nil {
			return nil, errdefs.Invalid("invalid --dns %q: an IP address", d)
		}
	}
	for _, h := range o.AddHost {
		if _, _, err := netns.ParseExtraHost(h); err != nil {
			return nil, err
		}
	}
	anon, err := resolveVolumes(&o, img)
	defer func() {
		if retErr != nil {
			removeVolumes(anon) // nothing of a failed create stays behind
		}
	}()
	if err != nil {
		return nil, err
	}
	ic := img.Config.Config
	c := &Container{
		ID: newID(), Name: o.Name, Image: o.Image, ImageID: img.ID,
		Created: time.Now().UTC(),
		Config: Config{
			Hostname: o.Hostname, User: firstNonEmpty(o.User, ic.User),
			Env: mergeEnv(ic.Env, o.Env), Entrypoint: ic.Entrypoint, Cmd: ic.Cmd,
			WorkingDir: firstNonEmpty(o.Workdir, ic.WorkingDir), Labels: map[string]string{},
			StopSignal: firstNonEmpty(o.StopSignal, ic.StopSignal), StopTimeout: o.StopTimeout,
			Tty: o.TTY, OpenStdin: o.Interactive, ExposedPorts: ic.ExposedPorts, MacAddress: o.MacAddress,
		},
		HostConfig: HostConfig{
			Binds: o.Volumes, Mounts: o.Mounts, VolumesFrom: o.VolumesFrom, AnonymousVolumes: anon, Tmpfs: o.Tmpfs, ReadonlyRootfs: o.ReadOnly,
			NetworkMode: o.Network, PortBindings: ports, PublishAllPorts: o.PublishAll,
			DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions, ExtraHosts: o.AddHost,
			CapAdd: o.CapAdd, CapDrop: o.CapDrop, Privileged: o.Privileged,
			SecurityOpt: o.SecurityOpt, Init: o.Init, AutoRemove: o.Remove,
			RestartPolicy: restart, LogConfig: logCfg,
		},
		State: State{Status: StatusCreated},
	}
	if c.HostConfig.NetworkMode == "" {
		c.HostConfig.NetworkMode = "private"
	}
	if len(ports) > 0 {
		// Docker lists published ports among the exposed ones.
		exposed := map[string]struct{}{}
		for k := range c.Config.ExposedPorts {
			exposed[k] = struct{}{}
		}
		for k := range ports {
			exposed[k] = struct{}{}
		}
		c.Config.ExposedPorts = exposed
	}
	for k, v := range ic.Labels {
		c.Config.Labels[k] = v
	}
	for k, v := range o.Labels {
		c.Config.Labels[k] = v
	}
	if o.Entrypoint != nil {
		c.Config.Entrypoint, c.Config.Cmd = nil, nil
		if *o.Entrypoint != "" {
			c.Config.Entrypoint = []string{*o.Entrypoint}
		}
	}
	if len(o.Cmd) > 0 {
		c.Config.Cmd = o.Cmd
	}
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	if len(args) == 0 {
		return nil, errdefs.Invalid("no command specified: the image %s has no CMD or ENTRYPOINT; give one after the image name", o.Image)
	}
	c.Path, c.Args = args[0], args[1:]
	if c.Config.Healthcheck, err = healthConfig(ic.Healthcheck, o.Health); err != nil {
		return nil, err
	}
	if userNet != nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{userNet.Name: {
			NetworkID: userNet.ID, Aliases: o.Aliases, Gateway: userNet.Gateway, Internal: userNet.Internal,
		}}
	}
	if c.Name == "" {
		c.Name = randomName() + "_" + c.ID[:4]
	}
	if err := validName(c.Name); err != nil {
		return nil, err
	}
	raw := st.Raw()
	if _, err := raw.CreateContainer(c.ID, []string{c.Name}, img.ID, "", "", nil); err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return nil, fmt.Errorf("container name %q is already in use: remove that container or choose another --name: %w", c.Name, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("creating container layer: %w", err)
	}
	if err := os.MkdirAll(c.Dir(), 0o700); err != nil {
		_ = raw.DeleteContainer(c.ID)
		return nil, err
	}
	c.LogPath = filepath.Join(c.Dir(), c.ID+"-json.log")
	if err := c.Save(); err != nil {
		_ = raw.DeleteContainer(c.ID)
		_ = os.RemoveAll(c.Dir())
		return nil, err
	}
	return c, nil
}

func validName(n string) error {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '.' || r == '-')
		if !ok {
			return errdefs.Invalid("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n)
		}
	}
	if n == "" {
		return errdefs.Invalid("empty container name")
	}
	return nil
}

// mergeEnv overrides the image's variables with the user's, keeping order.
func mergeEnv(image, user []string) []string {
	var order []string
	vals := map[string]string{}
	for _, kv := range append(append([]string(nil), image...), user...) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = kv
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, vals[k])
	}
	return out
}

// ParseRestart parses Docker's --restart values.
func ParseRestart(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errdefs.Invalid("invalid --restart %q: the retry count must be a number ≥ 0", s)
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	default:
		return p, errdefs.Invalid("invalid --restart %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasCount {
		return p, errdefs.Invalid("invalid --restart %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

func parseLogOpts(opts []string) (LogConfig, error) {
	lc := LogConfig{Type: "json-file", Config: map[string]string{}}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		switch {
		case ok && k == "max-size":
			if _, err := units.RAMInBytes(v); err != nil {
				return lc, errdefs.Invalid("invalid --log-opt %q: size like 10m", o)
			}
		case ok && k == "max-file":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return lc, errdefs.Invalid("invalid --log-opt %q: a number ≥ 1", o)
			}
		default:
			return lc, errdefs.Invalid("invalid --log-opt %q: json-file takes max-size and max-file", o)
		}
		lc.Config[k] = v
	}
	return lc, nil
}

// healthConfig merges the image's HEALTHCHECK with the --health-* flags.
func healthConfig(ih *v1.HealthConfig, o HealthOptions) (*Healthcheck, error) {
	var h *Healthcheck
	if ih != nil && len(ih.Test) > 0 && ih.Test[0] != "NONE" {
		h = &Healthcheck{Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout, StartPeriod: ih.StartPeriod, Retries: ih.Retries}
	}
	if o.None {
		if o.Cmd != "" || o.Interval != 0 || o.Timeout != 0 || o.Retries != 0 || o.StartPeriod != 0 {
			return nil, errdefs.Invalid("--no-healthcheck conflicts with --health-* options")
		}
		return nil, nil
	}
	if o.Cmd != "" {
		if h == nil {
			h = &Healthcheck{}
		}
		h.Test = []string{"CMD-SHELL", o.Cmd}
	}
	if h == nil {
		if o.Interval != 0 || o.Timeout != 0 || o.Retries != 0 || o.StartPeriod != 0 {
			return nil, errdefs.Invalid("--health-interval, --health-timeout, --health-retries and --health-start-period need --health-cmd or an image HEALTHCHECK")
		}
		return nil, nil
	}
	if o.Interval < 0 || o.Timeout < 0 || o.Retries < 0 || o.StartPeriod < 0 {
		return nil, errdefs.Invalid("health check durations and retries must not be negative")
	}
	if o.Interval != 0 {
		h.Interval = o.Interval
	}
	if o.Timeout != 0 {
		h.Timeout = o.Timeout
	}
	if o.StartPeriod != 0 {
		h.StartPeriod = o.StartPeriod
	}
	if o.Retries != 0 {
		h.Retries = o.Retries
	}
	return h, nil
}

// resolveVolumes makes the volumes a new container names: named ones
// that do not exist yet, a fresh anonymous volume for every -v /path,
// --mount without a source and image VOLUME not covered by another
// mount, and takes over --volumes-from. Anonymous volumes are written
// back into the options by name, so every start mounts the same ones.
func resolveVolumes(o *RunOptions, img *storage.Image) (anon []string, err error) {
	covered := map[string]bool{}
	newAnon := func() (string, error) {
		v, err := storage.CreateVolume("", storage.VolumeOptions{Anonymous: true}, false)
		if err != nil {
			return "", err
		}
		anon = append(anon, v.Name)
		return v.Name, nil
	}
	for _, ref := range o.VolumesFrom {
		name, mode, _ := strings.Cut(ref, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return nil, errdefs.Invalid("invalid --volumes-from %q: want CONTAINER[:ro|rw]", ref)
		}
		src, err := Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--volumes-from %s: %w", name, err)
		}
		for _, b := range src.HostConfig.Binds {
			if mode != "" {
				parts := strings.SplitN(b, ":", 3)
				b = parts[0] + ":" + parts[1] + ":" + mode
			}
			o.Volumes = append(o.Volumes, b)
		}
		o.Mounts = append(o.Mounts, src.HostConfig.Mounts...)
	}
	// ensure makes the volume a mount names (a new anonymous one when it
	// names none) and returns the spec to keep.
	ensure := func(m specs.Mount, spec string, named func(string) string) (string, error) {
		covered[m.Destination] = true
		switch {
		case m.Type != "volume":
			return spec, nil
		case m.Source == "":
			name, err := newAnon()
			return named(name), err
		}
		_, err := storage.CreateVolume(m.Source, storage.VolumeOptions{}, true)
		return spec, err
	}
	for i, v := range o.Volumes {
		m, err := ParseVolume(v)
		if err == nil {
			o.Volumes[i], err = ensure(m, v, func(n string) string { return n + ":" + v })
		}
		if err != nil {
			return nil, err
		}
	}
	for i, spec := range o.Mounts {
		m, err := ParseMount(spec)
		if err == nil {
			o.Mounts[i], err = ensure(m, spec, func(n string) string { return spec + ",source=" + n })
		}
		if err != nil {
			return nil, err
		}
	}
	for _, t := range o.Tmpfs {
		dst, _, _ := strings.Cut(t, ":")
		covered[filepath.Clean(dst)] = true
	}
	var imageVols []string
	for p := range img.Config.Config.Volumes {
		imageVols = append(imageVols, filepath.Clean(p))
	}
	sort.Strings(imageVols)
	for _, p := range imageVols {
		if covered[p] {
			continue
		}
		name, err := newAnon()
		if err != nil {
			return nil, err
		}
		o.Volumes = append(o.Volumes, name+":"+p)
	}
	return anon, nil
}

// removeVolumes deletes a container's anonymous volumes.
func removeVolumes(names []string) {
	for _, n := range names {
		_ = storage.RemoveVolume(n)
	}
}
