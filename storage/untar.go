package storage

import (
	"fmt"
	"io"
	"runtime"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/unshare"
	"golang.org/x/sys/unix"
)

// untarInChroot unpacks an uncompressed layer tar into dest the way the
// storage library's re-executed unpacker does (archive.Unpack with dest
// as the root directory, so no entry can reach outside it), but in a
// thread of this process: the thread leaves the process's shared root
// and working directory (unshare CLONE_FS) and chroots to dest. Starting
// a copy of this binary for each layer costs more than its unpacking.
func untarInChroot(r io.Reader, dest string, opts *archive.TarOptions) error {
	_ = unshare.IsRootless() // cached before the chroot hides /proc
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread outlives its goroutine, and /proc/self
			// shows its root: leave it alone.
			runtime.UnlockOSThread()
			errc <- chrootarchive.UntarUncompressed(r, dest, opts)
			return
		}
		// Never unlocked: with its own root, the thread ends with this
		// goroutine instead of going back to the scheduler.
		errc <- unpackChrooted(r, dest, opts)
	}()
	return <-errc
}

func unpackChrooted(r io.Reader, dest string, opts *archive.TarOptions) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unpacking failed: unshare: %w", err)
	}
	if err := unix.Chroot(dest); err != nil {
		return fmt.Errorf("unpacking failed: chroot %s: %w", dest, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("unpacking failed: %w", err)
	}
	if err := archive.Unpack(r, "/", opts); err != nil {
		return fmt.Errorf("unpacking failed: %w", err)
	}
	// Trailing zero blocks are part of the stream.
	_, err := io.Copy(io.Discard, r)
	return err
}
