// Package lockfile takes the exclusive file locks (flock) that serialise
// changes to skiff's on-disk state between processes: one per container,
// one for the networks, one for the volumes. It has no other dependency,
// so the small supervisor binary can use it.
package lockfile

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock creates path (and its directory) if needed, locks it and returns
// the unlock func. The lock goes with the process if it dies.
func Lock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
