package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/paths"
)

// Volume is a named (or anonymous) local volume: a directory under the
// data directory that containers mount, as Docker's local driver keeps it.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
	// Anonymous volumes are made for -v /path and the image's VOLUME, and
	// go with their container (rm -v, --rm).
	Anonymous bool `json:"Anonymous,omitempty"`
	// Populated is set once the volume was filled from an image (or found
	// not empty), so the image's content is copied only on first use.
	Populated bool `json:"Populated,omitempty"`
}

func volumesDir() string { return filepath.Join(paths.DataDir(), "volumes") }

func volumeDir(name string) string { return filepath.Join(volumesDir(), name) }

func lockVolumes() (func(), error) { return ondisk.Lock(filepath.Join(volumesDir(), ".lock")) }

// LockVolumes takes the lock that serialises changes to volumes, for a
// caller that must keep volumes from being removed between making them
// and recording a container that uses them; while holding it, use
// CreateVolumeLocked, not the functions that take the lock themselves.
func LockVolumes() (func(), error) { return lockVolumes() }

// GetVolume reads a volume's record.
func GetVolume(name string) (*Volume, error) {
	v := &Volume{}
	if err := ondisk.ReadJSON(filepath.Join(volumeDir(name), "volume.json"), v, "no such volume: "+name); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Volume) save() error {
	return ondisk.WriteJSON(filepath.Join(volumeDir(v.Name), "volume.json"), v, 0o600)
}

// VolumeOptions are `volume create`'s flags.
type VolumeOptions struct {
	Labels    map[string]string
	Options   map[string]string
	Anonymous bool
}

// CreateVolume makes a volume; an empty name gets a random one. With
// existsOK an existing volume of that name is returned, as `run -v` does.
func CreateVolume(name string, o VolumeOptions, existsOK bool) (*Volume, error) {
	unlock, err := lockVolumes()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return CreateVolumeLocked(name, o, existsOK)
}

// CreateVolumeLocked is CreateVolume for a caller holding LockVolumes.
func CreateVolumeLocked(name string, o VolumeOptions, existsOK bool) (*Volume, error) {
	if name == "" {
		name = names.NewID()
	}
	if !names.Valid(name) || len(name) > 255 {
		return nil, errdefs.Invalid("invalid volume name %q: letters, digits, _, . and -, starting with a letter or digit", name)
	}
	if err := checkVolumeOptions(o.Options); err != nil {
		return nil, err
	}
	if v, err := GetVolume(name); err == nil {
		if existsOK {
			return v, nil
		}
		return nil, fmt.Errorf("volume %s already exists: %w", name, errdefs.ErrConflict)
	}
	v := &Volume{
		Name: name, Driver: "local", Mountpoint: filepath.Join(volumeDir(name), "_data"),
		CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: o.Labels, Options: o.Options,
		Scope: "local", Anonymous: o.Anonymous,
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	return v, v.save()
}

// HalfCreatedVolumes lists the volume directories without a record: left
// by a command killed while it created a volume.
func HalfCreatedVolumes() ([]string, error) {
	entries, err := os.ReadDir(volumesDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(volumeDir(e.Name()), "volume.json")); errors.Is(err, os.ErrNotExist) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveHalfCreatedVolume removes such a directory, if it still has no
// record, under the volumes' lock.
func RemoveHalfCreatedVolume(name string) error {
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(volumeDir(name), "volume.json")); err == nil {
		return nil // completed meanwhile
	}
	return os.RemoveAll(volumeDir(name))
}

// Volumes lists every volume by name.
func Volumes() ([]*Volume, error) {
	entries, err := os.ReadDir(volumesDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if v, err := GetVolume(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveVolume deletes a volume and its data unless inUse (nil: no
// check) names containers that use it, holding the lock from the check
// to the removal.
func RemoveVolume(name string, inUse func(v *Volume) ([]string, error)) error {
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := GetVolume(name)
	if err != nil {
		return err
	}
	if inUse != nil {
		users, err := inUse(v)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("volume %s is in use by container %s: remove the container first: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
		}
	}
	if err := unmountVolume(v); err != nil {
		return err
	}
	return os.RemoveAll(volumeDir(name))
}

// PruneVolumes removes the anonymous volumes (with all, every volume)
// that keep says nothing of and inUse says no container uses, holding the
// lock from the checks to the removal; an error from inUse stops it. It
// returns the names removed and the space they took.
func PruneVolumes(all bool, keep func(v *Volume) bool, inUse func(v *Volume) ([]string, error)) ([]string, int64, error) {
	unlock, err := lockVolumes()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	vols, err := Volumes()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var size int64
	for _, v := range vols {
		if !v.Anonymous && !all || keep(v) {
			continue
		}
		users, err := inUse(v)
		if err != nil {
			return removed, size, err
		}
		if len(users) > 0 {
			continue
		}
		n := VolumeSize(v)
		if err := unmountVolume(v); err != nil {
			return removed, size, err
		}
		if err := os.RemoveAll(volumeDir(v.Name)); err != nil {
			return removed, size, fmt.Errorf("removing volume %s: %w", v.Name, err)
		}
		removed = append(removed, v.Name)
		size += n
	}
	return removed, size, nil
}

// Populate copies what the image has at the mount point into a volume
// used for the first time (Docker's copy-up), unless it already holds
// something. A mounted volume (NeedsMount) is filled whenever it is found
// empty, as Docker does: a new tmpfs, an empty host directory.
func Populate(v *Volume, imagePath string) error {
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := GetVolume(v.Name)
	if err != nil || cur.Populated && !cur.NeedsMount() {
		return err
	}
	entries, _ := os.ReadDir(cur.Mountpoint)
	if st, err := os.Lstat(imagePath); err == nil && st.IsDir() && len(entries) == 0 {
		if err := archive.CopyWithTarAndChown(nil, nil, nil, nil)(imagePath, cur.Mountpoint); err != nil {
			return fmt.Errorf("filling volume %s from the image: %w", v.Name, err)
		}
		// The volume's root takes the image directory's owner and mode.
		_ = os.Chmod(cur.Mountpoint, st.Mode().Perm())
		if sys, ok := st.Sys().(*unix.Stat_t); ok {
			_ = os.Lchown(cur.Mountpoint, int(sys.Uid), int(sys.Gid))
		}
	}
	cur.Populated = true
	return cur.save()
}

// ChownVolume gives a directory tree to uid:gid (the :U option).
func ChownVolume(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// VolumeSize is the disk use of a volume's data.
func VolumeSize(v *Volume) int64 { return dirSize(v.Mountpoint) }
