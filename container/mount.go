package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
)

// Mount types.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// Mount is one mount of a container, parsed once when the container is
// created and kept that way: nothing later reads the user's string again.
type Mount struct {
	Type string `json:"Type"` // bind, volume or tmpfs
	// Source is an absolute, clean host path for a bind and the volume's
	// name for a volume ("" until create gives an anonymous one its name).
	Source      string `json:"Source,omitempty"`
	Destination string `json:"Destination"`
	ReadOnly    bool   `json:"ReadOnly,omitempty"`
	// Options are passed to the mount: propagation modes for binds and
	// volumes, tmpfs's own options for a tmpfs.
	Options []string `json:"Options,omitempty"`
	Chown   bool     `json:"Chown,omitempty"`  // U: chown the source to the container's user
	NoCopy  bool     `json:"NoCopy,omitempty"` // nocopy: do not fill a new volume from the image
	// CreateSource makes a missing bind source directory at start, as
	// -v does (and --mount does not).
	CreateSource bool `json:"CreateSource,omitempty"`
	// Origin is the flag it came from: -v, --mount, --tmpfs, or "" for
	// the image's volumes.
	Origin string `json:"Origin,omitempty"`
	// Bind is the -v form Docker shows in HostConfig.Binds, the source
	// made absolute.
	Bind string `json:"Bind,omitempty"`
}

// Origins of mounts.
const (
	FromVolumeFlag = "-v"
	FromMountFlag  = "--mount"
	FromTmpfsFlag  = "--tmpfs"
)

// ParseVolume parses `-v SRC:DST[:OPTS]` or `-v DST` (Docker's Binds). A
// SRC that is a path makes a bind mount, resolved against dir when it is
// relative (the caller's working directory; "" refuses relative ones); a
// name makes a named volume and no SRC an anonymous one. Options: ro, rw,
// z, Z, nocopy, U and propagation modes.
func ParseVolume(v, dir string) (Mount, error) {
	parts := strings.Split(v, ":")
	var src, dst, optStr string
	switch len(parts) {
	case 1:
		dst = parts[0]
		if !strings.HasPrefix(dst, "/") {
			return Mount{}, errdefs.Invalid("invalid volume %q: want /host/path:/container/path[:opts], NAME:/path[:opts] or /path", v)
		}
	case 2, 3:
		src, dst = parts[0], parts[1]
		if len(parts) == 3 {
			optStr = parts[2]
		}
		if src == "" || dst == "" {
			return Mount{}, errdefs.Invalid("invalid volume %q: empty source or destination", v)
		}
	default:
		return Mount{}, errdefs.Invalid("invalid volume %q: want /host/path:/container/path[:ro]", v)
	}
	dst, err := destination(dst, fmt.Sprintf("volume %q", v))
	if err != nil {
		return Mount{}, err
	}
	m := Mount{Destination: dst, Type: MountVolume, Source: src, Origin: FromVolumeFlag}
	switch {
	case src == "":
	case strings.HasPrefix(src, "/") || strings.HasPrefix(src, "."):
		abs, err := hostPath(src, dir, fmt.Sprintf("volume %q", v))
		if err != nil {
			return Mount{}, err
		}
		m.Type, m.Source, m.CreateSource = MountBind, abs, true
	case !names.Valid(src):
		return Mount{}, errdefs.Invalid("invalid volume %q: %q is neither an absolute path nor a volume name", v, src)
	}
	if optStr != "" {
		for _, o := range strings.Split(optStr, ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			case "z", "Z":
				// SELinux relabelling: nothing to do on this host.
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				m.Options = append(m.Options, o)
			case "nocopy":
				m.NoCopy = m.Type == MountVolume
			case "U":
				m.Chown = true
			default:
				return Mount{}, errdefs.Invalid("invalid volume %q: unknown option %q (want ro, rw, z, Z, U, nocopy or a propagation mode)", v, o)
			}
		}
	}
	m.Bind = m.Source + ":" + m.Destination
	if src == "" {
		m.Bind = m.Destination
	}
	if optStr != "" {
		m.Bind += ":" + optStr
	}
	return m, nil
}

// destination checks and cleans a container path: absolute, and not the
// root itself (which would hide the container's whole file system).
func destination(dst, what string) (string, error) {
	if !filepath.IsAbs(dst) {
		return "", errdefs.Invalid("invalid %s: container path %q must be absolute", what, dst)
	}
	dst = filepath.Clean(dst)
	if dst == "/" {
		return "", errdefs.Invalid("invalid %s: the container path cannot be /: mount on a directory below it", what)
	}
	return dst, nil
}

// hostPath makes a host path absolute and clean, resolving a relative one
// against dir.
func hostPath(src, dir, what string) (string, error) {
	if filepath.IsAbs(src) {
		return filepath.Clean(src), nil
	}
	if dir == "" {
		return "", errdefs.Invalid("invalid %s: the host path %q must be absolute", what, src)
	}
	return filepath.Join(dir, src), nil
}

var tmpfsFlags = map[string]bool{
	"ro": true, "rw": true, "exec": true, "noexec": true, "suid": true, "nosuid": true,
	"dev": true, "nodev": true, "atime": true, "noatime": true, "relatime": true,
	"strictatime": true, "nodiratime": true, "sync": true, "async": true,
}

