package engine

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// HealthOptions are the --health-* settings; zero values keep the image's.
type HealthOptions = runtime.HealthOptions

// MountFields are one mount given field by field (--mount's keys).
type MountFields = container.MountFields

// ContainerCreateOptions is a container to create, as `skiff create`
// and `run` take it and Docker's API describes it. Strings are in
// Docker's syntax and are parsed once, here: what is stored is the
// parsed value (absolute host paths, port bindings, the network mode).
type ContainerCreateOptions struct {
	Image string // the image, as the user named it; it must exist (see ImageEnsure)
	Name  string // "" gets a random name
	Cmd   []string
	// Entrypoint replaces the image's ENTRYPOINT when EntrypointSet; an
	// empty one resets it (and the image's CMD with it).
	Entrypoint    []string
	EntrypointSet bool
	Env           []string // KEY=VALUE
	Workdir       string
	User          string // user[:group], names or numbers
	Hostname      string
	Labels        map[string]string

	Binds  []string // -v SRC:DST[:OPTS], NAME:DST[:OPTS] or DST
	Mounts []string // --mount type=bind|volume|tmpfs,…
	Tmpfs  []string // --tmpfs PATH[:OPTS]
	// MountSpecs are mounts given field by field (the API's
	// HostConfig.Mounts), checked like --mount.
	MountSpecs  []MountFields
	VolumesFrom []string // CONTAINER[:ro|rw]
	ReadOnly    bool
	// Dir is the directory relative host paths in Binds and Mounts are
	// resolved against: the caller's working directory. "" refuses them
	// (the API's Binds must be absolute, as Docker's).
	Dir string

	NetworkMode string   // none, host, private (default), container:NAME or a network
	Publish     []string // -p [ip:][hostPort:]containerPort[/proto]
	Expose      []string // --expose PORT[/proto] or a range, over the image's EXPOSE
	PublishAll  bool
	Aliases     []string // --network-alias
	MacAddress  string
	DNS         []string
	DNSSearch   []string
	DNSOptions  []string
	ExtraHosts  []string // name:ip or name:host-gateway

	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	Init        bool

	AutoRemove  bool
	Restart     string // no, on-failure[:N], always, unless-stopped
	LogDriver   string // only json-file
	LogOpts     []string
	StopSignal  string
	StopTimeout *int
	Health      HealthOptions
	// Resources are the cgroup limits (-m, --cpus, …): engine/resources.go.
	Resources ResourceOptions
	// Isolation are the namespace modes, devices, sysctls and ulimits
	// (--pid, --ipc, --device, …): engine/isolation.go.
	Isolation IsolationOptions
	// SdNotify is --sdnotify: supervisor (default; Podman's conmon too),
	// container or ignore (see ContainerStartNotify).
	SdNotify string

	Interactive bool // keep STDIN open (-i)
	TTY         bool
	// StartNext says the caller starts the container right after (run):
	// until then, prunes leave it alone.
	StartNext bool
}

// Validate parses o's options without touching anything: callers that
// pull a missing image first (run, create) call it before the pull, so
// bad options change nothing, as in Docker, where the client parses the
// flags before asking for the image.
func (o ContainerCreateOptions) Validate() error {
	_, err := o.spec()
	return err
}

// ContainerCreate creates a container from an image already in the
// store. Nothing runs yet. Invalid options fail before anything is made,
// and a failure leaves nothing behind.
func (e *Engine) ContainerCreate(ctx context.Context, o ContainerCreateOptions) (ctypes.CreateResponse, error) {
	var res ctypes.CreateResponse
	spec, err := o.spec()
	if err != nil {
		return res, err
	}
	spec.Warn = func(w string) { res.Warnings = append(res.Warnings, w) }
	o.Resources.adapt(&spec.Resources, runtime.HostCgroupSupport(), spec.Warn) // engine/resources.go
	err = e.withStore(func(st *storage.Store) error {
		// The image stays until the container holds it.
		unlock, err := storage.HoldImages()
		if err != nil {
			return err
		}
		defer unlock()
		img, err := st.LookupImage(o.Image)
		if err != nil {
			return err
		}
		if err := cancelled(ctx); err != nil {
			return err
		}
		end := trace.Begin("create the container")
		c, err := runtime.Create(st, img, spec)
		end()
		if err != nil {
			return err
		}
		containerEvent(c, "create", nil)
		e.log.Debug("container created", "id", c.ID, "name", c.Name, "image", img.ID, "network", c.HostConfig.NetworkMode, "mounts", len(c.HostConfig.Mounts))
		res.ID = c.ID
		return nil
	})
	return res, err
}

