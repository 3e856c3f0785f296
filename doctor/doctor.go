// Package doctor checks, as the calling user, what rootless (or root) use
// of skiff needs from the host: subordinate ids, the id-mapping helpers,
// the user-namespace sysctls, devices, cgroups, the runtime and data
// directories, and the networking helpers. It only looks: it never enters
// the user namespace, so it works where that would fail.
//
// A rootless skiff process may already have joined the user's namespace
// (userns/join.c does so before main when the pause process is alive);
// the checks then translate file owners back to host ids.
package doctor

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/userns"
)

// Status of one check.
type Status string

const (
	OK   Status = "ok"
	Info Status = "info" // worth knowing, nothing is broken
	Warn Status = "warn" // works, with a limitation
	Fail Status = "fail" // rootless use does not work (or not fully) until fixed
	Skip Status = "skip" // does not apply (root needs no user namespace)
)

// Check is one line of the report.
type Check struct {
	Name    string
	Status  Status
	Message string
	Fix     string `json:",omitempty"` // the exact command that fixes it
}

// Report is what Run found.
type Report struct {
	User     string
	UID      int
	Rootless bool
	DataDir  string
	Checks   []Check
}

// OK reports whether no check failed.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return false
		}
	}
	return true
}

// Host is where the checks look; tests point it at fakes.
type Host struct {
	Rootless       bool
	Joined         bool // inside the user's namespace already (see the package doc)
	UID            int
	User           string
	SubUID, SubGID string // /etc/subuid, /etc/subgid
	Proc           string // /proc
	Sys            string // /sys
	Dev            string // /dev
	Env            func(string) string
	LookPath       func(string) (string, error)
	DataDir        string
	OSRelease      string // /etc/os-release
	AppArmorDir    string // /etc/apparmor.d
	Exe            string // this skiff binary
}

// Current is the host as the calling user sees it.
func Current() Host {
	uid := paths.UID()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	} else if n := os.Getenv("USER"); n != "" {
		name = n
	}
	exe, _ := os.Executable()
	return Host{
		Rootless: paths.Rootless(), Joined: paths.Rootless() && os.Geteuid() == 0, UID: uid, User: name,
		SubUID: userns.SubUIDFile, SubGID: userns.SubGIDFile,
		Proc: "/proc", Sys: "/sys", Dev: "/dev",
		Env: os.Getenv, LookPath: exec.LookPath, DataDir: paths.DataDir(), OSRelease: "/etc/os-release",
		AppArmorDir: "/etc/apparmor.d", Exe: exe,
	}
}

// Run runs every check.
func Run(h Host) Report {
	r := Report{User: h.User, UID: h.UID, Rootless: h.Rootless, DataDir: h.DataDir}
	add := func(c ...Check) { r.Checks = append(r.Checks, c...) }
	add(h.subIDs()...)
	add(h.idMapTool("newuidmap", 7), h.idMapTool("newgidmap", 6))
	add(h.sysctls()...)
	add(h.device("tun", "net/tun", Fail, "sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200"))
	add(h.device("fuse", "fuse", Warn, "sudo modprobe fuse"))
	add(h.cgroup())
	add(h.runtimeDir())
	add(h.store()...)
	add(h.network(), h.ports())
	return r
}

func skipRoot(name string) Check {
	return Check{Name: name, Status: Skip, Message: "running as root: no user namespace is needed"}
}

