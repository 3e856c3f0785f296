package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	_ "github.com/opencontainers/cgroups/devices" // lets libcontainer manage the devices cgroup
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// plan is a validated set of options: everything that can be wrong with
// the input is found before anything is created.
type plan struct {
	mounts   []specs.Mount
	network  string
	security SecurityOpts
	initPath string
}

func validate(o *RunOptions) (*plan, error) {
	p := &plan{}
	for _, v := range o.Volumes {
		m, err := ParseVolume(v)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	for _, ms := range o.Mounts {
		m, err := ParseMount(ms)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	for _, t := range o.Tmpfs {
		m, err := ParseTmpfs(t)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	var err error
	if p.network, err = netns.ParseMode(o.Network); err != nil {
		return nil, err
	}
	if p.security, err = ParseSecurityOpts(o.SecurityOpt); err != nil {
		return nil, err
	}
	for _, c := range append(append([]string(nil), o.CapAdd...), o.CapDrop...) {
		if _, err := normalizeCap(c); err != nil {
			return nil, err
		}
	}
	for _, e := range o.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, errdefs.Invalid("invalid environment variable %q: want KEY=VALUE", e)
		}
	}
	if o.User != "" {
		u, g, hasG := strings.Cut(o.User, ":")
		if u == "" || (hasG && g == "") || strings.Count(o.User, ":") > 1 {
			return nil, errdefs.Invalid("invalid user %q: want user[:group], names or numbers", o.User)
		}
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return nil, errdefs.Invalid("invalid working directory %q: it must be absolute", o.Workdir)
	}
	if o.Init {
		if p.initPath, err = FindInit(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planFor re-validates a stored container's options (they were checked at
// create time; the host may have changed since).
func planFor(c *Container) (*plan, error) {
	return validate(&RunOptions{
		Volumes: c.HostConfig.Binds, Mounts: c.HostConfig.Mounts, Tmpfs: c.HostConfig.Tmpfs,
		Network: c.HostConfig.NetworkMode, SecurityOpt: c.HostConfig.SecurityOpt,
		CapAdd: c.HostConfig.CapAdd, CapDrop: c.HostConfig.CapDrop, Init: c.HostConfig.Init,
	})
}

// prepared is a container ready for libcontainer.
type prepared struct {
	config  *configs.Config
	args    []string
	env     []string
	cwd     string
	user    ExecUser
	network string
}

// prepare builds the libcontainer configuration of c over its mounted
// rootfs: the spec from small options, then specconv.
func prepare(c *Container, rootfs, netnsPath string) (*prepared, error) {
	p, err := planFor(c)
	if err != nil {
		return nil, err
	}
	user, err := resolveUser(rootfs, c.Config.User)
	if err != nil {
		return nil, err
	}
	cwd := firstNonEmpty(c.Config.WorkingDir, "/")
	if err := mkdirInRoot(rootfs, cwd, user); err != nil {
		return nil, err
	}
	hostname := firstNonEmpty(c.Config.Hostname, c.ID[:12])
	if p.network == netns.ModeHost && c.Config.Hostname == "" {
		hostname, _ = os.Hostname()
	}
	var etc []specs.Mount
	if p.network == netns.ModeContainer {
		// Share the other container's namespace and its /etc files.
		target, err := Lookup(strings.TrimPrefix(c.HostConfig.NetworkMode, "container:"))
		if err != nil {
			return nil, fmt.Errorf("--network %s: %w", c.HostConfig.NetworkMode, err)
		}
		if !target.State.Running {
			return nil, fmt.Errorf("--network container:%s: that container is not running: start it first: %w", target.Name, errdefs.ErrConflict)
		}
		netnsPath = fmt.Sprintf("/proc/%d/ns/net", target.State.Pid)
		if h, err := os.ReadFile(filepath.Join(target.Dir(), "hostname")); err == nil {
			hostname = strings.TrimSpace(string(h))
		}
		for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
			etc = append(etc, specs.Mount{Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(target.Dir(), f), Options: []string{"rbind", "rprivate"}})
		}
	} else {
		files := netns.Files{
			Mode: p.network, Hostname: hostname, DNS: c.HostConfig.DNS, DNSSearch: c.HostConfig.DNSSearch,
			DNSOptions: c.HostConfig.DNSOptions, ExtraHosts: c.HostConfig.ExtraHosts,
		}
		if names := c.NetworkNames(); len(names) > 0 && !userns.Rootless() {
			files.Gateway = c.NetworkSettings.Networks[names[0]].Gateway // root: the bridge
		}
		etc, err = netns.WriteFilesWith(c.Dir(), files)
		if err != nil {
			return nil, err
		}
	}
	env := buildEnv(c.Config.Env, hostname, user.Home, c.Config.Tty)
	mounts, err := resolveMounts(p.mounts, rootfs, user)
	if err != nil {
		return nil, err
	}
	args := append([]string{c.Path}, c.Args...)
	rootless := userns.Rootless()
	opts := []SpecOpt{
		WithCgroupMount(rootless),
		WithDevptsGID(gidMapped(5)),
		WithProcess(args, env, cwd, user, c.Config.Tty),
		WithHostname(hostname),
		WithReadOnlyRoot(c.HostConfig.ReadonlyRootfs),
		WithMounts(etc),
		WithMounts(mounts),
		WithCapabilities(c.HostConfig.CapAdd, c.HostConfig.CapDrop),
	}
	if p.network == netns.ModeHost {
		opts = append(opts, WithHostNetwork())
	}
	if netnsPath != "" {
		opts = append(opts, WithNetNSPath(netnsPath))
	}
	if c.HostConfig.Privileged {
		opts = append(opts, WithPrivileged())
	}
	opts = append(opts, WithSecurity(p.security, c.HostConfig.Privileged))
	if p.initPath != "" {
		opts = append(opts, WithInit(p.initPath))
	}
	spec, err := NewSpec(rootfs, opts...)
	if err != nil {
		return nil, err
	}
	if !rootless {
		spec.Linux.CgroupsPath = "/skiff/" + c.ID
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      c.ID,
		Spec:            spec,
		RootlessCgroups: rootless,
	})
	if err != nil {
		return nil, fmt.Errorf("building the container configuration: %w", err)
	}
	return &prepared{config: config, args: spec.Process.Args, env: env, cwd: cwd, user: user, network: p.network}, nil
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// buildEnv adds Docker's defaults (PATH, HOSTNAME, HOME, TERM with a tty)
// to the container's variables.
func buildEnv(env []string, hostname, home string, tty bool) []string {
	defaults := []string{defaultPath, "HOSTNAME=" + hostname}
	if tty {
		defaults = append(defaults, "TERM=xterm")
	}
	out := mergeEnv(defaults, env)
	for _, e := range out {
		if strings.HasPrefix(e, "HOME=") {
			return out
		}
	}
	return append(out, "HOME="+home)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// mkdirInRoot creates the working directory inside the rootfs, owned by
// the container's user, as Docker does.
func mkdirInRoot(rootfs, dir string, u ExecUser) error {
	p, err := securejoin.SecureJoin(rootfs, dir)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("creating working directory %s: %w", dir, err)
	}
	_ = os.Chown(p, u.UID, u.GID)
	return nil
}

// gidMapped reports whether gid exists in this process's user namespace.
func gidMapped(gid int) bool {
	data, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return true
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var in, out, n int
		if _, err := fmt.Sscan(l, &in, &out, &n); err == nil && gid >= in && gid < in+n {
			return true
		}
	}
	return false
}

// startError classifies a failure to start the command: 127 when it does
// not exist, 126 when it cannot be executed, 125 otherwise.
func startError(cmd string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("starting container: %s: executable file not found in $PATH or the image: %w", cmd, errdefs.ErrCommandNotFound)
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory") || strings.Contains(msg, "exec format error"):
		return fmt.Errorf("starting container: %s: %s: %w", cmd, lastPart(msg), errdefs.ErrCannotInvoke)
	}
	return fmt.Errorf("starting container: %w", err)
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// resolveMounts turns volume mounts into binds of the volumes' directories
// (filling a new volume from the image first, unless nocopy), creates
// missing bind sources as Docker does, applies :U and drops skiff's
// markers.
func resolveMounts(ms []specs.Mount, rootfs string, user ExecUser) ([]specs.Mount, error) {
	out := make([]specs.Mount, 0, len(ms))
	for _, m := range ms {
		switch m.Type {
		case "volume":
			v, err := storage.GetVolume(m.Source)
			if err != nil {
				return nil, fmt.Errorf("volume %s for %s: %w", m.Source, m.Destination, err)
			}
			if !hasOpt(m, "nocopy") && !v.Populated {
				imgPath, err := securejoin.SecureJoin(rootfs, m.Destination)
				if err != nil {
					return nil, err
				}
				if err := storage.Populate(v, imgPath); err != nil {
					return nil, err
				}
			}
			if hasOpt(m, "U") {
				if err := storage.ChownVolume(v.Mountpoint, user.UID, user.GID); err != nil {
					return nil, fmt.Errorf("chowning volume %s to %d:%d: %w", v.Name, user.UID, user.GID, err)
				}
			}
			opts := append([]string{"rbind"}, withoutMarkers(m.Options)...)
			out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: v.Mountpoint, Options: opts})
			continue
		case "bind":
			if strings.Contains(strings.Join(m.Options, ","), "rbind") {
				if err := prepareVolumeSource(m); err != nil {
					return nil, err
				}
			}
			if hasOpt(m, "U") {
				if err := storage.ChownVolume(m.Source, user.UID, user.GID); err != nil {
					return nil, fmt.Errorf("chowning %s to %d:%d: %w", m.Source, user.UID, user.GID, err)
				}
			}
		}
		m.Options = withoutMarkers(m.Options)
		out = append(out, m)
	}
	return out, nil
}
