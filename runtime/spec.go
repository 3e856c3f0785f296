package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

// SpecOpt changes a spec; each is small and testable on an empty spec.
type SpecOpt func(*specs.Spec) error

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker's masked and read-only paths.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// NewSpec returns the base spec every container starts from: all
// namespaces but the user one, Docker's mounts, masks and capabilities.
func NewSpec(rootfs string, opts ...SpecOpt) (*specs.Spec, error) {
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Process:  &specs.Process{Cwd: "/", Capabilities: &specs.LinuxCapabilities{}},
		Hostname: "",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace},
			},
			MaskedPaths:   append([]string(nil), maskedPaths...),
			ReadonlyPaths: append([]string(nil), readonlyPaths...),
		},
	}
	setCaps(s, DefaultCaps)
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func setCaps(s *specs.Spec, caps []string) {
	c := append([]string(nil), caps...)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: c, Effective: c, Permitted: c,
	}
}

// WithCgroupMount mounts the cgroup hierarchy read-only: as its own mount
// with root, bound from the host when rootless (a user namespace cannot
// mount cgroup v1 hierarchies).
func WithCgroupMount(rootless bool) SpecOpt {
	return func(s *specs.Spec) error {
		m := specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}
		if rootless {
			m = specs.Mount{Destination: "/sys/fs/cgroup", Type: "bind", Source: "/sys/fs/cgroup", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
		s.Mounts = append(s.Mounts, m)
		return nil
	}
}

// WithDevptsGID sets the gid of new ptys to tty (5) when it is mapped.
func WithDevptsGID(mapped bool) SpecOpt {
	return func(s *specs.Spec) error {
		if !mapped {
			return nil
		}
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev/pts" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "gid=5")
			}
		}
		return nil
	}
}

// WithProcess sets the command, environment, directory and user.
func WithProcess(args, env []string, cwd string, u ExecUser, tty bool) SpecOpt {
	return func(s *specs.Spec) error {
		s.Process.Args = args
		s.Process.Env = env
		s.Process.Cwd = cwd
		s.Process.Terminal = tty
		s.Process.User = specs.User{UID: uint32(u.UID), GID: uint32(u.GID)}
		for _, g := range u.Groups {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}

// WithHostname sets the UTS hostname.
func WithHostname(h string) SpecOpt {
	return func(s *specs.Spec) error { s.Hostname = h; return nil }
}

// WithReadOnlyRoot makes the root file system read-only.
func WithReadOnlyRoot(ro bool) SpecOpt {
	return func(s *specs.Spec) error { s.Root.Readonly = ro; return nil }
}

// WithMounts appends mounts (volumes, tmpfs, /etc files).
func WithMounts(ms []specs.Mount) SpecOpt {
	return func(s *specs.Spec) error { s.Mounts = append(s.Mounts, ms...); return nil }
}

// WithHostNetwork drops the network namespace; /sys is then bound from
// the host, since sysfs cannot be mounted without an own net namespace.
func WithHostNetwork() SpecOpt {
	return func(s *specs.Spec) error {
		removeNamespace(s, specs.NetworkNamespace)
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/sys" {
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			}
		}
		return nil
	}
}

// WithNetNSPath joins the network namespace pinned at path.
func WithNetNSPath(path string) SpecOpt {
	return func(s *specs.Spec) error {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = path
			}
		}
		return nil
	}
}

func removeNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	out := s.Linux.Namespaces[:0]
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	s.Linux.Namespaces = out
}

// normalizeCap turns net_admin or NET_ADMIN into CAP_NET_ADMIN and checks
// that the kernel knows it; ALL is kept as is.
// CheckCaps checks --cap-add and --cap-drop names (with or without CAP_, any case, or ALL).
func CheckCaps(caps []string) error {
	for _, c := range caps {
		if _, err := normalizeCap(c); err != nil {
			return err
		}
	}
	return nil
}

func normalizeCap(c string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(c))
	if u == "ALL" {
		return u, nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	for _, k := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(k.String()) == u {
			return u, nil
		}
	}
	return "", errdefs.Invalid("unknown capability %q: see capabilities(7) for names", c)
}

func allCaps() []string {
	var out []string
	last, err := capability.LastCap()
	for _, k := range capability.ListKnown() {
		if err == nil && k > last {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(k.String()))
	}
	return out
}