// subIDs checks the user's /etc/subuid and /etc/subgid ranges: present,
// big enough, overlapping nobody else's.
func (h Host) subIDs() []Check {
	if !h.Rootless {
		return []Check{skipRoot("subuid"), skipRoot("subgid")}
	}
	files := []struct{ name, file, kind, flag string }{
		{"subuid", h.SubUID, "uids", "--add-subuids"},
		{"subgid", h.SubGID, "gids", "--add-subgids"},
	}
	var all []userns.SubIDEntry
	entries := make([][]userns.SubIDEntry, len(files))
	errs := make([]error, len(files))
	for i, f := range files {
		entries[i], errs[i] = userns.ReadSubIDFile(f.file)
		all = append(all, entries[i]...)
	}
	free := userns.FreeRangeIn(all).String()
	mine := func(e userns.SubIDEntry) bool { return e.Owner == h.User || e.Owner == strconv.Itoa(h.UID) }
	missing := 0
	for i := range files {
		n := 0
		for _, e := range entries[i] {
			if mine(e) && e.Count > 0 {
				n++
			}
		}
		if n == 0 {
			missing++
		}
	}
	var out []Check
	for i, f := range files {
		c := Check{Name: f.name}
		if errs[i] != nil {
			c.Status, c.Message = Fail, errs[i].Error()
			out = append(out, c)
			continue
		}
		var own, others []userns.SubIDEntry
		total := 0
		for _, e := range entries[i] {
			switch {
			case mine(e) && e.Count > 0:
				own, total = append(own, e), total+e.Count
			case !mine(e):
				others = append(others, e)
			}
		}
		ranges := make([]string, len(own))
		for j, e := range own {
			ranges[j] = userns.IDRange{Start: e.Start, Count: e.Count}.String()
		}
		var clash []string
		for _, o := range own {
			for _, e := range others {
				if o.Start < e.End() && e.Start < o.End() && e.Count > 0 {
					clash = append(clash, fmt.Sprintf("%s's %s", e.Owner, userns.IDRange{Start: e.Start, Count: e.Count}))
				}
			}
		}
		switch {
		case len(own) == 0:
			c.Status = Fail
			c.Message = fmt.Sprintf("%s has no subordinate %s in %s: skiff runs with a single uid and gid, so image files owned by other users cannot be created", h.User, f.kind, f.file)
			c.Fix = fmt.Sprintf("sudo usermod %s %s %s && skiff system migrate", f.flag, free, h.User)
			if missing == 2 {
				// One command for both, with one range: after adding the
				// uids, the free range would move on for the gids.
				c.Fix = fmt.Sprintf("sudo usermod --add-subuids %s --add-subgids %s %s && skiff system migrate", free, free, h.User)
			}
		case len(clash) > 0:
			c.Status = Warn
			c.Message = fmt.Sprintf("%s's subordinate %s (%s) overlap %s: files of their containers share host ids", h.User, f.kind, strings.Join(ranges, ", "), strings.Join(clash, ", "))
			c.Fix = fmt.Sprintf("sudo usermod %s %s %s %s && skiff system migrate", strings.Replace(f.flag, "add", "del", 1), strings.Join(ranges, ","), f.flag+" "+free, h.User)
		case total < userns.FreeRangeSize:
			c.Status = Warn
			c.Message = fmt.Sprintf("%s has only %d subordinate %s (%s): images with ids of %d or more cannot be used (65536 recommended)", h.User, total, f.kind, strings.Join(ranges, ", "), total+1)
			c.Fix = fmt.Sprintf("sudo usermod %s %s %s && skiff system migrate", f.flag, free, h.User)
		default:
			c.Status = OK
			c.Message = fmt.Sprintf("%s has %d subordinate %s (%s)", h.User, total, f.kind, strings.Join(ranges, ", "))
		}
		out = append(out, c)
	}
	return out
}

// idMapTool checks newuidmap/newgidmap: found, and setuid root or with the
// capability it needs (CAP_SETUID = 7, CAP_SETGID = 6) as a file capability.
func (h Host) idMapTool(tool string, capBit uint) Check {
	c := Check{Name: tool}
	if !h.Rootless {
		return skipRoot(tool)
	}
	path, err := h.LookPath(tool)
	if err != nil {
		c.Status, c.Message, c.Fix = Fail, tool+" not found: subordinate ids cannot be mapped", h.installCommand("uidmap")
		return c
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		c.Status, c.Message = Fail, err.Error()
		return c
	}
	owner, known := h.hostID(st.Uid)
	switch {
	case st.Mode&unix.S_ISUID != 0 && (owner == 0 || !known):
		// Unknown: this process joined the user's namespace, where root
		// is not mapped and shows as the overflow uid.
		c.Status, c.Message = OK, path+" is setuid root"
	case fileCapHas(path, capBit):
		c.Status, c.Message = OK, path+" has file capabilities"
	default:
		c.Status, c.Message = Fail, path+" is neither setuid root nor has file capabilities: it cannot map subordinate ids"
		c.Fix = fmt.Sprintf("sudo chown root:root %s && sudo chmod u+s %s", path, path)
	}
	return c
}

// fileCapHas reports whether path's security.capability xattr grants bit
// in its permitted set (struct vfs_cap_data: magic, then permitted[0]).
func fileCapHas(path string, bit uint) bool {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	if err != nil || n < 8 {
		return false
	}
	return binary.LittleEndian.Uint32(buf[4:8])&(1<<bit) != 0
}

