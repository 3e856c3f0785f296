package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	_ "github.com/opencontainers/cgroups/devices" // lets libcontainer manage the devices cgroup
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/runtime/seccompcache"
	"github.com/skiff-project/skiff/storage"
)

// prepared is a container ready for libcontainer.
type prepared struct {
	config *configs.Config
	args   []string
	env    []string
	cwd    string
	user   ExecUser
}

// prepare builds the libcontainer configuration of c over its mounted
// rootfs: the spec from small options, then specconv.
func prepare(c *container.Container, rootfs, netnsPath string) (*prepared, error) {
	user, err := resolveUser(rootfs, c.Config.User)
	if err != nil {
		return nil, err
	}
	cwd := firstNonEmpty(c.Config.WorkingDir, "/")
	if err := mkdirInRoot(rootfs, cwd, user); err != nil {
		return nil, err
	}
	hostname := firstNonEmpty(c.Config.Hostname, c.ID[:12])
	if (c.HostConfig.NetworkKind == netns.ModeHost || c.HostConfig.Isolation.UTSMode == "host") && c.Config.Hostname == "" {
		hostname, _ = os.Hostname()
	}
	var etc []specs.Mount
	if c.HostConfig.NetworkKind == netns.ModeContainer {
		// Share the other container's namespace and its /etc files.
		target, err := container.Lookup(strings.TrimPrefix(c.HostConfig.NetworkMode, "container:"))
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
			Mode: c.HostConfig.NetworkKind, Hostname: hostname, DNS: c.HostConfig.DNS, DNSSearch: c.HostConfig.DNSSearch,
			DNSOptions: c.HostConfig.DNSOptions, ExtraHosts: c.HostConfig.ExtraHosts,
		}
		if names := c.NetworkNames(); len(names) > 0 && !paths.Rootless() {
			files.Gateway = c.NetworkSettings.Networks[names[0]].Gateway // root: the bridge
		}
		links, err := linkHosts(c)
		if err != nil {
			return nil, err
		}
		files.ExtraHosts = append(slices.Clone(files.ExtraHosts), links...)
		etc, err = netns.WriteFilesWith(c.Dir(), files)
		if err != nil {
			return nil, err
		}
	}
	notifyMounts, notifyVars := notifyMount(c)
	env := buildEnv(append(withoutVar(c.Config.Env, EnvNotifySocket), notifyVars...), hostname, user.Home, c.Config.Tty)
	mounts, err := resolveMounts(c.HostConfig.Mounts, rootfs, user)
	if err != nil {
		return nil, err
	}
	mounts = append(mounts, notifyMounts...)
	args := append([]string{c.Path}, c.Args...)
	rootless := paths.Rootless()
	isolation, err := isolationOpts(c, rootfs, &user) // --group-add changes user
	if err != nil {
		return nil, err
	}
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
	if c.HostConfig.NetworkKind == netns.ModeHost {
		opts = append(opts, WithHostNetwork())
	}
	if netnsPath != "" {
		opts = append(opts, WithNetNSPath(netnsPath))
	}
	if c.HostConfig.Privileged {
		opts = append(opts, WithPrivileged())
	}
	opts = append(opts, WithSecurity(c.HostConfig.Security, c.HostConfig.Privileged))
	if c.HostConfig.Init {
		opts = append(opts, WithInit(c.HostConfig.InitPath))
	}
	opts = append(opts, isolation...)
	spec, err := NewSpec(rootfs, opts...)
	if err != nil {
		return nil, err
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      c.ID,
		Spec:            spec,
		RootlessCgroups: rootless,
	})
	if err != nil {
		return nil, fmt.Errorf("building the container configuration: %w", err)
	}
	if err := withCgroup(config, c, rootless); err != nil { // runtime/resources.go
		return nil, err
	}
	config.Rlimits = rlimits(c.HostConfig.Isolation.Ulimits)
	// The seccomp program compiled once, not by init at every start.
	if err := seccompcache.Attach(config.Seccomp, filepath.Join(paths.RuntimeDir(), "seccomp")); err != nil {
		logrus.Debugf("seccomp program cache: %v", err)
	}
	return &prepared{config: config, args: spec.Process.Args, env: spec.Process.Env, cwd: cwd, user: user}, nil
}

