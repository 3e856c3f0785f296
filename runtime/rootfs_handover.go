package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/storage"
)

// The root file system that `skiff run` and `skiff start` mount "aside"
// (while the supervisor and skiff-start come up) is handed to skiff-start
// by a note in the container's runtime directory naming the mount point.
// With it skiff-start neither opens the store nor asks it to mount again,
// which was on the start's critical path; the mount's reference goes with
// it (the running container holds it, as skiff-start's own mount did).
// Without a note, or when the note does not name a mounted overlay of the
// store (a start by the supervisor's restart policy, or the aside mount
// not done yet), skiff-start mounts through the store.

func rootfsNote(c *container.Container) string { return filepath.Join(c.RunDir(), "rootfs") }

// HandOverRootfs tells the coming skiff-start that c's root file system is
// mounted at dir.
func HandOverRootfs(c *container.Container, dir string) {
	note := rootfsNote(c)
	if os.MkdirAll(filepath.Dir(note), 0o700) != nil {
		return
	}
	_ = ondisk.WriteStreamVolatile(note, 0o600, func(f *os.File) error {
		_, err := f.WriteString(dir)
		return err
	})
}

// WithdrawRootfs takes back a hand-over that no start took.
func WithdrawRootfs(c *container.Container) { _ = os.Remove(rootfsNote(c)) }

// startRootfs is c's mounted root file system: the one handed over, else
// mounted through the store, which is returned open (nil otherwise).
func startRootfs(c *container.Container) (string, *storage.Store, error) {
	end := trace.Begin("take the root file system the caller mounted")
	if dir := takeRootfs(c); dir != "" {
		end() // a line only when taken
		return dir, nil, nil
	}
	st, err := openStore()
	if err != nil {
		return "", nil, err
	}
	end = trace.Begin("mount the root file system")
	rootfs, err := st.Raw().Mount(c.ID, "")
	end()
	if err != nil {
		st.Close()
		return "", nil, fmt.Errorf("mounting the container's root file system: %w", err)
	}
	return rootfs, st, nil
}

// takeRootfs reads and removes c's note: the mount point it names when
// that is a mounted directory of the store's overlay driver, else "".
func takeRootfs(c *container.Container) string {
	note := rootfsNote(c)
	data, err := os.ReadFile(note)
	if err != nil {
		return ""
	}
	_ = os.Remove(note)
	dir := string(data)
	overlay := filepath.Join(storage.DataDir(), "storage", "overlay") + "/"
	if !strings.HasPrefix(dir, overlay) || filepath.Clean(dir) != dir || !mountPoint(dir) {
		return ""
	}
	return dir
}

// mountPoint reports whether dir is a directory on another file system
// than its parent's (an overlay mount has a device of its own).
func mountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(dir, &st) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Dev != parent.Dev
}
