package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/services"
	"github.com/skiff-project/skiff/systemd"
)

// GenerateSystemdOptions are `skiff generate systemd`'s flags.
type GenerateSystemdOptions struct {
	// New makes a unit that creates the container at start (with the
	// options it was created with) and removes it at stop.
	New bool
	// UseName names the unit and the container in its commands by name
	// rather than by ID.
	UseName bool
	// RestartPolicy is systemd's Restart= ("" is on-failure).
	RestartPolicy string
	RestartSec    int  // 0: systemd's default
	StopTimeout   *int // nil: the container's --stop-timeout, else 10
	// ContainerPrefix and Separator make the unit's name:
	// PREFIX SEPARATOR NAME-OR-ID ("container", "-" when empty).
	ContainerPrefix string
	Separator       string
	ServicePrefix   string // for a service ("service" when empty)
}

// SystemdUnit is one generated unit.
type SystemdUnit struct {
	Name string // NAME.service
	Text string
}

// GenerateSystemd returns the systemd user unit that runs a container
// or a service (looked up in that order): for a container, `skiff start`
// or (New) `skiff run -d` of the recorded options; for a service, its
// keeper.
func (e *Engine) GenerateSystemd(ctx context.Context, ref string, o GenerateSystemdOptions) ([]SystemdUnit, error) {
	if o.RestartPolicy != "" {
		if err := systemd.CheckRestartPolicy(o.RestartPolicy); err != nil {
			return nil, errdefs.Invalid("%s", err)
		}
	}
	if o.RestartSec < 0 || (o.StopTimeout != nil && *o.StopTimeout < 0) {
		return nil, errdefs.Invalid("--restart-sec and --stop-timeout cannot be negative")
	}
	skiff, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sep := o.Separator
	if sep == "" {
		sep = "-"
	}
	c, err := container.Lookup(ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		// services.Lookup, not ServiceInspect: writing a unit that is to
		// own the keeper starts no keeper.
		svc, serr := services.Lookup(ref)
		if errors.Is(serr, errdefs.ErrNotFound) {
			return nil, errdefs.NotFound("no such container or service: %s", ref)
		}
		if serr != nil {
			return nil, serr
		}
		prefix := o.ServicePrefix
		if prefix == "" {
			prefix = "service"
		}
		id := svc.ID
		if o.UseName {
			id = svc.Spec.Name
		}
		name := prefix + sep + id
		u := systemd.RenderService(systemd.ServiceUnit{
			Skiff: skiff, Version: Version, UnitName: name, ID: svc.ID, Name: svc.Spec.Name,
			Keeper: KeeperCommand, Restart: o.RestartPolicy, RestartSec: o.RestartSec,
		})
		return []SystemdUnit{{Name: name + ".service", Text: u.String()}}, nil
	}
	if err != nil {
		return nil, err
	}
	prefix := o.ContainerPrefix
	if prefix == "" {
		prefix = "container"
	}
	ctrRef := c.ID
	if o.UseName || o.New {
		// A new container gets a new ID at every start: only its name
		// stays.
		ctrRef = c.Name
	}
	unitName := prefix + sep + c.ID
	if o.UseName {
		unitName = prefix + sep + c.Name
	}
	stop := -1
	if c.Config.StopTimeout != nil {
		stop = *c.Config.StopTimeout
	}
	if o.StopTimeout != nil {
		stop = *o.StopTimeout
	}
	cu := systemd.ContainerUnit{
		Skiff: skiff, Version: Version, UnitName: unitName, Ref: ctrRef, Name: c.Name, New: o.New,
		Restart: o.RestartPolicy, RestartSec: o.RestartSec, StopTimeout: stop,
	}
	if o.New {
		img, err := e.ImageInspect(ctx, c.ImageID)
		if err != nil {
			return nil, fmt.Errorf("the image of container %s: %w", c.Name, err)
		}
		cu.RunArgs = runArgs(c, img.Config.Config)
	}
	return []SystemdUnit{{Name: unitName + ".service", Text: systemd.RenderContainer(cu).String()}}, nil
}

