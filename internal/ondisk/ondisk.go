// Package ondisk is how skiff keeps state in files without a daemon: every
// write goes to a temporary file in the same directory, is synced and
// renamed into place (so a reader or a crash sees the old file or the new
// one, never half of one), and changes to one object are serialised by an
// exclusive flock on a lock file of its own. Container records, networks,
// volumes, the build cache and the archives `save` and `export` write all
// go through it. It depends on the standard library, x/sys and errdefs
// only, so the small supervisor binary can use it.
package ondisk

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
)

// WriteFile replaces path with data atomically: a temporary file in the
// same directory, written, given mode, synced, renamed into place, and the
// directory synced so that the rename itself survives a crash.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return WriteStream(path, mode, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteJSON writes v as indented JSON with WriteFile.
func WriteJSON(path string, v any, mode os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFile(path, data, mode)
}

// ReadJSON decodes path into v. A missing file is an errdefs.ErrNotFound
// whose message is notFound (the object's own words, e.g. "no such
// volume: data"); a file that does not decode names the file.
func ReadJSON(path string, v any, notFound string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return errdefs.NotFound("%s", notFound)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// WriteStream creates path from what fill writes into a temporary file
// beside it; only when fill succeeds is the file synced and renamed into
// place, so a failure (or a kill) leaves path as it was and no partial
// file under its name.
func WriteStream(path string, mode os.FileMode, fill func(f *os.File) error) error {
	return writeStream(path, mode, true, fill)
}

// WriteStreamVolatile is WriteStream without the syncs: as atomic for
// the processes that read path, not made durable against a crash of the
// machine. For what a crash makes worthless anyway (a --rm container's
// record).
func WriteStreamVolatile(path string, mode os.FileMode, fill func(f *os.File) error) error {
	return writeStream(path, mode, false, fill)
}

func writeStream(path string, mode os.FileMode, durable bool, fill func(f *os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done = true
	if durable {
		syncDir(dir)
	}
	return nil
}

// syncDir makes a rename in dir durable; a file system that cannot sync
// directories loses nothing but durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Lock creates path (and its directory) if needed, takes an exclusive
// flock on it and returns the unlock func. The lock goes with the process
// if it dies, so a killed command never leaves an object locked.
func Lock(path string) (func(), error) { return flock(path, unix.LOCK_EX) }

// LockShared is Lock for readers: any number hold it at once, and an
// exclusive Lock waits for all of them.
func LockShared(path string) (func(), error) { return flock(path, unix.LOCK_SH) }

// TryLock is Lock that gives up at once: ok is false when the lock is held.
func TryLock(path string) (unlock func(), ok bool, err error) {
	unlock, err = flock(path, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	return unlock, err == nil, err
}

func flock(path string, how int) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
