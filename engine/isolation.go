package engine

import (
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/runtime"
)

// IsolationOptions are a container's namespace modes, devices, sysctls
// and ulimits as the user gave them, in Docker's syntax.
type IsolationOptions struct {
	PidMode      string // host or container:NAME
	IpcMode      string // private, shareable, host, none or container:NAME
	UTSMode      string // host
	UsernsMode   string // host or keep-id (rootless)
	CgroupnsMode string // host or private
	GroupAdd     []string
	Sysctls      []string // KEY=VALUE
	Ulimits      []string // nofile=1024:2048
	ShmSize      string   // 64m, or bytes
	// Devices are /dev/x[:/dev/y][:rwm] or CDI names (vendor.com/class=name).
	Devices           []string
	DeviceCgroupRules []string // "c 1:3 rwm"
	GPUs              string   // all, N, device=0,1
	IP                string   // --ip on the user-defined network
	IP6               string
	LinkLocalIPs      []string // --link-local-ip: refused (runtime.CheckLinkLocal)
	Links             []string // NAME[:ALIAS]
	Annotations       []string // KEY=VALUE
	Domainname        string
	UseAPISocket      bool
	// Runtime, Isolation, VolumeDriver and StorageOpts are accepted
	// only with the values skiff has (runc, default, local, none).
	Runtime      string
	Isolation    string
	VolumeDriver string
	StorageOpts  []string
	// Platform is --platform: the image must be of it (run and create
	// pull that platform when the image is missing).
	Platform string
}

// withIsolation checks o's isolation options against the rest of the
// container (its network, hostname), parses them once into s.Isolation;
// --userns keep-id runs the command as the user's own ids.
func withIsolation(o ContainerCreateOptions, s *runtime.Spec) (err error) {
	if s.Isolation, err = parseIsolation(o, *s); err != nil {
		return err
	}
	if iso := s.Isolation; iso.UsernsMode == "keep-id" && s.User == "" {
		s.User = strconv.Itoa(iso.KeepIDUID) + ":" + strconv.Itoa(iso.KeepIDGID)
	}
	return nil
}

