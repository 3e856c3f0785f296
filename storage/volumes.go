package storage

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/lockfile"
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

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func volumesDir() string { return filepath.Join(paths.DataDir(), "volumes") }

func volumeDir(name string) string { return filepath.Join(volumesDir(), name) }

// IsVolumeName reports whether s names a volume rather than a host path.
func IsVolumeName(s string) bool { return volumeName.MatchString(s) }

func lockVolumes() (func(), error) { return lockfile.Lock(filepath.Join(volumesDir(), ".lock")) }

// GetVolume reads a volume's record.
func GetVolume(name string) (*Volume, error) {
	data, err := os.ReadFile(filepath.Join(volumeDir(name), "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFound("no such volume: %s", name)
	}
	if err != nil {
		return nil, err
	}
	v := &Volume{}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("reading volume %s: %w", name, err)
	}
	return v, nil
}

func (v *Volume) save() error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(volumeDir(v.Name), "volume.json")
	if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
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
	if name == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		name = hex.EncodeToString(b)
	}
	if !IsVolumeName(name) || len(name) > 255 {
		return nil, errdefs.Invalid("invalid volume name %q: letters, digits, _, . and -, starting with a letter or digit", name)
	}
	for k := range o.Options {
		switch k {
		case "type", "device", "o":
		default:
			return nil, errdefs.Invalid("invalid volume option %q: the local driver takes type, device and o", k)
		}
	}
	unlock, err := lockVolumes()
	if err != nil {
		return nil, err
	}
	defer unlock()
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

// RemoveVolume deletes a volume and its data. The caller checks use.
func RemoveVolume(name string) error {
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := GetVolume(name); err != nil {
		return err
	}
	return os.RemoveAll(volumeDir(name))
}

// Populate copies what the image has at the mount point into a volume
// used for the first time (Docker's copy-up), unless it already holds
// something.
func Populate(v *Volume, imagePath string) error {
	unlock, err := lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := GetVolume(v.Name)
	if err != nil || cur.Populated {
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
func VolumeSize(v *Volume) int64 {
	var n int64
	_ = filepath.Walk(v.Mountpoint, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// ParseKV parses KEY=VALUE lists for --label and --opt.
func ParseKV(list []string, flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || (!ok && flag == "--opt") {
			return nil, errdefs.Invalid("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}
