package runtime

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/docker/go-units"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/storage"
)

// The namespace modes, devices, sysctls and ulimits of a container
// (container.Isolation): checked against other containers and networks
// at create, turned into spec options at start.

// resolveIsolation checks what s.Isolation names on this host when the
// container is created: the containers whose namespaces it joins (kept
// by ID), its --ip on its network, its links, the API socket.
func resolveIsolation(s *Spec, userNet *network.Network, img *storage.Image) error {
	iso := &s.Isolation
	if err := checkPlatform(iso.Platform, img); err != nil {
		return err
	}
	if len(iso.Links) > 0 && s.NetworkKind != netns.ModeUser {
		return errdefs.Invalid("--link with --network %s: the containers cannot reach each other there: put both on a user-defined network (skiff network create)", s.Network)
	}
	var err error
	if iso.PidMode, err = resolveShared("--pid", iso.PidMode, nil); err != nil {
		return err
	}
	shareable := func(t *container.Container) error {
		if m := t.HostConfig.Isolation.IpcModeOf(); m != "shareable" && m != "host" {
			return fmt.Errorf("--ipc container:%s: that container's IPC namespace is %s, not shareable: create it with --ipc shareable: %w", t.Name, m, errdefs.ErrConflict)
		}
		return nil
	}
	if iso.IpcMode, err = resolveShared("--ipc", iso.IpcMode, shareable); err != nil {
		return err
	}
	for i, l := range iso.Links {
		t, err := container.Lookup(l.Name)
		if err != nil {
			return fmt.Errorf("--link %s: %w", l.Name, err)
		}
		iso.Links[i].ID, iso.Links[i].Name = t.ID, t.Name
	}
	if iso.APISocket != "" {
		if st, err := os.Stat(iso.APISocket); err != nil || st.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("--use-api-socket: no API socket at %s: start it first with skiff system service: %w", iso.APISocket, errdefs.ErrUnavailable)
		}
		if s.Warn != nil {
			s.Warn("--use-api-socket: " + iso.APISocket + " is bound at /var/run/docker.sock: the container can run containers as this user")
		}
	}
	if iso.IPv6Address != "" && userNet != nil {
		if err := userNet.CheckAddress6(iso.IPv6Address); err != nil {
			return err
		}
	}
	if iso.IPv4Address != "" && userNet != nil {
		return userNet.CheckAddress(iso.IPv4Address)
	}
	return nil
}

// checkPlatform checks that img is of the platform os/arch[/variant].
func checkPlatform(want string, img *storage.Image) error {
	if want == "" {
		return nil
	}
	c := img.Config
	have := c.OS + "/" + c.Architecture
	if strings.Count(want, "/") == 2 {
		have += "/" + c.Variant
	}
	if have != want {
		return errdefs.Invalid("image %s is %s, not the --platform %s asked for: pull that one (skiff pull --platform %s %s)", imageName(img), have, want, want, imageName(img))
	}
	return nil
}

func imageName(img *storage.Image) string {
	if len(img.Names) > 0 {
		return img.Names[0]
	}
	return img.ID[:12]
}

// resolveShared turns container:NAME into container:ID, checking the
// container with check.
func resolveShared(flag, mode string, check func(*container.Container) error) (string, error) {
	name, ok := strings.CutPrefix(mode, "container:")
	if !ok {
		return mode, nil
	}
	t, err := container.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, mode, err)
	}
	if check != nil {
		if err := check(t); err != nil {
			return "", err
		}
	}
	return "container:" + t.ID, nil
}