func parseIsolation(o ContainerCreateOptions, s runtime.Spec) (container.Isolation, error) {
	io := o.Isolation
	var iso container.Isolation
	var err error
	if err := checkAccepted(io); err != nil {
		return iso, err
	}
	if iso.PidMode, err = parseShareMode("--pid", io.PidMode, "host"); err != nil {
		return iso, err
	}
	if iso.IpcMode, err = parseShareMode("--ipc", io.IpcMode, "private", "shareable", "host", "none"); err != nil {
		return iso, err
	}
	if iso.UTSMode, err = parseShareMode("--uts", io.UTSMode, "host"); err != nil {
		return iso, err
	}
	if strings.HasPrefix(iso.UTSMode, "container:") {
		return iso, errdefs.Invalid("invalid --uts %q: want host", io.UTSMode)
	}
	if iso.UTSMode == "host" && o.Hostname != "" {
		return iso, errdefs.Invalid("conflicting options: --hostname and --uts host, which keeps the host's name")
	}
	if iso.UsernsMode, err = parseUserns(io.UsernsMode, io); err != nil {
		return iso, err
	}
	if iso.UsernsMode == "keep-id" {
		iso.KeepIDUID, iso.KeepIDGID = hostUser()
	}
	switch io.CgroupnsMode {
	case "", "host", "private":
		iso.CgroupnsMode = firstNonEmpty(io.CgroupnsMode, "host")
	default:
		return iso, errdefs.Invalid("invalid --cgroupns %q: want host or private", io.CgroupnsMode)
	}
	iso.GroupAdd = io.GroupAdd
	for _, g := range io.GroupAdd {
		if g == "" || strings.ContainsAny(g, ": \t") {
			return iso, errdefs.Invalid("invalid --group-add %q: a group name or number", g)
		}
	}
	if len(io.GroupAdd) > 0 {
		if err := runtime.CheckGroupAdd(); err != nil {
			return iso, err
		}
	}
	if iso.Sysctls, err = parseSysctls(io.Sysctls, s.NetworkKind, iso.IpcMode, iso.UsernsMode); err != nil {
		return iso, err
	}
	if iso.Ulimits, err = parseUlimits(io.Ulimits); err != nil {
		return iso, err
	}
	if iso.ShmSize, err = parseShmSize(io.ShmSize); err != nil {
		return iso, err
	}
	if m := iso.IpcMode; io.ShmSize != "" && (m == "host" || m == "none" || strings.HasPrefix(m, "container:")) {
		return iso, errdefs.Invalid("conflicting options: --shm-size and --ipc %s, which has no /dev/shm of its own", m)
	}
	if err := parseDevices(io, &iso); err != nil {
		return iso, err
	}
	if iso.Annotations, err = parseKeyValues("--annotation", io.Annotations); err != nil {
		return iso, err
	}
	if io.Domainname != "" && iso.UTSMode == "host" {
		return iso, errdefs.Invalid("conflicting options: --domainname and --uts host, which keeps the host's domain name")
	}
	iso.Domainname = io.Domainname
	if err := parseAddresses(io, s, &iso); err != nil {
		return iso, err
	}
	for _, l := range io.Links {
		name, alias, _ := strings.Cut(l, ":")
		if name == "" || strings.HasSuffix(l, ":") {
			return iso, errdefs.Invalid("invalid --link %q: want NAME[:ALIAS]", l)
		}
		iso.Links = append(iso.Links, container.Link{Name: name, Alias: firstNonEmpty(alias, name)})
	}
	if io.UseAPISocket {
		iso.APISocket = DefaultSocket()
	}
	if p := io.Platform; p != "" && (strings.Count(p, "/") < 1 || strings.Count(p, "/") > 2 || strings.Contains(p, "//")) {
		return iso, errdefs.Invalid("invalid --platform %q: want os/arch[/variant], like linux/amd64", p)
	}
	iso.Platform = io.Platform
	return iso, nil
}

// checkAccepted refuses the values of --runtime, --isolation,
// --volume-driver and --storage-opt that skiff does not have.
func checkAccepted(io IsolationOptions) error {
	switch {
	case io.Runtime != "" && io.Runtime != "runc" && io.Runtime != DefaultRuntime:
		return errdefs.Invalid("unknown or invalid runtime name: %s: skiff runs containers with runc's libcontainer: use --runtime runc", io.Runtime)
	case io.Isolation != "" && io.Isolation != "default":
		return errdefs.Invalid("invalid --isolation %q: Linux containers have only default isolation", io.Isolation)
	case io.VolumeDriver != "" && io.VolumeDriver != "local":
		return errdefs.Invalid("invalid --volume-driver %q: skiff has only the local volume driver", io.VolumeDriver)
	case len(io.StorageOpts) > 0:
		return errdefs.Invalid("--storage-opt %s: the overlay storage here has no per-container options (size= needs overlay on xfs with project quotas): leave it out", io.StorageOpts[0])
	}
	return nil
}

// parseShareMode reads a namespace mode: one of names, or container:NAME.
func parseShareMode(flag, v string, names ...string) (string, error) {
	if v == "" || slices.Contains(names, v) {
		return v, nil
	}
	if name, ok := strings.CutPrefix(v, "container:"); ok && name != "" {
		return v, nil
	}
	return "", errdefs.Invalid("invalid %s %q: want %s or container:NAME", flag, v, strings.Join(names, ", "))
}