// ParseTmpfs parses `--tmpfs /path[:opts]` with Docker's defaults
// (noexec, nosuid, nodev).
func ParseTmpfs(t string) (Mount, error) {
	dst, optStr, _ := strings.Cut(t, ":")
	dst, err := destination(dst, fmt.Sprintf("--tmpfs %q", t))
	if err != nil {
		return Mount{}, err
	}
	m := Mount{Destination: dst, Type: MountTmpfs, Options: []string{"noexec", "nosuid", "nodev"}, Origin: FromTmpfsFlag}
	if optStr != "" {
		for _, o := range strings.Split(optStr, ",") {
			k, _, hasV := strings.Cut(o, "=")
			switch {
			case hasV && (k == "size" || k == "mode" || k == "uid" || k == "gid" || k == "nr_inodes"):
			case !hasV && tmpfsFlags[o]:
			default:
				return Mount{}, errdefs.Invalid("invalid --tmpfs %q: unknown option %q", t, o)
			}
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}

// TmpfsOptions is a --tmpfs mount's options as Docker's HostConfig.Tmpfs
// shows them: the user's, without the defaults.
func (m Mount) TmpfsOptions() string { return strings.Join(m.Options[3:], ",") }

// ParseMount parses Docker's `--mount type=bind|volume|tmpfs,source=…,
// target=…`; a relative bind source is resolved against dir ("" refuses
// it). Unlike -v, a bind source must exist.
func ParseMount(spec, dir string) (Mount, error) {
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(strings.TrimSpace(f), "=")
		k = strings.ToLower(k)
		if !hasV {
			if k == "readonly" || k == "ro" || k == "volume-nocopy" {
				v = "true"
			} else {
				return Mount{}, errdefs.Invalid("invalid --mount %q: field %q needs a value", spec, f)
			}
		}
		switch k {
		case "src":
			k = "source"
		case "dst", "destination":
			k = "target"
		case "ro":
			k = "readonly"
		}
		kv[k] = v
	}
	f := MountFields{Type: kv["type"], Source: kv["source"], Target: kv["target"],
		Propagation: kv["bind-propagation"], TmpfsSize: kv["tmpfs-size"], TmpfsMode: kv["tmpfs-mode"]}
	for k, dst := range map[string]*bool{"readonly": &f.ReadOnly, "volume-nocopy": &f.NoCopy} {
		switch v, ok := kv[k]; {
		case !ok, v == "false", v == "0":
		case v == "true", v == "1":
			*dst = true
		default:
			return Mount{}, errdefs.Invalid("invalid --mount %q: %s must be true or false", spec, k)
		}
	}
	return f.Mount(dir, fmt.Sprintf("--mount %q", spec))
}

// MountFields are a --mount's fields, or a mount of Docker's API
// (HostConfig.Mounts), before they are checked.
type MountFields struct {
	Type, Source, Target string
	ReadOnly, NoCopy     bool
	Propagation          string
	TmpfsSize, TmpfsMode string // as --mount writes them (bytes or 64m; octal)
}

// Mount checks f and makes the mount; what names it in errors (`--mount
// "…"`, `HostConfig.Mounts[0]`).
func (f MountFields) Mount(dir, what string) (Mount, error) {
	typ := f.Type
	if typ == "" {
		typ = MountVolume
	}
	if f.Target == "" {
		return Mount{}, errdefs.Invalid("invalid %s: target=/absolute/path is required", what)
	}
	target, err := destination(f.Target, what)
	if err != nil {
		return Mount{}, err
	}
	m := Mount{Type: typ, Destination: target, Origin: FromMountFlag, ReadOnly: f.ReadOnly}
	switch typ {
	case MountBind:
		if f.Source == "" {
			return Mount{}, errdefs.Invalid("invalid %s: type=bind needs source=/host/path", what)
		}
		if m.Source, err = hostPath(f.Source, dir, what); err != nil {
			return Mount{}, err
		}
		if _, err := os.Stat(m.Source); err != nil {
			// Unlike -v, Docker's --mount does not create the source.
			return Mount{}, errdefs.Invalid("invalid %s: bind source path %s does not exist", what, m.Source)
		}
		switch f.Propagation {
		case "":
		case "shared", "rshared", "slave", "rslave", "private", "rprivate":
			m.Options = []string{f.Propagation}
		default:
			return Mount{}, errdefs.Invalid("invalid %s: unknown bind propagation %q", what, f.Propagation)
		}
	case MountTmpfs:
		m.Options = []string{"nosuid", "nodev"}
		if f.TmpfsSize != "" {
			m.Options = append(m.Options, "size="+f.TmpfsSize)
		}
		if f.TmpfsMode != "" {
			m.Options = append(m.Options, "mode="+f.TmpfsMode)
		}
	case MountVolume:
		m.Source = f.Source
		if m.Source != "" && !names.Valid(m.Source) {
			return Mount{}, errdefs.Invalid("invalid %s: source=%s is not a volume name", what, m.Source)
		}
		m.NoCopy = f.NoCopy
	default:
		return Mount{}, errdefs.Invalid("invalid %s: unknown type %q (want bind, volume or tmpfs)", what, typ)
	}
	return m, nil
}
