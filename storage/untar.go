package storage

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/unshare"
	"golang.org/x/sys/unix"
)

// untarInChroot unpacks an uncompressed layer tar into dest the way the
// storage library's re-executed unpacker does (archive.Unpack with dest
// as the root directory, so no entry can reach outside it), but in a
// thread of this process: the thread leaves the process's shared root
// and working directory (unshare CLONE_FS) and chroots to dest. Starting
// a copy of this binary for each layer costs more than its unpacking
// (it used to be started when the goroutine landed on the main thread).
func untarInChroot(r io.Reader, dest string, opts *archive.TarOptions) error {
	_ = unshare.IsRootless() // cached before the chroot hides /proc
	defer extraProc()()
	return unpackOnThread(r, dest, opts)
}

// unpackOnThread runs unpackChrooted on a thread of its own, which is
// never the main thread.
func unpackOnThread(r io.Reader, dest string, opts *archive.TarOptions) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread outlives its goroutine, and /proc/self
			// shows its root: leave it alone, but keep it locked
			// while another thread unpacks, so that thread is not it.
			defer runtime.UnlockOSThread()
			errc <- unpackOnThread(r, dest, opts)
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
	// Trailing zero blocks are part of the stream (tar-split records them).
	_, err := io.Copy(io.Discard, r)
	return err
}

// The unpacking thread is locked to its goroutine and spends much of its
// time in file system calls. When such a call returns and the scheduler
// gave its P (GOMAXPROCS's unit) to other goroutines meanwhile, the
// thread sleeps until one is handed back: two thread switches per write,
// thousands per layer. While layers unpack, each unpacking thread adds
// one P, so a thread back from a call finds one free and goes on; the
// kernel shares the cores between the threads as it would anyway.
var procs struct {
	sync.Mutex
	extra int // unpacking threads running
	base  int // GOMAXPROCS before the first of them
}

// extraProc adds a P for one unpacking thread; call the returned func
// when it is done.
func extraProc() (done func()) {
	procs.Lock()
	if procs.extra == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.extra++
	runtime.GOMAXPROCS(procs.base + procs.extra)
	procs.Unlock()
	return func() {
		procs.Lock()
		defer procs.Unlock()
		procs.extra--
		switch {
		case procs.extra > 0:
			runtime.GOMAXPROCS(procs.base + procs.extra)
		case os.Getenv("GOMAXPROCS") == "":
			// Back to the runtime's own choice, which follows the
			// CPU limit (an explicit setting would freeze it).
			runtime.SetDefaultGOMAXPROCS()
		default:
			runtime.GOMAXPROCS(procs.base)
		}
	}
}