// WithCapabilities applies --cap-add and --cap-drop over Docker's set, as
// Docker does: drop ALL first, then add.
func WithCapabilities(add, drop []string) SpecOpt {
	return func(s *specs.Spec) error {
		set := map[string]bool{}
		for _, c := range s.Process.Capabilities.Bounding {
			set[c] = true
		}
		var adds, drops []string
		for _, c := range add {
			n, err := normalizeCap(c)
			if err != nil {
				return err
			}
			adds = append(adds, n)
		}
		for _, c := range drop {
			n, err := normalizeCap(c)
			if err != nil {
				return err
			}
			drops = append(drops, n)
		}
		// Docker's rules (TweakCapabilities): ALL among the adds starts
		// from every capability, ALL among the drops from none; then the
		// drops go and the adds come, an add winning over a drop.
		switch {
		case slices.Contains(adds, "ALL"):
			for _, a := range allCaps() {
				set[a] = true
			}
		case slices.Contains(drops, "ALL"):
			set = map[string]bool{}
		}
		for _, c := range drops {
			if !slices.Contains(adds, c) {
				delete(set, c)
			}
		}
		for _, c := range adds {
			if c != "ALL" {
				set[c] = true
			}
		}
		var caps []string
		for _, c := range allCaps() {
			if set[c] {
				caps = append(caps, c)
			}
		}
		setCaps(s, caps)
		return nil
	}
}

// WithPrivileged gives every capability, no masks, no seccomp, writable
// /sys and the host's devices, as Docker's --privileged does.
func WithPrivileged() SpecOpt {
	return func(s *specs.Spec) error {
		setCaps(s, allCaps())
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
		s.Linux.Seccomp = nil
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/sys" || s.Mounts[i].Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = removeOpt(s.Mounts[i].Options, "ro")
			}
		}
		return nil
	}
}

func removeOpt(opts []string, o string) []string {
	var out []string
	for _, x := range opts {
		if x != o {
			out = append(out, x)
		}
	}
	return out
}

// ParseSecurityOpts parses Docker's --security-opt values.
func ParseSecurityOpts(opts []string) (container.Security, error) {
	var so container.Security
	for _, o := range opts {
		k, v, hasV := strings.Cut(o, "=")
		if !hasV {
			k, v, hasV = strings.Cut(o, ":")
		}
		switch {
		case k == "no-new-privileges" && (!hasV || v == "true"):
			so.NoNewPrivileges = true
		case k == "no-new-privileges" && v == "false":
			so.NoNewPrivileges = false
		case k == "seccomp" && v == "unconfined":
			so.Seccomp = "unconfined"
		case k == "seccomp" && hasV && v != "":
			data, err := os.ReadFile(v)
			if err != nil {
				return so, errdefs.Invalid("--security-opt seccomp=%s: %v", v, err)
			}
			so.Seccomp = string(data)
		case k == "label" || k == "apparmor":
			// Accepted for compatibility; this host enforces neither.
		default:
			return so, errdefs.Invalid("invalid --security-opt %q: want no-new-privileges, seccomp=unconfined or seccomp=FILE", o)
		}
	}
	return so, nil
}

// WithSecurity applies no-new-privileges and the seccomp profile (Docker's
// default unless unconfined or a file is given). It must come after
// WithCapabilities: the default profile allows syscalls by capability.
func WithSecurity(so container.Security, privileged bool) SpecOpt {
	return func(s *specs.Spec) error {
		s.Process.NoNewPrivileges = so.NoNewPrivileges
		var err error
		switch {
		case so.Seccomp == "unconfined":
			s.Linux.Seccomp = nil
		case so.Seccomp != "":
			s.Linux.Seccomp, err = seccomp.LoadProfile(so.Seccomp, s)
			if err != nil {
				return errdefs.Invalid("loading seccomp profile: %v", err)
			}
		case privileged:
			s.Linux.Seccomp = nil
		default:
			s.Linux.Seccomp, err = seccomp.GetDefaultProfile(s)
			if err != nil {
				return fmt.Errorf("building Docker's default seccomp profile: %w", err)
			}
		}
		return nil
	}
}

// WithInit runs the command under a small init (tini) bound into the
// container, which reaps zombies and forwards signals.
func WithInit(initPath string) SpecOpt {
	return func(s *specs.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: initPath, Options: []string{"bind", "ro", "nosuid", "nodev"}})
		s.Process.Args = append([]string{"/sbin/docker-init", "--"}, s.Process.Args...)
		return nil
	}
}

// FindInit returns the static init binary used by --init.
func FindInit() (string, error) {
	for _, p := range []string{"/usr/libexec/skiff/init", "/usr/bin/tini-static", "/usr/bin/catatonit", "/usr/libexec/podman/catatonit"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return filepath.Clean(p), nil
		}
	}
	return "", fmt.Errorf("--init needs a static init binary: install Debian's tini package (sudo apt-get install tini): %w", errdefs.ErrUnavailable)
}