// hostID translates a uid as this process sees it to the host's: the same
// outside a user namespace; ok is false when the namespace does not map it.
// An unmapped owner shows as the overflow uid (65534), which the user's
// namespace maps to a subordinate id: joined, that uid counts as unmapped.
func (h Host) hostID(id uint32) (int, bool) {
	if v, ok := h.sysctl("kernel.overflowuid"); ok && h.Joined && v == strconv.FormatUint(uint64(id), 10) {
		return -1, false
	}
	f, err := os.Open(filepath.Join(h.Proc, "self/uid_map"))
	if err != nil {
		return int(id), true
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var in, out, n uint64
		if _, err := fmt.Sscan(s.Text(), &in, &out, &n); err != nil {
			continue
		}
		if uint64(id) >= in && uint64(id) < in+n {
			return int(out + uint64(id) - in), true
		}
	}
	return -1, false
}

func (h Host) sysctl(name string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(h.Proc, "sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(data)), true
}

func sysctlFix(name, value string) string {
	return fmt.Sprintf("echo %s=%s | sudo tee /etc/sysctl.d/60-skiff-userns.conf && sudo sysctl --system", name, value)
}

// sysctls checks the settings that allow or forbid unprivileged user
// namespaces.
func (h Host) sysctls() []Check {
	var out []Check
	for _, s := range []struct {
		name, bad, good, what string
		optional              bool
	}{
		{"user.max_user_namespaces", "0", "15000", "user namespaces are disabled", false},
		{"kernel.unprivileged_userns_clone", "0", "1", "unprivileged user namespaces are disabled", true},
		{"kernel.apparmor_restrict_unprivileged_userns", "1", "0", "AppArmor forbids unprivileged user namespaces", true},
	} {
		short := s.name[strings.Index(s.name, ".")+1:]
		v, ok := h.sysctl(s.name)
		c := Check{Name: short}
		switch {
		case !ok && s.optional:
			continue // not this kernel's knob
		case !h.Rootless:
			c.Status, c.Message = Skip, fmt.Sprintf("%s = %s: running as root, no user namespace is needed", s.name, v)
		case h.Joined && s.name == "user.max_user_namespaces":
			// Per namespace: inside, the host's value cannot be read.
			c.Status, c.Message = OK, "skiff's user namespace exists already (the host's limit is not visible from inside it)"
		case !ok:
			c.Status, c.Message = Warn, s.name+" cannot be read"
		case v == s.bad && s.name == "kernel.apparmor_restrict_unprivileged_userns":
			c = h.apparmor(c)
		case v == s.bad:
			c.Status, c.Message, c.Fix = Fail, fmt.Sprintf("%s (%s = %s)", s.what, s.name, v), sysctlFix(s.name, s.good)
		default:
			c.Status, c.Message = OK, fmt.Sprintf("%s = %s", s.name, v)
		}
		out = append(out, c)
	}
	return out
}

// apparmor checks, where AppArmor lets only programs with a profile create
// user namespaces, that this binary runs under a profile that allows them
// (install.sh's /etc/apparmor.d/skiff): its own label says so, which any
// user can read; the list of loaded profiles only root can.
func (h Host) apparmor(c Check) Check {
	const restricted = "AppArmor lets only programs with a profile create user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)"
	label := h.apparmorLabel()
	if label != "" && label != "unconfined" {
		c.Status, c.Message = OK, fmt.Sprintf("%s; skiff runs under the profile %s", restricted, label)
		if !strings.HasPrefix(label, "skiff") {
			c.Status, c.Message = Warn, c.Message+", not skiff's: it must have the userns rule"
		}
		return c
	}
	c.Status = Fail
	if file, name := h.apparmorProfileFor(h.Exe); file != "" {
		state := "is not loaded"
		if loaded, known := h.apparmorLoaded(name); !known {
			state = "is not loaded, or was loaded for another path"
		} else if loaded {
			state = "is loaded, but for another path"
		}
		c.Message = fmt.Sprintf("%s, and skiff (%s) runs without one: its profile %s (%s) %s", restricted, h.Exe, name, file, state)
		c.Fix = "sudo apparmor_parser -r " + file
		return c
	}
	name := "skiff"
	if _, err := os.Stat(filepath.Join(h.AppArmorDir, name)); err == nil {
		name += "-" + h.User // skiff's file serves another install of skiff
	}
	file := filepath.Join(h.AppArmorDir, name)
	exe := h.Exe
	if strings.ContainsAny(exe, " \t") {
		exe = `"` + exe + `"`
	}
	c.Message = fmt.Sprintf("%s, and no profile in %s allows %s to create them", restricted, h.AppArmorDir, h.Exe)
	c.Fix = fmt.Sprintf(`printf 'abi <abi/4.0>,\ninclude <tunables/global>\nprofile %s %s flags=(unconfined) {\n  userns,\n}\n' | sudo tee %s >/dev/null && sudo apparmor_parser -r %s`,
		name, strings.ReplaceAll(exe, "'", `'\''`), file, file)
	return c
}

// apparmorLabel is this process's AppArmor label ("skiff (unconfined)",
// "unconfined"), or "" when it cannot be read.
func (h Host) apparmorLabel() string {
	for _, f := range []string{"self/attr/apparmor/current", "self/attr/current"} {
		if data, err := os.ReadFile(filepath.Join(h.Proc, f)); err == nil {
			return strings.TrimSpace(strings.TrimRight(string(data), "\x00"))
		}
	}
	return ""
}

// apparmorProfileFor finds the file in AppArmorDir with a profile that
// attaches to exe, and that profile's name.
func (h Host) apparmorProfileFor(exe string) (file, name string) {
	entries, _ := os.ReadDir(h.AppArmorDir)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(h.AppArmorDir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(strings.ReplaceAll(l, `"`, ""))
			if len(f) >= 3 && f[0] == "profile" && f[2] == exe {
				return p, f[1]
			}
		}
	}
	return "", ""
}