// parseUserns reads --userns: host, or keep-id when rootless; keep-id
// gives the container its own user namespace, so it cannot share the
// host's or another container's pid or IPC namespace.
func parseUserns(v string, io IsolationOptions) (string, error) {
	switch v {
	case "", "host":
		return v, nil
	case "keep-id":
		if !paths.Rootless() {
			return "", errdefs.Invalid("--userns keep-id is for rootless use: as root, containers have no user namespace (--userns host)")
		}
		if io.PidMode != "" || io.IpcMode == "host" || strings.HasPrefix(io.IpcMode, "container:") {
			return "", errdefs.Invalid("conflicting options: --userns keep-id gives the container its own user namespace, which cannot join --pid or --ipc host or container:NAME")
		}
		return v, runtime.CheckKeepID()
	}
	return "", errdefs.Invalid("invalid --userns %q: want host or keep-id", v)
}

// ipcSysctls are the sysctls of the IPC namespace Docker allows
// (besides fs.mqueue.*).
var ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// parseSysctls applies Docker's rules: only namespaced sysctls, net.*
// only in the container's own network namespace, the IPC ones only in
// its own IPC namespace; the host and domain names have their flags.
// With --userns keep-id the container's root does not own the network
// namespace skiff makes (it belongs to the user's namespace, the
// container's is nested in it), so net.* is refused there too.
func parseSysctls(kvs []string, networkKind, ipcMode, usernsMode string) (map[string]string, error) {
	out, err := parseKeyValues("--sysctl", kvs)
	if err != nil || out == nil {
		return out, err
	}
	for _, k := range slices.Sorted(maps.Keys(out)) {
		ipc := slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue.")
		switch {
		case k == "kernel.hostname" || k == "kernel.domainname":
			return nil, errdefs.Invalid("sysctl %q is not allowed: use --%s", k, strings.TrimPrefix(k, "kernel."))
		case strings.HasPrefix(k, "net.") && networkKind == netns.ModeHost:
			return nil, errdefs.Invalid("sysctl %q is not allowed in the host's network namespace (--network host)", k)
		case strings.HasPrefix(k, "net.") && networkKind == netns.ModeContainer:
			return nil, errdefs.Invalid("sysctl %q is not allowed with --network container:…: set it on that container", k)
		case strings.HasPrefix(k, "net.") && usernsMode == "keep-id" && netns.OwnNamespace(networkKind):
			return nil, errdefs.Invalid("sysctl %q cannot be set with --userns keep-id: the container's network namespace belongs to your user namespace, not the container's; use --network none, or leave out --userns keep-id", k)
		case ipc && (ipcMode == "host" || strings.HasPrefix(ipcMode, "container:")):
			return nil, errdefs.Invalid("sysctl %q is not allowed without the container's own IPC namespace (--ipc %s)", k, ipcMode)
		case !ipc && !strings.HasPrefix(k, "net."):
			return nil, errdefs.Invalid("sysctl %q is not allowed: only namespaced ones (net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)", k)
		}
	}
	return out, nil
}

// parseKeyValues reads KEY=VALUE pairs; nil for none.
func parseKeyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, errdefs.Invalid("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseUlimits reads Docker's --ulimit NAME=SOFT[:HARD]. Rootless, hard
// limits cannot go above skiff's own.
func parseUlimits(vs []string) ([]container.Ulimit, error) {
	var out []container.Ulimit
	for _, v := range vs {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return nil, errdefs.Invalid("invalid --ulimit %q: %v (names: core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)", v, err)
		}
		rl, err := u.GetRlimit()
		if err != nil {
			return nil, errdefs.Invalid("invalid --ulimit %q: %v", v, err)
		}
		if paths.Rootless() {
			var cur unix.Rlimit
			if err := unix.Getrlimit(rl.Type, &cur); err == nil && cur.Max != unix.RLIM_INFINITY && (u.Hard < 0 || uint64(u.Hard) > cur.Max) {
				return nil, errdefs.Invalid("--ulimit %s: rootless containers cannot raise a hard limit above the user's own (%s hard limit %d): lower it, or raise the user's limit (ulimit -H, /etc/security/limits.conf)", v, u.Name, cur.Max)
			}
		}
		out = append(out, container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return out, nil
}

// parseShmSize reads --shm-size; "" is Docker's 64 MiB.
func parseShmSize(v string) (int64, error) {
	if v == "" {
		return container.DefaultShmSize, nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return 0, errdefs.Invalid("invalid --shm-size %q: a size such as 64m or 1g (0: the default, 64m)", v)
	}
	if n == 0 { // Docker's daemon gives 0 its default too
		return container.DefaultShmSize, nil
	}
	return n, nil
}

// cgroupRuleRE is compiled at its first use, not at every start of skiff.
var cgroupRuleRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)
})

