package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

// newSpec builds a spec with opts or fails the test.
func newSpec(t *testing.T, opts ...SpecOpt) *specs.Spec {
	t.Helper()
	s, err := NewSpec("/rootfs", opts...)
	if err != nil {
		t.Fatalf("NewSpec: %v", err)
	}
	return s
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// seccompAllows reports whether some rule of the profile allows the syscall.
func seccompAllows(sc *specs.LinuxSeccomp, name string) bool {
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

func TestNewSpecDefaults(t *testing.T) {
	s := newSpec(t)

	t.Run("root and process", func(t *testing.T) {
		if s.Root.Path != "/rootfs" || s.Root.Readonly {
			t.Errorf("Root = %+v, want /rootfs read-write", s.Root)
		}
		if s.Process.Cwd != "/" {
			t.Errorf("Cwd = %q, want /", s.Process.Cwd)
		}
		if s.Version != specs.Version {
			t.Errorf("Version = %q, want %q", s.Version, specs.Version)
		}
		if s.Linux.Seccomp != nil {
			t.Errorf("NewSpec alone set a seccomp profile; WithSecurity does that")
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		for _, ns := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace} {
			if !hasNamespace(s, ns) {
				t.Errorf("namespace %s missing", ns)
			}
		}
		if hasNamespace(s, specs.UserNamespace) {
			t.Errorf("the base spec must not have a user namespace")
		}
		if hasNamespace(s, specs.CgroupNamespace) {
			t.Errorf("the base spec must not have a cgroup namespace")
		}
		if len(s.Linux.Namespaces) != 5 {
			t.Errorf("got %d namespaces, want 5: %v", len(s.Linux.Namespaces), s.Linux.Namespaces)
		}
	})

	t.Run("Docker's default capabilities", func(t *testing.T) {
		want := []string{
			"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
			"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
			"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
		}
		c := s.Process.Capabilities
		for name, got := range map[string][]string{"Bounding": c.Bounding, "Effective": c.Effective, "Permitted": c.Permitted} {
			if !slices.Equal(got, want) {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		for _, notDefault := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE"} {
			if slices.Contains(c.Bounding, notDefault) {
				t.Errorf("%s is not in Docker's default set", notDefault)
			}
		}
	})

	t.Run("masked and read-only paths", func(t *testing.T) {
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/proc/acpi", "/proc/asound"} {
			if !slices.Contains(s.Linux.MaskedPaths, p) {
				t.Errorf("MaskedPaths misses %s: %v", p, s.Linux.MaskedPaths)
			}
		}
		want := []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
		if !slices.Equal(s.Linux.ReadonlyPaths, want) {
			t.Errorf("ReadonlyPaths = %v, want %v", s.Linux.ReadonlyPaths, want)
		}
	})

	t.Run("mounts", func(t *testing.T) {
		tests := []struct {
			dest, typ string
			opts      []string // must all be present
		}{
			{"/proc", "proc", []string{"nosuid", "noexec", "nodev"}},
			{"/dev", "tmpfs", []string{"nosuid", "mode=755"}},
			{"/dev/pts", "devpts", []string{"newinstance", "ptmxmode=0666", "mode=0620"}},
			{"/dev/shm", "tmpfs", []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{"/dev/mqueue", "mqueue", []string{"nosuid", "noexec", "nodev"}},
			{"/sys", "sysfs", []string{"nosuid", "noexec", "nodev", "ro"}},
		}
		for _, tt := range tests {
			t.Run(tt.dest, func(t *testing.T) {
				m := mountAt(s, tt.dest)
				if m == nil {
					t.Fatalf("no mount at %s", tt.dest)
				}
				if m.Type != tt.typ {
					t.Errorf("type = %q, want %q", m.Type, tt.typ)
				}
				for _, o := range tt.opts {
					if !slices.Contains(m.Options, o) {
						t.Errorf("options %v miss %q", m.Options, o)
					}
				}
			})
		}
		if len(s.Mounts) != len(tests) {
			t.Errorf("got %d mounts, want %d", len(s.Mounts), len(tests))
		}
	})

	t.Run("specs do not share the package's lists", func(t *testing.T) {
		a := newSpec(t)
		a.Linux.MaskedPaths[0] = "/changed"
		a.Linux.ReadonlyPaths[0] = "/changed"
		a.Process.Capabilities.Bounding[0] = "CAP_CHANGED"
		b := newSpec(t)
		if b.Linux.MaskedPaths[0] == "/changed" || b.Linux.ReadonlyPaths[0] == "/changed" {
			t.Errorf("changing one spec's paths changed the next spec's")
		}
		if b.Process.Capabilities.Bounding[0] == "CAP_CHANGED" || DefaultCaps[0] != "CAP_CHOWN" {
			t.Errorf("changing one spec's capabilities changed DefaultCaps")
		}
	})

	t.Run("an option's error is returned", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := NewSpec("/rootfs", func(*specs.Spec) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
}

func TestWithCapabilities(t *testing.T) {
	all := allCaps()
	if len(all) < len(DefaultCaps) {
		t.Fatalf("allCaps() = %v: fewer than the defaults", all)
	}
	withDefault := func(extra ...string) []string {
		return append(append([]string(nil), DefaultCaps...), extra...)
	}
	without := func(set []string, drop ...string) []string {
		var out []string
		for _, c := range set {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		add, drop []string
		want      []string // as a set
		wantErr   error
	}{
		{name: "nothing keeps the defaults", want: DefaultCaps},
		{name: "add", add: []string{"CAP_NET_ADMIN"}, want: withDefault("CAP_NET_ADMIN")},
		{name: "add lower case without CAP_", add: []string{"net_admin", "sys_ptrace"}, want: withDefault("CAP_NET_ADMIN", "CAP_SYS_PTRACE")},
		{name: "add with spaces and mixed case", add: []string{" Sys_Admin "}, want: withDefault("CAP_SYS_ADMIN")},
		{name: "drop", drop: []string{"CAP_CHOWN", "net_raw"}, want: without(DefaultCaps, "CAP_CHOWN", "CAP_NET_RAW")},
		{name: "drop a capability not in the set", drop: []string{"SYS_ADMIN"}, want: DefaultCaps},
		{name: "drop ALL", drop: []string{"ALL"}, want: nil},
		{name: "drop all in lower case", drop: []string{"all"}, want: nil},
		{name: "drop ALL then add", drop: []string{"ALL"}, add: []string{"chown", "CAP_KILL"}, want: []string{"CAP_CHOWN", "CAP_KILL"}},
		{name: "add ALL", add: []string{"ALL"}, want: all},
		{name: "add and drop the same keeps it, as Docker", add: []string{"CHOWN"}, drop: []string{"CHOWN"}, want: DefaultCaps},
		{name: "unknown cap to add", add: []string{"CAP_FLY"}, wantErr: errdefs.ErrInvalidArgument},
		{name: "unknown cap to drop", drop: []string{"fly"}, wantErr: errdefs.ErrInvalidArgument},
		{name: "empty name", add: []string{""}, wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSpec("/rootfs", WithCapabilities(tt.add, tt.drop))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			c := s.Process.Capabilities
			got := slices.Sorted(slices.Values(c.Bounding))
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("Bounding = %v, want %v", got, want)
			}
			if !slices.Equal(c.Effective, c.Bounding) || !slices.Equal(c.Permitted, c.Bounding) {
				t.Errorf("Effective %v and Permitted %v differ from Bounding %v", c.Effective, c.Permitted, c.Bounding)
			}
		})
	}
}

// Docker (moby oci/caps.TweakCapabilities): with --cap-add ALL, the
// capabilities named in --cap-drop are still dropped.
func TestWithCapabilitiesAddAllDropOne(t *testing.T) {
	s := newSpec(t, WithCapabilities([]string{"ALL"}, []string{"SYS_ADMIN"}))
	if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		t.Fatal("--cap-add ALL --cap-drop SYS_ADMIN keeps CAP_SYS_ADMIN; Docker drops it (WithCapabilities drops before adding ALL)")
	}
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_NET_ADMIN") {
		t.Errorf("--cap-add ALL lost CAP_NET_ADMIN: %v", s.Process.Capabilities.Bounding)
	}
}

func TestWithPrivileged(t *testing.T) {
	s := newSpec(t, WithCgroupMount(false), WithSecurity(container.Security{}, false), WithPrivileged())
	if got, want := s.Process.Capabilities.Bounding, allCaps(); !slices.Equal(got, want) {
		t.Errorf("Bounding = %v, want every capability %v", got, want)
	}
	if !slices.Contains(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN") {
		t.Errorf("Effective misses CAP_SYS_ADMIN")
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v, read-only %v: want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp != nil {
		t.Errorf("privileged kept a seccomp profile")
	}
	for _, dest := range []string{"/sys", "/sys/fs/cgroup"} {
		m := mountAt(s, dest)
		if m == nil {
			t.Fatalf("no mount at %s", dest)
		}
		if slices.Contains(m.Options, "ro") {
			t.Errorf("%s options %v: want read-write", dest, m.Options)
		}
		if !slices.Contains(m.Options, "nosuid") {
			t.Errorf("%s options %v lost nosuid", dest, m.Options)
		}
	}
	if m := mountAt(s, "/proc"); m == nil || !slices.Contains(m.Options, "noexec") {
		t.Errorf("privileged changed /proc: %+v", m)
	}
}

func TestWithHostNetwork(t *testing.T) {
	s := newSpec(t, WithHostNetwork())
	if hasNamespace(s, specs.NetworkNamespace) {
		t.Errorf("host network kept the network namespace")
	}
	for _, ns := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		if !hasNamespace(s, ns) {
			t.Errorf("host network removed the %s namespace", ns)
		}
	}
	m := mountAt(s, "/sys")
	if m == nil {
		t.Fatal("no /sys mount")
	}
	if m.Type != "bind" || m.Source != "/sys" {
		t.Errorf("/sys = %+v, want a bind of the host's /sys", m)
	}
	for _, o := range []string{"rbind", "ro", "nosuid"} {
		if !slices.Contains(m.Options, o) {
			t.Errorf("/sys options %v miss %q", m.Options, o)
		}
	}
	if n := len(s.Mounts); n != 6 {
		t.Errorf("got %d mounts, want the 6 defaults", n)
	}
}

func TestParseSecurityOpts(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_LOG"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    []string
		want    container.Security
		wantErr bool
	}{
		{name: "none", want: container.Security{}},
		{name: "no-new-privileges", opts: []string{"no-new-privileges"}, want: container.Security{NoNewPrivileges: true}},
		{name: "no-new-privileges=true", opts: []string{"no-new-privileges=true"}, want: container.Security{NoNewPrivileges: true}},
		{name: "no-new-privileges:true", opts: []string{"no-new-privileges:true"}, want: container.Security{NoNewPrivileges: true}},
		{name: "later false wins", opts: []string{"no-new-privileges", "no-new-privileges=false"}, want: container.Security{}},
		{name: "seccomp=unconfined", opts: []string{"seccomp=unconfined"}, want: container.Security{Seccomp: "unconfined"}},
		{name: "seccomp:unconfined", opts: []string{"seccomp:unconfined"}, want: container.Security{Seccomp: "unconfined"}},
		{name: "seccomp file", opts: []string{"seccomp=" + profile}, want: container.Security{Seccomp: `{"defaultAction":"SCMP_ACT_LOG"}`}},
		{name: "label and apparmor accepted", opts: []string{"label=disable", "apparmor=unconfined"}, want: container.Security{}},
		{name: "missing seccomp file", opts: []string{"seccomp=" + filepath.Join(dir, "nope.json")}, wantErr: true},
		{name: "seccomp without value", opts: []string{"seccomp"}, wantErr: true},
		{name: "seccomp empty value", opts: []string{"seccomp="}, wantErr: true},
		{name: "bad no-new-privileges value", opts: []string{"no-new-privileges=maybe"}, wantErr: true},
		{name: "unknown option", opts: []string{"selinux=on"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecurityOpts(tt.opts)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWithSecurity(t *testing.T) {
	tests := []struct {
		name        string
		caps        []string // --cap-add before WithSecurity
		so          container.Security
		privileged  bool
		wantSeccomp bool
		wantNNP     bool
		check       func(t *testing.T, sc *specs.LinuxSeccomp)
	}{
		{
			name: "default profile", wantSeccomp: true,
			check: func(t *testing.T, sc *specs.LinuxSeccomp) {
				if sc.DefaultAction != specs.ActErrno {
					t.Errorf("DefaultAction = %s, want %s", sc.DefaultAction, specs.ActErrno)
				}
				if !seccompAllows(sc, "read") || !seccompAllows(sc, "execve") {
					t.Errorf("the default profile does not allow read and execve")
				}
				if seccompAllows(sc, "mount") {
					t.Errorf("the default profile allows mount without CAP_SYS_ADMIN")
				}
			},
		},
		{
			name: "default profile follows the capabilities", caps: []string{"SYS_ADMIN"}, wantSeccomp: true,
			check: func(t *testing.T, sc *specs.LinuxSeccomp) {
				if !seccompAllows(sc, "mount") {
					t.Errorf("with CAP_SYS_ADMIN the default profile must allow mount")
				}
			},
		},
		{name: "unconfined", so: container.Security{Seccomp: "unconfined"}},
		{name: "privileged", privileged: true},
		{name: "no-new-privileges", so: container.Security{NoNewPrivileges: true}, wantSeccomp: true, wantNNP: true},
		{
			name: "profile from a file", so: container.Security{Seccomp: `{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`}, wantSeccomp: true,
			check: func(t *testing.T, sc *specs.LinuxSeccomp) {
				if sc.DefaultAction != specs.ActLog {
					t.Errorf("DefaultAction = %s, want the file's %s", sc.DefaultAction, specs.ActLog)
				}
				if len(sc.Syscalls) != 1 || sc.Syscalls[0].Names[0] != "chmod" {
					t.Errorf("Syscalls = %+v, want the file's chmod rule", sc.Syscalls)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpec(t, WithCapabilities(tt.caps, nil), WithSecurity(tt.so, tt.privileged))
			if got := s.Linux.Seccomp != nil; got != tt.wantSeccomp {
				t.Fatalf("seccomp present = %v, want %v", got, tt.wantSeccomp)
			}
			if s.Process.NoNewPrivileges != tt.wantNNP {
				t.Errorf("NoNewPrivileges = %v, want %v", s.Process.NoNewPrivileges, tt.wantNNP)
			}
			if tt.check != nil {
				tt.check(t, s.Linux.Seccomp)
			}
		})
	}

	t.Run("bad profile", func(t *testing.T) {
		_, err := NewSpec("/rootfs", WithSecurity(container.Security{Seccomp: "{not json"}, false))
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("err = %v, want an invalid argument", err)
		}
	})
}

func TestWithInit(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"command", []string{"sh", "-c", "echo hi"}, []string{"/sbin/docker-init", "--", "sh", "-c", "echo hi"}},
		{"no command", nil, []string{"/sbin/docker-init", "--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpec(t, WithProcess(tt.args, nil, "/", ExecUser{}, false), WithInit("/usr/bin/tini-static"))
			if !slices.Equal(s.Process.Args, tt.want) {
				t.Errorf("Args = %q, want %q", s.Process.Args, tt.want)
			}
			m := mountAt(s, "/sbin/docker-init")
			if m == nil {
				t.Fatal("no init mount")
			}
			if m.Source != "/usr/bin/tini-static" || m.Type != "bind" || !slices.Contains(m.Options, "ro") {
				t.Errorf("init mount = %+v, want a read-only bind of the init", m)
			}
		})
	}
}

func TestWithCgroupMount(t *testing.T) {
	tests := []struct {
		name     string
		rootless bool
		typ, src string
		opts     []string
	}{
		{"root mounts cgroup", false, "cgroup", "cgroup", []string{"nosuid", "noexec", "nodev", "ro"}},
		{"rootless binds the host's", true, "bind", "/sys/fs/cgroup", []string{"rbind", "nosuid", "noexec", "nodev", "ro"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpec(t, WithCgroupMount(tt.rootless))
			m := mountAt(s, "/sys/fs/cgroup")
			if m == nil {
				t.Fatal("no /sys/fs/cgroup mount")
			}
			if m.Type != tt.typ || m.Source != tt.src {
				t.Errorf("mount = %s from %s, want %s from %s", m.Type, m.Source, tt.typ, tt.src)
			}
			for _, o := range tt.opts {
				if !slices.Contains(m.Options, o) {
					t.Errorf("options %v miss %q", m.Options, o)
				}
			}
			if last := s.Mounts[len(s.Mounts)-1].Destination; last != "/sys/fs/cgroup" {
				t.Errorf("the cgroup mount must come after /sys; last mount is %s", last)
			}
		})
	}
}

func TestWithDevptsGID(t *testing.T) {
	tests := []struct {
		name   string
		mapped bool
		want   bool
	}{
		{"tty group mapped", true, true},
		{"tty group not mapped", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpec(t, WithDevptsGID(tt.mapped))
			pts := mountAt(s, "/dev/pts")
			if got := slices.Contains(pts.Options, "gid=5"); got != tt.want {
				t.Errorf("gid=5 in %v = %v, want %v", pts.Options, got, tt.want)
			}
			for _, m := range s.Mounts {
				if m.Destination != "/dev/pts" && slices.Contains(m.Options, "gid=5") {
					t.Errorf("gid=5 added to %s", m.Destination)
				}
			}
		})
	}
}

func TestWithProcess(t *testing.T) {
	s := newSpec(t, WithProcess([]string{"id"}, []string{"A=1"}, "/work", ExecUser{UID: 1000, GID: 100, Groups: []int{10, 20}}, true))
	p := s.Process
	if !slices.Equal(p.Args, []string{"id"}) || !slices.Equal(p.Env, []string{"A=1"}) || p.Cwd != "/work" || !p.Terminal {
		t.Errorf("process = %+v", p)
	}
	if p.User.UID != 1000 || p.User.GID != 100 || !slices.Equal(p.User.AdditionalGids, []uint32{10, 20}) {
		t.Errorf("user = %+v, want 1000:100 with groups 10, 20", p.User)
	}
}

func TestWithNetNSPath(t *testing.T) {
	tests := []struct {
		name     string
		opts     []SpecOpt
		wantNet  bool
		wantPath string
	}{
		{name: "joins the pinned namespace", opts: []SpecOpt{WithNetNSPath("/run/skiff/netns/abc")}, wantNet: true, wantPath: "/run/skiff/netns/abc"},
		{name: "host network has none to join", opts: []SpecOpt{WithHostNetwork(), WithNetNSPath("/run/skiff/netns/abc")}, wantNet: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpec(t, tt.opts...)
			found := false
			for _, ns := range s.Linux.Namespaces {
				if ns.Type == specs.NetworkNamespace {
					found = true
					if ns.Path != tt.wantPath {
						t.Errorf("network namespace path = %q, want %q", ns.Path, tt.wantPath)
					}
				} else if ns.Path != "" {
					t.Errorf("%s namespace got path %q", ns.Type, ns.Path)
				}
			}
			if found != tt.wantNet {
				t.Errorf("network namespace present = %v, want %v", found, tt.wantNet)
			}
		})
	}
}