// apparmorLoaded reports whether the kernel has the profile name loaded;
// known is false where the list cannot be read (only root may).
func (h Host) apparmorLoaded(name string) (loaded, known bool) {
	data, err := os.ReadFile(filepath.Join(h.Sys, "kernel/security/apparmor/profiles"))
	if err != nil {
		return false, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, name+" (") {
			return true, true
		}
	}
	return false, true
}

// device checks that the user can read and write /dev/<rel>.
func (h Host) device(name, rel string, bad Status, createFix string) Check {
	path := filepath.Join(h.Dev, rel)
	c := Check{Name: name}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		c.Status, c.Message, c.Fix = bad, path+" does not exist", createFix
		return c
	}
	mode := fmt.Sprintf("%04o", st.Mode&0o7777)
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		c.Status, c.Message, c.Fix = bad, fmt.Sprintf("%s (mode %s) is not readable and writable by %s", path, mode, h.User), "sudo chmod 0666 "+path
		if name == "tun" {
			c.Message += ": rootless networking (slirp4netns, pasta) cannot create its interface"
		} else {
			c.Message += ": FUSE file systems (fuse-overlayfs) are unavailable"
		}
		return c
	}
	c.Status, c.Message = OK, fmt.Sprintf("%s (mode %s) is readable and writable by %s", path, mode, h.User)
	return c
}

