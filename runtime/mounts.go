package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
)

// ParseVolume parses `-v SRC:DST[:OPTS]` or `-v DST`. A SRC that is a
// path makes a bind mount; a name makes a named volume and no SRC an
// anonymous one (Type "volume", Source the name or ""), bound from the
// volume's directory when the container starts. Options: ro, rw, z, Z,
// nocopy, U (chown to the container's user) and propagation modes.
func ParseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	var src, dst, optStr string
	switch len(parts) {
	case 1:
		dst = parts[0]
		if !strings.HasPrefix(dst, "/") {
			return specs.Mount{}, errdefs.Invalid("invalid volume %q: want /host/path:/container/path[:opts], NAME:/path[:opts] or /path", v)
		}
	case 2, 3:
		src, dst = parts[0], parts[1]
		if len(parts) == 3 {
			optStr = parts[2]
		}
		if src == "" || dst == "" {
			return specs.Mount{}, errdefs.Invalid("invalid volume %q: empty source or destination", v)
		}
	default:
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: want /host/path:/container/path[:ro]", v)
	}
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: container path %q must be absolute", v, dst)
	}
	m := specs.Mount{Destination: filepath.Clean(dst), Type: "volume", Source: src}
	switch {
	case src == "":
	case strings.HasPrefix(src, "/") || strings.HasPrefix(src, "."):
		abs, err := filepath.Abs(src)
		if err != nil {
			return specs.Mount{}, errdefs.Invalid("invalid volume %q: %v", v, err)
		}
		m.Type, m.Source, m.Options = "bind", abs, []string{"rbind"}
	case !storage.IsVolumeName(src):
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: %q is neither an absolute path nor a volume name", v, src)
	}
	ro := false
	if optStr != "" {
		for _, o := range strings.Split(optStr, ",") {
			switch o {
			case "ro":
				ro = true
			case "rw":
				ro = false
			case "z", "Z":
				// SELinux relabelling: nothing to do on this host.
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				m.Options = append(m.Options, o)
			case "nocopy", "U":
				if m.Type == "volume" || o == "U" {
					m.Options = append(m.Options, o)
				}
			default:
				return specs.Mount{}, errdefs.Invalid("invalid volume %q: unknown option %q (want ro, rw, z, Z, U, nocopy or a propagation mode)", v, o)
			}
		}
	}
	if ro {
		m.Options = append(m.Options, "ro")
	}
	return m, nil
}

// hasOpt reports whether a mount carries one of skiff's own markers.
func hasOpt(m specs.Mount, o string) bool { return slices.Contains(m.Options, o) }

// withoutMarkers drops skiff's markers (U, nocopy) before the spec.
func withoutMarkers(opts []string) []string {
	var out []string
	for _, o := range opts {
		if o != "U" && o != "nocopy" {
			out = append(out, o)
		}
	}
	return out
}

// prepareVolumeSource creates a missing host directory, as Docker does.
func prepareVolumeSource(m specs.Mount) error {
	if _, err := os.Stat(m.Source); err == nil {
		return nil
	}
	if err := os.MkdirAll(m.Source, 0o755); err != nil {
		return fmt.Errorf("creating host directory %s for a volume: %w", m.Source, err)
	}
	return nil
}

var tmpfsOpts = map[string]bool{
	"ro": true, "rw": true, "exec": true, "noexec": true, "suid": true, "nosuid": true,
	"dev": true, "nodev": true, "atime": true, "noatime": true, "relatime": true,
	"strictatime": true, "nodiratime": true, "sync": true, "async": true,
}

// ParseTmpfs parses `--tmpfs /path[:opts]` with Docker's defaults
// (noexec, nosuid, nodev).
func ParseTmpfs(t string) (specs.Mount, error) {
	dst, optStr, _ := strings.Cut(t, ":")
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, errdefs.Invalid("invalid --tmpfs %q: path must be absolute", t)
	}
	opts := []string{"noexec", "nosuid", "nodev"}
	if optStr != "" {
		for _, o := range strings.Split(optStr, ",") {
			k, _, hasV := strings.Cut(o, "=")
			switch {
			case hasV && (k == "size" || k == "mode" || k == "uid" || k == "gid" || k == "nr_inodes"):
			case !hasV && tmpfsOpts[o]:
			default:
				return specs.Mount{}, errdefs.Invalid("invalid --tmpfs %q: unknown option %q", t, o)
			}
			opts = append(opts, o)
		}
	}
	return specs.Mount{Destination: filepath.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
}

// ParseMount parses Docker's `--mount type=bind|volume|tmpfs,source=…,target=…`.
func ParseMount(spec string) (specs.Mount, error) {
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(strings.TrimSpace(f), "=")
		k = strings.ToLower(k)
		if !hasV {
			if k == "readonly" || k == "ro" || k == "volume-nocopy" {
				v = "true"
			} else {
				return specs.Mount{}, errdefs.Invalid("invalid --mount %q: field %q needs a value", spec, f)
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
	typ := kv["type"]
	if typ == "" {
		typ = "volume"
	}
	target := kv["target"]
	if target == "" || !filepath.IsAbs(target) {
		return specs.Mount{}, errdefs.Invalid("invalid --mount %q: target=/absolute/path is required", spec)
	}
	ro := false
	if v, ok := kv["readonly"]; ok {
		switch v {
		case "true", "1":
			ro = true
		case "false", "0":
		default:
			return specs.Mount{}, errdefs.Invalid("invalid --mount %q: readonly must be true or false", spec)
		}
	}
	switch typ {
	case "bind":
		src := kv["source"]
		if src == "" {
			return specs.Mount{}, errdefs.Invalid("invalid --mount %q: type=bind needs source=/host/path", spec)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return specs.Mount{}, errdefs.Invalid("invalid --mount %q: %v", spec, err)
		}
		if _, err := os.Stat(abs); err != nil {
			// Unlike -v, Docker's --mount does not create the source.
			return specs.Mount{}, errdefs.Invalid("invalid --mount %q: bind source path %s does not exist", spec, abs)
		}
		opts := []string{"rbind"}
		if p := kv["bind-propagation"]; p != "" {
			opts = append(opts, p)
		}
		if ro {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: filepath.Clean(target), Type: "bind", Source: abs, Options: opts}, nil
	case "tmpfs":
		opts := []string{"nosuid", "nodev"}
		if v := kv["tmpfs-size"]; v != "" {
			opts = append(opts, "size="+v)
		}
		if v := kv["tmpfs-mode"]; v != "" {
			opts = append(opts, "mode="+v)
		}
		if ro {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: filepath.Clean(target), Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case "volume":
		src := kv["source"]
		if src != "" && !storage.IsVolumeName(src) {
			return specs.Mount{}, errdefs.Invalid("invalid --mount %q: source=%s is not a volume name", spec, src)
		}
		var opts []string
		if v := kv["volume-nocopy"]; v == "true" || v == "1" {
			opts = append(opts, "nocopy")
		}
		if ro {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: filepath.Clean(target), Type: "volume", Source: src, Options: opts}, nil
	}
	return specs.Mount{}, errdefs.Invalid("invalid --mount %q: unknown type %q (want bind or tmpfs)", spec, typ)
}