// storageOptions are the layer's options. A --rm container's layer is
// volatile, as Podman makes it: its store records are written without
// fsync and its overlay is mounted "volatile" (no sync of the upper
// directory at unmount); it is gone at its exit anyway, and one a crash
// leaves behind is cleaned up as dead. With --userns keep-id its files
// are stored shifted so that the container's own user namespace sees
// them with the image's owners.
func storageOptions(iso container.Isolation, remove bool) *cstorage.ContainerOptions {
	o := &cstorage.ContainerOptions{Volatile: remove}
	if iso.UsernsMode != "keep-id" {
		return o
	}
	for _, m := range keepIDMap(iso.KeepIDUID, nsSize("/proc/self/uid_map")) {
		o.UIDMap = append(o.UIDMap, idtools.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range keepIDMap(iso.KeepIDGID, nsSize("/proc/self/gid_map")) {
		o.GIDMap = append(o.GIDMap, idtools.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return o
}

// keepIDMap maps id inside to 0 of skiff's user namespace (the user),
// the ids below it to 1…id and the ones above it to themselves, as
// Podman's keep-id: size is how many ids skiff's namespace has.
func keepIDMap(id, size int) []specs.LinuxIDMapping {
	m := []specs.LinuxIDMapping{{ContainerID: uint32(id), HostID: 0, Size: 1}}
	below := min(id, size-1)
	if below > 0 {
		m = append(m, specs.LinuxIDMapping{ContainerID: 0, HostID: 1, Size: uint32(below)})
	}
	if rest := size - 1 - below; rest > 0 {
		m = append(m, specs.LinuxIDMapping{ContainerID: uint32(id + 1), HostID: uint32(below + 1), Size: uint32(rest)})
	}
	return m
}

// CheckGroupAdd says whether supplementary groups can be given: not in a
// user namespace of one id, where setgroups is denied.
func CheckGroupAdd() error {
	if data, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(data)) == "deny" {
		return errdefs.Invalid("--group-add needs a subordinate gid range: without one, skiff's user namespace forbids supplementary groups: add one (sudo usermod --add-subgids 100000-165535 $USER, then skiff system migrate)")
	}
	return nil
}

// CheckKeepID says whether --userns keep-id can work: it needs the
// user's subordinate ids for the container's other users.
func CheckKeepID() error {
	if nsSize("/proc/self/uid_map") < 2 || nsSize("/proc/self/gid_map") < 2 {
		return errdefs.Invalid("--userns keep-id needs a subordinate uid and gid range for the container's other users: add one (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER, then skiff system migrate)")
	}
	return nil
}

// nsSize is how many ids a uid_map or gid_map maps.
func nsSize(mapFile string) int {
	data, err := os.ReadFile(mapFile)
	if err != nil {
		return 1
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			k, _ := strconv.Atoi(f[2])
			n += k
		}
	}
	return min(n, 1<<30)
}

// isolationOpts are the spec options of c.HostConfig.Isolation; --group-add
// adds to user's groups.
func isolationOpts(c *container.Container, rootfs string, user *ExecUser) ([]SpecOpt, error) {
	iso := c.HostConfig.Isolation
	groups, err := resolveGroups(rootfs, iso.GroupAdd)
	if err != nil {
		return nil, err
	}
	user.Groups = append(user.Groups, groups...)
	opts := []SpecOpt{
		withShm(iso), withDomainname(iso.Domainname), withSysctls(containerSysctls(c)),
		withDevices(iso, paths.Rootless()), withAnnotations(iso.Annotations),
	}
	if iso.UTSMode == "host" {
		opts = append(opts, withHostUTS())
	}
	if iso.CgroupnsMode == "private" {
		opts = append(opts, withNamespace(specs.CgroupNamespace, ""))
	}
	pid, err := pidOpt(iso.PidMode)
	if err != nil {
		return nil, err
	}
	ipc, err := ipcOpt(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, pid, ipc)
	if iso.UsernsMode == "keep-id" {
		ms, err := keepIDEntries(c, rootfs)
		if err != nil {
			return nil, err
		}
		opts = append(opts, withKeepID(iso), WithMounts(ms))
	}
	if iso.APISocket != "" {
		opts = append(opts, WithMounts([]specs.Mount{{Destination: "/var/run/docker.sock", Type: "bind", Source: iso.APISocket, Options: []string{"rbind"}}}))
	}
	if len(iso.CDIDevices) > 0 {
		opts = append(opts, withCDIDevices(iso.CDIDevices, paths.Rootless()))
	}
	return opts, nil
}

// resolveGroups finds --group-add's names in the image's /etc/group;
// numbers stand for themselves.
func resolveGroups(rootfs string, names []string) ([]int, error) {
	var out []int
	groups := readColonFile(rootfs, "/etc/group")
	for _, n := range names {
		if id, err := strconv.Atoi(n); err == nil {
			out = append(out, id)
			continue
		}
		i := slices.IndexFunc(groups, func(g []string) bool { return len(g) >= 3 && g[0] == n })
		if i < 0 {
			return nil, errdefs.Invalid("--group-add %s: no such group in the image's /etc/group: add it to the image or give its number", n)
		}
		id, _ := strconv.Atoi(groups[i][2])
		out = append(out, id)
	}
	return out, nil
}

// setMount replaces (or, with a nil m, removes) the mount at dst.
func setMount(s *specs.Spec, dst string, m *specs.Mount) {
	for i := range s.Mounts {
		if s.Mounts[i].Destination != dst {
			continue
		}
		if m == nil {
			s.Mounts = slices.Delete(s.Mounts, i, i+1)
		} else {
			s.Mounts[i] = *m
		}
		return
	}
}

func bindMount(dst, src string, opts ...string) *specs.Mount {
	return &specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

// withShm sizes /dev/shm (--shm-size) or, with --ipc none, leaves it out.
func withShm(iso container.Isolation) SpecOpt {
	return func(s *specs.Spec) error {
		if iso.IpcMode == "none" {
			setMount(s, "/dev/shm", nil)
			return nil
		}
		size := iso.ShmSize
		if size == 0 {
			size = container.DefaultShmSize
		}
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev/shm" {
				s.Mounts[i].Options = append(removeSizeOpt(s.Mounts[i].Options), "size="+strconv.FormatInt(size/1024, 10)+"k")
			}
		}
		return nil
	}
}

func removeSizeOpt(opts []string) []string {
	return slices.DeleteFunc(slices.Clone(opts), func(o string) bool { return strings.HasPrefix(o, "size=") })
}

// withNamespace adds a namespace of type t, or joins the one at path.
func withNamespace(t specs.LinuxNamespaceType, path string) SpecOpt {
	return func(s *specs.Spec) error {
		removeNamespace(s, t)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
		return nil
	}
}

// withHostUTS keeps the host's UTS namespace: no host or domain name of
// the container's own.
func withHostUTS() SpecOpt {
	return func(s *specs.Spec) error {
		removeNamespace(s, specs.UTSNamespace)
		s.Hostname, s.Domainname = "", ""
		return nil
	}
}

func withDomainname(d string) SpecOpt {
	return func(s *specs.Spec) error {
		if d != "" {
			s.Domainname = d
		}
		return nil
	}
}

func withSysctls(kv map[string]string) SpecOpt {
	return func(s *specs.Spec) error {
		if len(kv) > 0 {
			s.Linux.Sysctl = kv
		}
		return nil
	}
}

func withAnnotations(kv map[string]string) SpecOpt {
	return func(s *specs.Spec) error {
		if len(kv) > 0 {
			s.Annotations = kv
		}
		return nil
	}
}

// targetPid is the pid of the running container a mode names
// (container:ID).
func targetPid(flag, mode string) (int, error) {
	t, err := container.Lookup(strings.TrimPrefix(mode, "container:"))
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", flag, mode, err)
	}
	if !t.State.Running || t.State.Pid == 0 {
		return 0, fmt.Errorf("%s container:%s: that container is not running: start it first: %w", flag, t.Name, errdefs.ErrConflict)
	}
	return t.State.Pid, nil
}