// parseDevices reads --device (host nodes or CDI names),
// --device-cgroup-rule and --gpus.
func parseDevices(io IsolationOptions, iso *container.Isolation) error {
	for _, d := range io.Devices {
		if runtime.IsCDIName(d) {
			iso.CDIDevices = append(iso.CDIDevices, d)
			continue
		}
		dev, err := parseDevice(d)
		if err != nil {
			return err
		}
		iso.Devices = append(iso.Devices, dev)
	}
	for _, r := range io.DeviceCgroupRules {
		if !cgroupRuleRE().MatchString(r) {
			return errdefs.Invalid("invalid --device-cgroup-rule %q: want TYPE MAJOR:MINOR ACCESS, like 'c 1:3 rwm' (type a, b or c; * for any number)", r)
		}
		if paths.Rootless() {
			return errdefs.Invalid("--device-cgroup-rule %q needs the devices cgroup, which rootless containers cannot set: use --device /dev/… for a node the user can open, or run as root", r)
		}
		iso.DeviceCgroupRules = append(iso.DeviceCgroupRules, r)
	}
	if io.GPUs != "" {
		gpus, err := runtime.GPUDevices(io.GPUs)
		if err != nil {
			return err
		}
		iso.GPUs = io.GPUs
		iso.CDIDevices = append(iso.CDIDevices, gpus...)
	}
	return runtime.CheckCDIDevices(iso.CDIDevices)
}