// runArgs are the `skiff run -d` options and arguments that make the
// container again from its record: what differs from its image (env,
// labels, user, working directory, entrypoint and command, healthcheck)
// and what it was created with. The restart policy is left out: systemd
// restarts it; and so is --rm: the unit removes it at stop.
func runArgs(c *container.Container, img *ctypes.Config) [][]string {
	if img == nil {
		img = &ctypes.Config{}
	}
	var g [][]string
	add := func(words ...string) { g = append(g, words) }
	each := func(flag string, values []string) {
		for _, v := range values {
			add(flag, v)
		}
	}
	add("--name", c.Name)
	cfg, hc := c.Config, c.HostConfig
	if cfg.Hostname != "" {
		add("--hostname", cfg.Hostname)
	}
	if cfg.User != "" && cfg.User != img.User {
		add("--user", cfg.User)
	}
	if cfg.WorkingDir != "" && cfg.WorkingDir != img.WorkingDir {
		add("--workdir", cfg.WorkingDir)
	}
	if cfg.Tty {
		add("--tty")
	}
	if cfg.OpenStdin {
		add("--interactive")
	}
	imageEnv := map[string]bool{}
	for _, kv := range img.Env {
		imageEnv[kv] = true
	}
	for _, kv := range cfg.Env {
		if !imageEnv[kv] {
			add("--env", kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		if v, ok := img.Labels[k]; !ok || v != cfg.Labels[k] {
			add("--label", k+"="+cfg.Labels[k])
		}
	}
	anon := map[string]bool{}
	for _, v := range hc.AnonymousVolumes {
		anon[v] = true
	}
	for _, m := range hc.Mounts {
		switch m.Origin {
		case container.FromVolumeFlag:
			add("--volume", m.Bind)
		case container.FromTmpfsFlag:
			if o := m.TmpfsOptions(); o != "" {
				add("--tmpfs", m.Destination+":"+o)
			} else {
				add("--tmpfs", m.Destination)
			}
		case container.FromMountFlag:
			f := []string{"type=" + m.Type}
			if m.Source != "" && !anon[m.Source] {
				f = append(f, "source="+m.Source)
			}
			f = append(f, "target="+m.Destination)
			if m.ReadOnly {
				f = append(f, "readonly")
			}
			if m.NoCopy {
				f = append(f, "volume-nocopy")
			}
			for _, o := range m.Options {
				switch {
				case m.Type == container.MountBind:
					f = append(f, "bind-propagation="+o)
				case strings.HasPrefix(o, "size="):
					f = append(f, "tmpfs-size="+strings.TrimPrefix(o, "size="))
				case strings.HasPrefix(o, "mode="):
					f = append(f, "tmpfs-mode="+strings.TrimPrefix(o, "mode="))
				}
			}
			add("--mount", strings.Join(f, ","))
		}
	}
	each("--volumes-from", hc.VolumesFrom)
	if hc.ReadonlyRootfs {
		add("--read-only")
	}
	if hc.NetworkMode != "" && hc.NetworkMode != "private" && hc.NetworkMode != "default" && hc.NetworkMode != "bridge" {
		add("--network", hc.NetworkMode)
	}
	for _, n := range c.NetworkSettings.Networks {
		each("--network-alias", n.Aliases)
	}
	for _, port := range slices.Sorted(maps.Keys(hc.PortBindings)) {
		ctrPort := strings.TrimSuffix(port, "/tcp")
		for _, b := range hc.PortBindings[port] {
			p := ctrPort
			if b.HostPort != "" {
				p = b.HostPort + ":" + p
			}
			if b.HostIP != "" {
				if b.HostPort == "" {
					p = ":" + p
				}
				p = b.HostIP + ":" + p
			}
			add("--publish", p)
		}
	}
	if hc.PublishAllPorts {
		add("--publish-all")
	}
	if cfg.MacAddress != "" {
		add("--mac-address", cfg.MacAddress)
	}
	each("--dns", hc.DNS)
	each("--dns-search", hc.DNSSearch)
	each("--dns-option", hc.DNSOptions)
	each("--add-host", hc.ExtraHosts)
	each("--cap-add", hc.CapAdd)
	each("--cap-drop", hc.CapDrop)
	if hc.Privileged {
		add("--privileged")
	}
	each("--security-opt", hc.SecurityOpt)
	if hc.Init {
		add("--init")
	}
	if cfg.StopSignal != "" && cfg.StopSignal != img.StopSignal {
		add("--stop-signal", cfg.StopSignal)
	}
	if cfg.StopTimeout != nil {
		add("--stop-timeout", strconv.Itoa(*cfg.StopTimeout))
	}
	for _, k := range slices.Sorted(maps.Keys(hc.LogConfig.Config)) {
		add("--log-opt", k+"="+hc.LogConfig.Config[k])
	}
	g = append(g, healthArgs(cfg.Healthcheck, img.Healthcheck)...)
	g = append(g, isolationArgs(c)...)

	// The command: the entrypoint when it is not the image's, then the
	// arguments (the image's CMD is not repeated).
	tail := []string{c.Image}
	epSet := !slices.Equal(cfg.Entrypoint, img.Entrypoint)
	cmd := cfg.Cmd
	if epSet {
		ep := ""
		if len(cfg.Entrypoint) > 0 {
			ep = cfg.Entrypoint[0]
			// --entrypoint takes one word: the rest goes before the command.
			cmd = append(append([]string(nil), cfg.Entrypoint[1:]...), cmd...)
		}
		add("--entrypoint", ep)
	} else if slices.Equal(cmd, img.Cmd) {
		cmd = nil
	}
	return append(g, append(tail, cmd...))
}

// healthArgs are the --health-* flags of a healthcheck that is not the
// image's.
func healthArgs(h *container.Healthcheck, img *ctypes.HealthConfig) [][]string {
	if h == nil {
		return nil
	}
	if img != nil && slices.Equal(h.Test, img.Test) && h.Interval == img.Interval && h.Timeout == img.Timeout &&
		h.StartPeriod == img.StartPeriod && h.Retries == img.Retries && h.StartInterval == img.StartInterval {
		return nil
	}
	if len(h.Test) > 0 && h.Test[0] == "NONE" {
		return [][]string{{"--no-healthcheck"}}
	}
	var g [][]string
	switch {
	case len(h.Test) > 1 && h.Test[0] == "CMD-SHELL":
		g = append(g, []string{"--health-cmd", h.Test[1]})
	case len(h.Test) > 1 && h.Test[0] == "CMD":
		g = append(g, []string{"--health-cmd", shellJoin(h.Test[1:])})
	}
	dur := func(flag string, d time.Duration) {
		if d > 0 {
			g = append(g, []string{flag, d.String()})
		}
	}
	dur("--health-interval", h.Interval)
	dur("--health-timeout", h.Timeout)
	dur("--health-start-period", h.StartPeriod)
	dur("--health-start-interval", h.StartInterval)
	if h.Retries > 0 {
		g = append(g, []string{"--health-retries", strconv.Itoa(h.Retries)})
	}
	return g
}

func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// QuadletOptions is one run of the systemd generator over quadlet-style
// unit files (see systemd.Generate).
type QuadletOptions struct {
	// User reads the user's directory (QuadletDir(true)), else the
	// system's; Dirs, when set, replaces both.
	User bool
	Dirs []string
	Out  string
	Warn func(string)
}

// QuadletDir is where the generator reads `.container`, `.volume` and
// `.network` files: ~/.config/skiff/systemd for a user
// ($XDG_CONFIG_HOME/skiff/systemd), /etc/skiff/systemd for the system.
func QuadletDir(user bool) (string, error) {
	if !user {
		return "/etc/skiff/systemd", nil
	}
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "skiff", "systemd"), nil
}

// GenerateQuadlet writes a unit into o.Out for every quadlet file and
// returns their paths. It needs no engine: the systemd generator runs it
// before any user namespace exists.
func GenerateQuadlet(o QuadletOptions) ([]string, error) {
	skiff, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dirs := o.Dirs
	if len(dirs) == 0 {
		d, err := QuadletDir(o.User)
		if err != nil {
			return nil, err
		}
		dirs = []string{d}
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	units, err := systemd.Generate(systemd.GenerateOptions{Skiff: skiff, Dirs: dirs, Out: out, Warn: o.Warn})
	sort.Strings(units)
	return units, err
}

// SystemdGeneratorNames are the names under which the skiff binary is a
// systemd generator (see cmd.Generator).
var SystemdGeneratorNames = map[string]bool{systemd.UserGeneratorName: true, systemd.SystemGeneratorName: true}

// IsUserGenerator reports whether name is the user generator's name.
func IsUserGenerator(name string) bool { return name == systemd.UserGeneratorName }