// pidOpt is --pid: host (rootless, the host's /proc is bound, since a
// user namespace cannot mount proc for the host's pid namespace) or
// another container's namespace.
func pidOpt(mode string) (SpecOpt, error) {
	switch {
	case mode == "host":
		return func(s *specs.Spec) error {
			removeNamespace(s, specs.PIDNamespace)
			if paths.Rootless() {
				setMount(s, "/proc", bindMount("/proc", "/proc", "nosuid", "noexec", "nodev"))
			}
			return nil
		}, nil
	case strings.HasPrefix(mode, "container:"):
		pid, err := targetPid("--pid", mode)
		if err != nil {
			return nil, err
		}
		return withNamespace(specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/pid", pid)), nil
	}
	return func(*specs.Spec) error { return nil }, nil
}

// ipcOpt is --ipc host (the host's /dev/shm and message queues),
// shareable (a /dev/shm outside the container, which others can bind) or
// container:ID (that container's namespace and /dev/shm).
func ipcOpt(c *container.Container) (SpecOpt, error) {
	mode := c.HostConfig.Isolation.IpcMode
	switch {
	case mode == "host":
		return func(s *specs.Spec) error {
			removeNamespace(s, specs.IPCNamespace)
			setMount(s, "/dev/shm", bindMount("/dev/shm", "/dev/shm"))
			if _, err := os.Stat("/dev/mqueue"); err == nil {
				setMount(s, "/dev/mqueue", bindMount("/dev/mqueue", "/dev/mqueue"))
			} else if paths.Rootless() {
				setMount(s, "/dev/mqueue", nil) // the host has none to bind, and a user namespace cannot mount the host's
			}
			return nil
		}, nil
	case mode == "shareable":
		dir, err := mountShm(c)
		if err != nil {
			return nil, err
		}
		return func(s *specs.Spec) error { setMount(s, "/dev/shm", bindMount("/dev/shm", dir)); return nil }, nil
	case strings.HasPrefix(mode, "container:"):
		pid, err := targetPid("--ipc", mode)
		if err != nil {
			return nil, err
		}
		t, err := container.Lookup(strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return nil, err
		}
		return func(s *specs.Spec) error {
			if t.HostConfig.Isolation.IpcMode == "host" {
				setMount(s, "/dev/shm", bindMount("/dev/shm", "/dev/shm"))
			} else {
				setMount(s, "/dev/shm", bindMount("/dev/shm", shmDir(t.ID)))
			}
			return withNamespace(specs.IPCNamespace, fmt.Sprintf("/proc/%d/ns/ipc", pid))(s)
		}, nil
	}
	return func(*specs.Spec) error { return nil }, nil
}

// shmDir is where a shareable container's /dev/shm is mounted outside it.
func shmDir(id string) string { return filepath.Join(paths.RuntimeDir(), "c", id[:20], "shm") }

// mountShm mounts a shareable container's /dev/shm tmpfs (--shm-size),
// once per start.
func mountShm(c *container.Container) (string, error) {
	dir := shmDir(c.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	unmountShm(c.ID) // left by a killed start
	size := max(c.HostConfig.Isolation.ShmSize, 0)
	if size == 0 {
		size = container.DefaultShmSize
	}
	opts := "mode=1777,size=" + strconv.FormatInt(size, 10)
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return "", fmt.Errorf("mounting the shareable /dev/shm of %s: %w", c.Name, err)
	}
	return dir, nil
}

// unmountShm undoes mountShm when the container stops.
func unmountShm(id string) { _ = unix.Unmount(shmDir(id), unix.MNT_DETACH) }

// withKeepID gives the container its own user namespace where the user's
// uid and gid are the same numbers as outside. Its network namespace
// belongs to skiff's user namespace, so sysfs is bound, not mounted.
func withKeepID(iso container.Isolation) SpecOpt {
	return func(s *specs.Spec) error {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = keepIDMap(iso.KeepIDUID, nsSize("/proc/self/uid_map"))
		s.Linux.GIDMappings = keepIDMap(iso.KeepIDGID, nsSize("/proc/self/gid_map"))
		setMount(s, "/sys", bindMount("/sys", "/sys", "nosuid", "noexec", "nodev", "ro"))
		return nil
	}
}

// keepIDEntries gives the user a name inside under --userns keep-id, as
// Podman does: when the image's /etc/passwd or /etc/group lacks the
// user's uid or gid, a copy with an entry for it (the user's name from
// the host, home /) is bound over it.
func keepIDEntries(c *container.Container, rootfs string) ([]specs.Mount, error) {
	iso := c.HostConfig.Isolation
	name := hostUserName(iso.KeepIDUID)
	var ms []specs.Mount
	for _, f := range []struct {
		file, line string
		id         int
		idField    int
	}{
		{"passwd", fmt.Sprintf("%s:x:%d:%d:%s:/:/bin/sh", name, iso.KeepIDUID, iso.KeepIDGID, name), iso.KeepIDUID, 2},
		{"group", fmt.Sprintf("%s:x:%d:", name, iso.KeepIDGID), iso.KeepIDGID, 2},
	} {
		entries := readColonFile(rootfs, "/etc/"+f.file)
		if slices.ContainsFunc(entries, func(e []string) bool { return len(e) > f.idField && e[f.idField] == strconv.Itoa(f.id) }) {
			continue
		}
		p, err := securejoin.SecureJoin(rootfs, "/etc/"+f.file)
		if err != nil {
			return nil, err
		}
		data, _ := os.ReadFile(p)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		dst := filepath.Join(c.Dir(), "keep-id-"+f.file)
		if err := os.WriteFile(dst, append(data, f.line+"\n"...), 0o644); err != nil {
			return nil, err
		}
		ms = append(ms, specs.Mount{Destination: "/etc/" + f.file, Type: "bind", Source: dst, Options: []string{"rbind", "ro"}})
	}
	return ms, nil
}

// hostUserName is the name of the host's user uid, or "user".
func hostUserName(uid int) string {
	for _, e := range readColonFile("/", "/etc/passwd") {
		if len(e) > 2 && e[2] == strconv.Itoa(uid) {
			return e[0]
		}
	}
	return "user"
}

// withDevices adds --device nodes and --device-cgroup-rule rules. As
// root, nodes are made (mknod) and allowed in the devices cgroup;
// rootless, the host's nodes are bound (the user could open them).
func withDevices(iso container.Isolation, rootless bool) SpecOpt {
	return func(s *specs.Spec) error {
		for _, d := range iso.Devices {
			if rootless {
				s.Mounts = append(s.Mounts, *bindMount(d.PathInContainer, d.PathOnHost, "nosuid", "noexec"))
				continue
			}
			dev, err := deviceNode(d)
			if err != nil {
				return err
			}
			s.Linux.Devices = append(s.Linux.Devices, dev)
			allowDevice(s, specs.LinuxDeviceCgroup{Allow: true, Type: dev.Type, Major: &dev.Major, Minor: &dev.Minor, Access: d.CgroupPermissions})
		}
		for _, r := range iso.DeviceCgroupRules {
			rule, err := parseCgroupRule(r)
			if err != nil {
				return err
			}
			allowDevice(s, rule)
		}
		return nil
	}
}

func allowDevice(s *specs.Spec, r specs.LinuxDeviceCgroup) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, r)
}