// parseDevice reads /dev/x[:/dev/y][:rwm] and checks that the node
// exists and, rootless, that the user can open it.
func parseDevice(v string) (container.Device, error) {
	parts := strings.Split(v, ":")
	d := container.Device{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch {
	case len(parts) == 2 && validPerms(parts[1]):
		d.CgroupPermissions = parts[1]
	case len(parts) == 2:
		d.PathInContainer = parts[1]
	case len(parts) == 3 && validPerms(parts[2]):
		d.PathInContainer, d.CgroupPermissions = parts[1], parts[2]
	case len(parts) != 1:
		return d, errdefs.Invalid("invalid --device %q: want /dev/HOST[:/dev/CONTAINER][:rwm]", v)
	}
	d.PathInContainer = firstNonEmpty(d.PathInContainer, d.PathOnHost)
	if !strings.HasPrefix(d.PathOnHost, "/") || !strings.HasPrefix(d.PathInContainer, "/") {
		return d, errdefs.Invalid("invalid --device %q: paths must be absolute", v)
	}
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return d, errdefs.Invalid("--device %s: %v: name an existing device node", d.PathOnHost, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return d, errdefs.Invalid("--device %s: not a device node", d.PathOnHost)
	}
	if paths.Rootless() {
		mode := uint32(0)
		if strings.Contains(d.CgroupPermissions, "r") {
			mode |= unix.R_OK
		}
		if strings.Contains(d.CgroupPermissions, "w") {
			mode |= unix.W_OK
		}
		if err := unix.Faccessat(unix.AT_FDCWD, d.PathOnHost, mode, unix.AT_EACCESS); err != nil {
			return d, errdefs.Invalid("--device %s: the user cannot open it (%v), so a rootless container cannot either: give the user access to the node (its group, or a udev rule) or run as root", d.PathOnHost, err)
		}
	}
	return d, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	return strings.Trim(p, "rwm") == ""
}

// parseAddresses reads --ip and --ip6: fixed addresses on the
// container's user-defined network, checked against its subnet when the
// container is created.
func parseAddresses(io IsolationOptions, s runtime.Spec, iso *container.Isolation) error {
	if err := runtime.CheckLinkLocal(io.LinkLocalIPs); err != nil {
		return err
	}
	for _, a := range []struct {
		flag, v string
		v4      bool
		dst     *string
	}{{"--ip", io.IP, true, &iso.IPv4Address}, {"--ip6", io.IP6, false, &iso.IPv6Address}} {
		if a.v == "" {
			continue
		}
		ip := net.ParseIP(a.v)
		if ip == nil || (ip.To4() != nil) != a.v4 {
			return errdefs.Invalid("invalid %s %q: an IPv%s address", a.flag, a.v, map[bool]string{true: "4", false: "6"}[a.v4])
		}
		if s.NetworkKind != netns.ModeUser {
			return errdefs.Invalid("%s: user specified IP address is supported on user defined networks only: add --network NAME", a.flag)
		}
		*a.dst = ip.String()
	}
	return nil
}

// hostUser is the uid and gid of the user skiff works for, outside its
// user namespace.
func hostUser() (int, int) {
	return paths.UID(), outsideID("/proc/self/gid_map", os.Getgid())
}

// outsideID maps id of this process's user namespace to the one outside
// through a uid_map or gid_map file.
func outsideID(mapFile string, id int) int {
	data, err := os.ReadFile(mapFile)
	if err != nil {
		return id
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		in, _ := strconv.Atoi(f[0])
		out, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		if id >= in && id < in+n {
			return out + id - in
		}
	}
	return id
}

// isolationArgs are run's flags that make c's isolation options again
// (generate systemd --new).
func isolationArgs(c *container.Container) [][]string {
	iso := c.HostConfig.Isolation
	var g [][]string
	add := func(flag, v string) {
		if v != "" {
			g = append(g, []string{flag, v})
		}
	}
	add("--pid", iso.PidMode)
	if iso.IpcMode != "private" {
		add("--ipc", iso.IpcMode)
	}
	add("--uts", iso.UTSMode)
	add("--userns", iso.UsernsMode)
	if iso.CgroupnsMode != "host" {
		add("--cgroupns", iso.CgroupnsMode)
	}
	for _, v := range iso.GroupAdd {
		add("--group-add", v)
	}
	for _, k := range slices.Sorted(maps.Keys(iso.Sysctls)) {
		add("--sysctl", k+"="+iso.Sysctls[k])
	}
	for _, u := range iso.Ulimits {
		add("--ulimit", u.Name+"="+strconv.FormatInt(u.Soft, 10)+":"+strconv.FormatInt(u.Hard, 10))
	}
	if iso.ShmSize != 0 && iso.ShmSize != container.DefaultShmSize {
		add("--shm-size", strconv.FormatInt(iso.ShmSize, 10))
	}
	for _, d := range iso.Devices {
		add("--device", d.PathOnHost+":"+d.PathInContainer+":"+d.CgroupPermissions)
	}
	for _, r := range iso.DeviceCgroupRules {
		add("--device-cgroup-rule", r)
	}
	if iso.GPUs != "" {
		add("--gpus", iso.GPUs)
	} else {
		for _, d := range iso.CDIDevices {
			add("--device", d)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(iso.Annotations)) {
		add("--annotation", k+"="+iso.Annotations[k])
	}
	add("--domainname", iso.Domainname)
	add("--ip", iso.IPv4Address)
	add("--ip6", iso.IPv6Address)
	for _, l := range iso.Links {
		add("--link", l.Name+":"+l.Alias)
	}
	if iso.APISocket != "" {
		g = append(g, []string{"--use-api-socket"})
	}
	add("--platform", iso.Platform)
	return g
}