// withoutVar is env without key's entries.
func withoutVar(env []string, key string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
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

// cwdFailed is libcontainer's failure to enter the working directory,
// compiled at its first use.
var cwdFailed = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`chdir to cwd \("([^"]*)"\)`) })

// startError classifies a failure to start the command: 127 when it does
// not exist, 126 when it cannot be executed, 125 otherwise.
func startError(cmd string, err error) error {
	msg := err.Error()
	switch {
	case cwdFailed().MatchString(msg):
		return fmt.Errorf("starting %s: working directory %s: %s: %w", cmd, cwdFailed().FindStringSubmatch(msg)[1], lastPart(msg), errdefs.ErrCannotInvoke)
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("starting container: %s: executable file not found in $PATH or the image: %w", cmd, errdefs.ErrCommandNotFound)
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory") || strings.Contains(msg, "exec format error"):
		return fmt.Errorf("starting container: %s: %s: %w", cmd, lastPart(msg), errdefs.ErrCannotInvoke)
	case strings.Contains(msg, "session key") && strings.Contains(msg, "quota exceeded"):
		return fmt.Errorf("starting container: %s: %w", keyQuotaHint(), err)
	}
	return fmt.Errorf("starting container: %w", err)
}

// keyQuotaHint explains a full kernel key quota: every running container
// holds a session keyring of its own (two keys), and the kernel gives a
// user other than root 200 keys by default, so about a hundred
// containers run at once.
func keyQuotaHint() string {
	limit := func(name string) string {
		b, err := os.ReadFile("/proc/sys/kernel/keys/" + name)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("the kernel's key quota of this user is full (kernel.keys.maxkeys=%s, maxbytes=%s; each running container holds a session keyring): "+
		"stop some containers, or as root raise it: sysctl -w kernel.keys.maxkeys=20000 kernel.keys.maxbytes=2000000", limit("maxkeys"), limit("maxbytes"))
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// resolveMounts turns the container's mounts into the spec's: volumes
// become binds of their directories (a new volume is filled from the
// image first, unless nocopy), a missing -v source directory is created
// as Docker does, and U chowns the source to the container's user.
func resolveMounts(ms []container.Mount, rootfs string, user ExecUser) ([]specs.Mount, error) {
	out := make([]specs.Mount, 0, len(ms))
	for _, m := range ms {
		sm := specs.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source}
		switch m.Type {
		case container.MountVolume:
			v, err := storage.GetVolume(m.Source)
			if err != nil {
				return nil, fmt.Errorf("volume %s for %s: %w", m.Source, m.Destination, err)
			}
			if err := storage.MountVolume(v); err != nil {
				return nil, err
			}
			if !m.NoCopy && (!v.Populated || v.NeedsMount()) {
				imgPath, err := securejoin.SecureJoin(rootfs, m.Destination)
				if err != nil {
					return nil, err
				}
				if err := storage.Populate(v, imgPath); err != nil {
					return nil, err
				}
			}
			sm.Type, sm.Source = "bind", v.Mountpoint
			fallthrough
		case container.MountBind:
			if m.CreateSource {
				if err := prepareVolumeSource(sm.Source); err != nil {
					return nil, err
				}
			}
			if m.Chown {
				if err := storage.ChownVolume(sm.Source, user.UID, user.GID); err != nil {
					return nil, fmt.Errorf("chowning %s to %d:%d: %w", sm.Source, user.UID, user.GID, err)
				}
			}
			sm.Options = append([]string{"rbind"}, m.Options...)
		case container.MountTmpfs:
			sm.Source = "tmpfs"
			sm.Options = append([]string(nil), m.Options...)
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		out = append(out, sm)
	}
	return out, nil
}

// prepareVolumeSource creates a missing host directory, as Docker does.
func prepareVolumeSource(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating host directory %s for a volume: %w", dir, err)
	}
	return nil
}