// deviceNode describes a host device node for mknod in the container.
func deviceNode(d container.Device) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return specs.LinuxDevice{}, fmt.Errorf("--device %s: %w", d.PathOnHost, err)
	}
	t := "c"
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		t = "b"
	}
	mode := os.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path: d.PathInContainer, Type: t, Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

// parseCgroupRule reads "c 1:3 rwm" (checked when created).
func parseCgroupRule(r string) (specs.LinuxDeviceCgroup, error) {
	f := strings.Fields(r)
	if len(f) != 3 {
		return specs.LinuxDeviceCgroup{}, errdefs.Invalid("invalid device cgroup rule %q", r)
	}
	num := func(v string) *int64 {
		if v == "*" {
			return nil
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return &n
	}
	maj, mnr, _ := strings.Cut(f[1], ":")
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: num(maj), Minor: num(mnr), Access: f[2]}, nil
}

// rlimits are --ulimit's limits for libcontainer.
func rlimits(us []container.Ulimit) []configs.Rlimit {
	var out []configs.Rlimit
	for _, u := range us {
		rl, err := (&units.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}).GetRlimit()
		if err != nil {
			continue // checked at create
		}
		out = append(out, configs.Rlimit{Type: rl.Type, Hard: rl.Hard, Soft: rl.Soft})
	}
	return out
}

