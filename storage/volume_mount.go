package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"
	"go.podman.io/storage/pkg/mount"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
)

// Docker's local driver takes type, device and o: a volume made with them
// is that file system (a tmpfs, a bind of a host directory, an NFS export
// as root) mounted on the volume's directory while containers use it,
// instead of a plain directory.

// requiredOptions are the options each option needs (Docker's
// mandatoryOpts).
var requiredOptions = map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device", "type"}}

// checkVolumeOptions refuses, before the volume is made, options the local
// driver does not know and mounts this user cannot make: rootless, a tmpfs
// or a bind of a host directory (type=none, o=bind).
func checkVolumeOptions(o map[string]string) error {
	for k := range o {
		switch k {
		case "type", "device", "o":
		case "size":
			return errdefs.Invalid("invalid volume option size: volumes here have no quota support: use -o type=tmpfs -o device=tmpfs -o o=size=64m for a bounded volume")
		default:
			return errdefs.Invalid("invalid volume option %q: the local driver takes type, device and o", k)
		}
	}
	for _, k := range []string{"device", "type", "o"} {
		if _, ok := o[k]; !ok {
			continue
		}
		var needs []string
		for _, need := range requiredOptions[k] {
			needs = append(needs, "-o "+need+"=…")
		}
		for _, need := range requiredOptions[k] {
			if _, ok := o[need]; !ok {
				return errdefs.Invalid("missing required volume option %q: -o %s=… needs %s", need, k, strings.Join(needs, " and "))
			}
		}
	}
	switch typ := o["type"]; {
	case typ == "":
		return nil
	case typ == "tmpfs":
		return checkTmpfsOptions(o["o"])
	case typ == "none" || isBind(o["o"]):
		return checkBindOptions(o)
	case paths.Rootless():
		return errdefs.Invalid("invalid volume option type=%s: a rootless user cannot mount %s: use -o type=tmpfs -o device=tmpfs, or -o type=none -o o=bind -o device=/host/path, or make the volume as root", typ, typ)
	}
	return nil
}

// isBind reports whether mount options o ask for a bind mount.
func isBind(o string) bool {
	for _, opt := range strings.Split(o, ",") {
		if opt == "bind" || opt == "rbind" {
			return true
		}
	}
	return false
}

func checkTmpfsOptions(o string) error {
	_, data, err := mount.ParseTmpfsOptions(o)
	if err != nil {
		return errdefs.Invalid("invalid volume option o=%s: %v", o, err)
	}
	for _, kv := range strings.Split(data, ",") {
		if size, ok := strings.CutPrefix(kv, "size="); ok && !strings.HasSuffix(size, "%") {
			if _, err := units.RAMInBytes(size); err != nil {
				return errdefs.Invalid("invalid volume option o=%s: size %q: want a size such as 64m", o, size)
			}
		}
	}
	return nil
}

func checkBindOptions(o map[string]string) error {
	if !isBind(o["o"]) {
		return errdefs.Invalid("invalid volume options type=%s o=%s: a bind of a host directory is -o type=none -o o=bind -o device=/host/path", o["type"], o["o"])
	}
	if !filepath.IsAbs(o["device"]) {
		return errdefs.Invalid("invalid volume option device=%s: a bind needs the absolute path of a host directory", o["device"])
	}
	return nil
}

// NeedsMount reports whether the volume is a file system mounted on its
// directory (made with type and device options), not a plain directory.
func (v *Volume) NeedsMount() bool { return v.Options["type"] != "" || v.Options["device"] != "" }

// MountVolume mounts a volume made with type and device options on its
// directory, as Docker's local driver does, unless it is mounted already.
// The mount stays, shared by every container that uses the volume, until
// the volume is removed (or the user's namespace ends).
func MountVolume(v *Volume) error {
	if !v.NeedsMount() {
		return nil
	}
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	o := v.Options
	if err := mount.Mount(o["device"], v.Mountpoint, o["type"], o["o"]); err != nil {
		return fmt.Errorf("mounting volume %s (type=%s device=%s o=%s): %w", v.Name, o["type"], o["device"], o["o"], mountError(err))
	}
	return nil
}

// mountError gives a failed mount's cause with what would fix it.
func mountError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: create the host directory first", err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: this user may not make that mount", err)
	}
	return err
}

// unmountVolume undoes MountVolume before the volume's directory goes. It
// fails rather than let a removal reach through a mount into the files
// it shows (a bound host directory).
func unmountVolume(v *Volume) error {
	mounted, err := mount.Mounted(v.Mountpoint)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	if !mounted {
		return nil
	}
	if err := mount.Unmount(v.Mountpoint); err != nil {
		return fmt.Errorf("unmounting volume %s from %s: %w", v.Name, v.Mountpoint, err)
	}
	if still, _ := mount.Mounted(v.Mountpoint); still {
		return fmt.Errorf("volume %s is still mounted on %s: unmount it first: %w", v.Name, v.Mountpoint, errdefs.ErrConflict)
	}
	return nil
}
