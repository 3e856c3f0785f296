package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/errdefs"
)

// ParseVolume parses `-v host:container[:opts]` into a bind mount. Named
// and anonymous volumes are not there yet and say so.
func ParseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		if len(parts) == 1 && strings.HasPrefix(v, "/") {
			return specs.Mount{}, fmt.Errorf("-v %s: anonymous volumes are not supported yet: give a host directory (-v /host/dir:%s): %w", v, v, errdefs.ErrNotImplemented)
		}
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: want /host/path:/container/path[:ro]", v)
	}
	src, dst := parts[0], parts[1]
	if src == "" || dst == "" {
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: empty source or destination", v)
	}
	if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
		return specs.Mount{}, fmt.Errorf("-v %s: named volumes are not supported yet: give an absolute host path: %w", v, errdefs.ErrNotImplemented)
	}
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: container path %q must be absolute", v, dst)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return specs.Mount{}, errdefs.Invalid("invalid volume %q: %v", v, err)
	}
	opts := []string{"rbind"}
	ro := false
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				ro = true
			case "rw":
				ro = false
			case "z", "Z":
				// SELinux relabelling: nothing to do on this host.
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				opts = append(opts, o)
			case "nocopy":
			default:
				return specs.Mount{}, errdefs.Invalid("invalid volume %q: unknown option %q (want ro, rw, z, Z or a propagation mode)", v, o)
			}
		}
	}
	if ro {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: filepath.Clean(dst), Type: "bind", Source: abs, Options: opts}, nil
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

// ParseMount parses Docker's `--mount type=bind|tmpfs,source=…,target=…`.
// Volumes are not there yet and say so.
func ParseMount(spec string) (specs.Mount, error) {
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(strings.TrimSpace(f), "=")
		k = strings.ToLower(k)
		if !hasV {
			if k == "readonly" || k == "ro" {
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
		return specs.Mount{}, fmt.Errorf("--mount %s: volumes are not supported yet: use type=bind or type=tmpfs: %w", spec, errdefs.ErrNotImplemented)
	}
	return specs.Mount{}, errdefs.Invalid("invalid --mount %q: unknown type %q (want bind or tmpfs)", spec, typ)
}