// spec checks the options and parses every string in them, once.
func (o ContainerCreateOptions) spec() (runtime.Spec, error) {
	s := runtime.Spec{
		Image: o.Image, Name: o.Name, Cmd: o.Cmd, Entrypoint: o.Entrypoint, EntrypointSet: o.EntrypointSet,
		Env: o.Env, Workdir: o.Workdir, User: o.User, Hostname: o.Hostname, Labels: o.Labels,
		VolumesFrom: o.VolumesFrom, ReadOnly: o.ReadOnly, Network: o.NetworkMode, PublishAll: o.PublishAll,
		Aliases: o.Aliases, MacAddress: o.MacAddress, DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions,
		ExtraHosts: o.ExtraHosts, CapAdd: o.CapAdd, CapDrop: o.CapDrop, Privileged: o.Privileged,
		SecurityOpt: o.SecurityOpt, Init: o.Init, Remove: o.AutoRemove, StopSignal: o.StopSignal,
		StopTimeout: o.StopTimeout, Health: o.Health, Interactive: o.Interactive, TTY: o.TTY,
		StartNext: o.StartNext,
	}
	if o.Image == "" {
		return s, errdefs.Invalid("no image given: name the image to create the container from")
	}
	var err error
	if s.SdNotify, err = container.ParseSdNotify(o.SdNotify); err != nil {
		return s, err
	}
	for _, v := range o.Binds {
		m, err := container.ParseVolume(v, o.Dir)
		if err != nil {
			return s, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	for _, v := range o.Mounts {
		m, err := container.ParseMount(v, o.Dir)
		if err != nil {
			return s, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	for i, f := range o.MountSpecs {
		m, err := f.Mount(o.Dir, fmt.Sprintf("mount %d (target %s)", i+1, f.Target))
		if err != nil {
			return s, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	if s.Expose, err = netns.ParseExpose(o.Expose); err != nil {
		return s, err
	}
	for _, v := range o.Tmpfs {
		m, err := container.ParseTmpfs(v)
		if err != nil {
			return s, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	seen := map[string]bool{}
	for _, m := range s.Mounts {
		if seen[m.Destination] {
			return s, errdefs.Invalid("duplicate mount point %s: mount one thing there", m.Destination)
		}
		seen[m.Destination] = true
	}
	for _, ref := range o.VolumesFrom {
		if name, mode, _ := strings.Cut(ref, ":"); name == "" || mode != "" && mode != "ro" && mode != "rw" {
			return s, errdefs.Invalid("invalid --volumes-from %q: want CONTAINER[:ro|rw]", ref)
		}
	}
	if s.Resources, err = o.Resources.parse(false); err != nil { // engine/resources.go
		return s, err
	}
	if s.Restart, err = container.ParseRestart(o.Restart); err != nil {
		return s, err
	}
	if s.Restart.Name != "no" && o.AutoRemove {
		return s, errdefs.Invalid("conflicting options: --restart %s and --rm", o.Restart)
	}
	if d := o.LogDriver; d != "" && d != "json-file" {
		return s, errdefs.Invalid("invalid --log-driver %q: only json-file exists", d)
	}
	if s.Log, err = container.ParseLogOpts(o.LogOpts); err != nil {
		return s, err
	}
	if o.StopSignal != "" {
		if _, err := runtime.ParseSignal(o.StopSignal); err != nil {
			return s, err
		}
	}
	if s.Ports, err = netns.ParsePublish(o.Publish); err != nil {
		return s, err
	}
	if s.NetworkKind, err = netns.ParseMode(o.NetworkMode); err != nil {
		return s, err
	}
	if err := checkNetworkOptions(o, s); err != nil {
		return s, err
	}
	if err := withIsolation(o, &s); err != nil {
		return s, err
	}
	if s.Security, err = runtime.ParseSecurityOpts(o.SecurityOpt); err != nil {
		return s, err
	}
	if err := runtime.CheckCaps(append(append([]string(nil), o.CapAdd...), o.CapDrop...)); err != nil {
		return s, err
	}
	for _, e := range o.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" || strings.ContainsAny(k, " \t\n") {
			return s, errdefs.Invalid("invalid environment variable %q: want KEY=VALUE", e)
		}
	}
	if o.User != "" {
		u, g, hasG := strings.Cut(o.User, ":")
		if u == "" || (hasG && g == "") || strings.Count(o.User, ":") > 1 {
			return s, errdefs.Invalid("invalid --user %q: want user[:group], names or numbers", o.User)
		}
		for _, id := range []string{u, g} {
			if id != "" && strings.Trim(id, "-0123456789") == "" {
				if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 0 || n > math.MaxInt32 {
					return s, errdefs.Invalid("invalid --user %q: uids and gids must be in range 0-%d", o.User, math.MaxInt32)
				}
			}
		}
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return s, errdefs.Invalid("invalid working directory %q: it must be absolute", o.Workdir)
	}
	if o.Name != "" {
		if err := container.ValidName(o.Name); err != nil {
			return s, err
		}
	}
	if o.Init {
		if s.InitPath, err = runtime.FindInit(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// checkNetworkOptions applies Docker's rules between the network mode and
// the other network settings.
func checkNetworkOptions(o ContainerCreateOptions, s runtime.Spec) error {
	if s.NetworkKind == netns.ModeContainer {
		// The other container owns the network settings.
		switch {
		case len(s.Ports) > 0 || o.PublishAll:
			return errdefs.Invalid("conflicting options: port publishing and --network %s", o.NetworkMode)
		case len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0:
			return errdefs.Invalid("conflicting options: DNS settings and --network %s", o.NetworkMode)
		case len(o.ExtraHosts) > 0:
			return errdefs.Invalid("conflicting options: --add-host and --network %s", o.NetworkMode)
		case o.Hostname != "":
			return errdefs.Invalid("conflicting options: --hostname and --network container:…, which shares the other container's")
		}
	}
	if o.MacAddress != "" {
		hw, err := net.ParseMAC(o.MacAddress)
		if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
			return errdefs.Invalid("invalid --mac-address %q: a unicast Ethernet address like 02:42:ac:11:00:02", o.MacAddress)
		}
		if !netns.OwnNamespace(s.NetworkKind) {
			return errdefs.Invalid("--mac-address needs the container's own network (not --network %s)", o.NetworkMode)
		}
	}
	for _, d := range o.DNS {
		if net.ParseIP(d) == nil {
			return errdefs.Invalid("invalid --dns %q: an IP address", d)
		}
	}
	for _, h := range o.ExtraHosts {
		if _, _, err := netns.ParseExtraHost(h); err != nil {
			return err
		}
	}
	if len(o.Aliases) > 0 && s.NetworkKind != netns.ModeUser {
		return fmt.Errorf("--network-alias needs a user-defined network (--network NAME): %w", errdefs.ErrInvalidArgument)
	}
	return nil
}