// linkHosts are --link's /etc/hosts entries (alias:ip and name:ip): the
// linked container's address on a network the two share.
func linkHosts(c *container.Container) ([]string, error) {
	var out []string
	for _, l := range c.HostConfig.Isolation.Links {
		t, err := container.Lookup(l.ID)
		if err != nil {
			return nil, fmt.Errorf("--link %s: %w", l.Name, err)
		}
		if !t.State.Running {
			return nil, fmt.Errorf("--link %s: that container is not running: start it first: %w", t.Name, errdefs.ErrConflict)
		}
		ip := sharedAddress(c, t)
		if ip == "" {
			return nil, fmt.Errorf("--link %s: the two containers share no network: connect them to one (skiff network connect): %w", t.Name, errdefs.ErrConflict)
		}
		out = append(out, l.Alias+":"+ip)
		if l.Alias != t.Name {
			out = append(out, t.Name+":"+ip)
		}
	}
	return out, nil
}

// sharedAddress is t's address on the first network c is on too.
func sharedAddress(c, t *container.Container) string {
	for _, name := range c.NetworkNames() {
		if e := t.NetworkSettings.Networks[name]; e != nil && net.ParseIP(e.IPAddress) != nil {
			return e.IPAddress
		}
	}
	return ""
}

// requestedAddresses are the --ip and --ip6 asked for on network name,
// "" for any.
func requestedAddresses(c *container.Container, name string) (string, string) {
	if e := c.NetworkSettings.Networks[name]; e != nil && e.IPAMConfig != nil {
		return e.IPAMConfig.IPv4Address, e.IPAMConfig.IPv6Address
	}
	if name == c.HostConfig.NetworkMode {
		return c.HostConfig.Isolation.IPv4Address, c.HostConfig.Isolation.IPv6Address
	}
	return "", ""
}