// cgroup checks the cgroup version and, rootless on v2, whether systemd
// delegates the controllers that resource limits need to the user.
func (h Host) cgroup() Check {
	c := Check{Name: "cgroup"}
	root := filepath.Join(h.Sys, "fs/cgroup")
	var sfs unix.Statfs_t
	v2 := unix.Statfs(root, &sfs) == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC
	switch {
	case !h.Rootless:
		c.Status, c.Message = OK, "cgroup v1 as root: resource limits available"
		if v2 {
			c.Message = "cgroup v2 as root: resource limits available"
		}
	case !v2:
		c.Status, c.Message = Warn, "cgroup v1: resource limits (--memory, --cpus, --pids-limit), stats and pause are unavailable rootless; they need cgroup v2 with systemd delegation"
	default:
		svc := filepath.Join(root, fmt.Sprintf("user.slice/user-%d.slice/user@%d.service", h.UID, h.UID))
		data, err := os.ReadFile(filepath.Join(svc, "cgroup.controllers"))
		if err != nil {
			c.Status = Warn
			c.Message = fmt.Sprintf("cgroup v2, but %s has no systemd user manager (%s): resource limits unavailable", h.User, svc)
			c.Fix = "sudo loginctl enable-linger " + h.User
			return c
		}
		have := strings.Fields(string(data))
		var missing []string
		for _, want := range []string{"cpu", "memory", "pids"} {
			if !contains(have, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			c.Status = Warn
			c.Message = fmt.Sprintf("cgroup v2, but the %s controllers are not delegated to %s: those resource limits are unavailable", strings.Join(missing, ", "), h.User)
			c.Fix = `sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\nDelegate=cpu cpuset io memory pids\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload`
			return c
		}
		c.Status, c.Message = OK, fmt.Sprintf("cgroup v2, delegated to %s (%s)", h.User, strings.Join(have, " "))
	}
	return c
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// runtimeDir checks XDG_RUNTIME_DIR: set, owned by the user, mode 0700.
func (h Host) runtimeDir() Check {
	c := Check{Name: "runtime-dir"}
	if !h.Rootless {
		c.Status, c.Message = OK, "running as root: runtime state in /run/skiff"
		return c
	}
	x := h.Env("XDG_RUNTIME_DIR")
	if x == "" || !strings.HasPrefix(x, "/") {
		c.Status = Warn
		c.Message = fmt.Sprintf("XDG_RUNTIME_DIR is not set: using %s, which a reboot or /tmp cleaner may remove while containers run", paths.RuntimeDirFor(true, h.UID))
		sys := fmt.Sprintf("/run/user/%d", h.UID)
		if _, err := os.Stat(sys); err == nil {
			c.Fix = "export XDG_RUNTIME_DIR=" + sys
		} else {
			c.Fix = "sudo loginctl enable-linger " + h.User + " && export XDG_RUNTIME_DIR=" + sys
		}
		return c
	}
	var st unix.Stat_t
	if err := unix.Stat(x, &st); err != nil {
		c.Status, c.Message = Fail, fmt.Sprintf("XDG_RUNTIME_DIR=%s: %v: skiff cannot keep its runtime state there", x, err)
		c.Fix = "unset XDG_RUNTIME_DIR"
		return c
	}
	owner, _ := h.hostID(st.Uid)
	switch {
	case owner != h.UID:
		c.Status, c.Message = Fail, fmt.Sprintf("XDG_RUNTIME_DIR=%s is not owned by %s: skiff cannot keep its runtime state (%s) there", x, h.User, filepath.Join(x, "skiff"))
		c.Fix = "unset XDG_RUNTIME_DIR"
	case st.Mode&0o077 != 0:
		c.Status, c.Message = Warn, fmt.Sprintf("XDG_RUNTIME_DIR=%s has mode %04o: others can reach skiff's sockets", x, st.Mode&0o7777)
		c.Fix = "chmod 0700 " + x
	default:
		c.Status, c.Message = OK, fmt.Sprintf("XDG_RUNTIME_DIR=%s is owned by %s with mode 0700", x, h.User)
	}
	return c
}

// fsNames are the file systems worth naming.
var fsNames = map[int64]string{
	unix.EXT4_SUPER_MAGIC: "ext4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.TMPFS_MAGIC: "tmpfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay", unix.NFS_SUPER_MAGIC: "nfs",
	0x2fc12fc1: "zfs", unix.FUSE_SUPER_MAGIC: "fuse", unix.CIFS_SUPER_MAGIC: "cifs",
	unix.SMB2_SUPER_MAGIC: "smb2", 0x6a656a63: "fakeowner",
}

// store checks the file system of the data directory (or the nearest
// directory that exists): type, writable, free space.
func (h Host) store() []Check {
	dir := h.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" {
			break
		}
		dir = filepath.Dir(dir)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return []Check{{Name: "store", Status: Fail, Message: fmt.Sprintf("%s: %v", dir, err)}}
	}
	typ, ok := fsNames[int64(sfs.Type)]
	if !ok {
		typ = fmt.Sprintf("0x%x", sfs.Type)
	}
	fs := Check{Name: "store"}
	localFix := fmt.Sprintf("mkdir -p /var/tmp/skiff-%s && echo 'export XDG_DATA_HOME=/var/tmp/skiff-%s' >> ~/.profile", h.User, h.User)
	switch {
	case typ == "nfs" || typ == "cifs" || typ == "smb2":
		fs.Status, fs.Message, fs.Fix = Fail, fmt.Sprintf("%s is on %s: overlay mounts and subordinate-id ownership do not work on network file systems", h.DataDir, typ), localFix
		if !h.Rootless {
			fs.Fix = ""
		}
	case sfs.Flags&unix.ST_RDONLY != 0:
		fs.Status, fs.Message = Fail, fmt.Sprintf("%s is on a read-only %s file system", h.DataDir, typ)
		if h.Rootless {
			fs.Fix = localFix
		}
	case unix.Access(dir, unix.W_OK) != nil:
		fs.Status, fs.Message = Fail, fmt.Sprintf("%s is not writable by %s", dir, h.User)
		if dir != h.DataDir {
			fs.Fix = fmt.Sprintf("sudo install -d -o %s %s", h.User, h.DataDir)
		} else {
			fs.Fix = fmt.Sprintf("sudo chown %s %s", h.User, h.DataDir)
		}
	case typ == "overlay":
		fs.Status, fs.Message = Warn, fmt.Sprintf("%s is on overlay (a container's file system?): overlay on overlay needs a recent kernel and may fail", h.DataDir)
		if h.Rootless {
			fs.Fix = localFix
		}
	default:
		fs.Status, fs.Message = OK, fmt.Sprintf("%s is on %s", h.DataDir, typ)
	}
	free := int64(sfs.Bavail) * int64(sfs.Bsize)
	space := Check{Name: "disk-space", Status: OK, Message: fmt.Sprintf("%s free on %s", humanBytes(free), dir)}
	if free < 1<<30 {
		space.Status, space.Message, space.Fix = Warn, fmt.Sprintf("only %s free on %s: pulls and builds will run out of space", humanBytes(free), dir), "skiff system prune -a"
	}
	return []Check{fs, space}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// network checks for slirp4netns or pasta, which rootless networking needs.
func (h Host) network() Check {
	c := Check{Name: "network"}
	var found []string
	for _, tool := range []string{"slirp4netns", "pasta"} {
		if p, err := h.LookPath(tool); err == nil {
			found = append(found, p)
		}
	}
	switch {
	case len(found) > 0:
		c.Status, c.Message = OK, "rootless networking: "+strings.Join(found, ", ")
		if !h.Rootless {
			c.Message = "found (for rootless users): " + strings.Join(found, ", ")
		}
	case !h.Rootless:
		c.Status, c.Message, c.Fix = Info, "neither slirp4netns nor pasta is installed: rootless users get no networking", h.installCommand("slirp4netns")
	default:
		c.Status, c.Message, c.Fix = Fail, "neither slirp4netns nor pasta is installed: containers get no network", h.installCommand("slirp4netns")
	}
	return c
}

// ports reports the lowest port a rootless user may publish.
func (h Host) ports() Check {
	c := Check{Name: "ports"}
	v, ok := h.sysctl("net.ipv4.ip_unprivileged_port_start")
	n, err := strconv.Atoi(v)
	switch {
	case !h.Rootless:
		c.Status, c.Message = OK, "running as root: every port can be published"
	case !ok || err != nil:
		c.Status, c.Message = Warn, "net.ipv4.ip_unprivileged_port_start cannot be read"
	case n == 0:
		c.Status, c.Message = OK, "net.ipv4.ip_unprivileged_port_start = 0: every port can be published"
	default:
		c.Status = Info
		c.Message = fmt.Sprintf("net.ipv4.ip_unprivileged_port_start = %d: ports below %d cannot be published rootless", n, n)
		c.Fix = "echo net.ipv4.ip_unprivileged_port_start=80 | sudo tee /etc/sysctl.d/60-skiff-ports.conf && sudo sysctl --system"
	}
	return c
}

// installCommand is the command that installs pkg (Debian's name) with
// this distribution's package manager.
func (h Host) installCommand(pkg string) string {
	data, _ := os.ReadFile(h.OSRelease)
	ids := ""
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && (k == "ID" || k == "ID_LIKE") {
			ids += " " + strings.Trim(v, `"`)
		}
	}
	names := map[string][2]string{ // Debian name → {Fedora, Alpine}
		"uidmap":      {"shadow-utils", "shadow-subids"},
		"slirp4netns": {"slirp4netns", "slirp4netns"},
	}[pkg]
	has := func(id string) bool { return contains(strings.Fields(ids), id) }
	switch {
	case has("debian") || has("ubuntu"):
		return "sudo apt-get install -y " + pkg
	case has("fedora") || has("rhel") || has("centos"):
		return "sudo dnf install -y " + names[0]
	case has("alpine"):
		return "sudo apk add " + names[1]
	case has("arch"):
		if pkg == "uidmap" {
			return "sudo pacman -S shadow"
		}
		return "sudo pacman -S " + pkg
	case has("suse") || has("opensuse"):
		if pkg == "uidmap" {
			return "sudo zypper install shadow"
		}
		return "sudo zypper install " + pkg
	}
	return "sudo apt-get install -y " + pkg
}
