// Command skiff is a daemonless, rootless, Docker-compatible container engine.
//
// Start-up order matters: libcontainer's init (`skiff init`) is handled in an
// init function before anything else; then the storage library's re-exec
// helpers; then, for an unprivileged user, the shared user namespace; only
// then the command line.
package main

import (
	"os"
	"runtime"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"go.podman.io/storage/pkg/reexec"

	"github.com/skiff-project/skiff/cmd"
	"github.com/skiff-project/skiff/internal/trace"
)

// version is set by the Makefile with -ldflags -X.
var version = "dev"

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// libcontainer's container init: runs after nsenter's C constructor
		// and never returns.
		libcontainer.Init()
	}
	if len(os.Args) > 1 && os.Args[1] == "__start" {
		// The starter moves locked threads into a container's network
		// namespace to join its networks, and rootless they cannot come
		// back. With the main goroutine on the main thread none of them
		// is the main thread, whose /proc/self/ns/net libcontainer reads
		// as "the host's" (it refuses net.* sysctls there).
		runtime.LockOSThread()
	}
}

func main() {
	// Run as skiff-user-generator (a symlink in systemd's generator
	// directory), skiff is the systemd generator of quadlet-style units.
	if cmd.IsGenerator(os.Args[0]) {
		os.Exit(cmd.Generator(os.Args))
	}
	if reexec.Init() {
		return
	}
	end := trace.Begin("the whole command")
	code := cmd.Main(os.Args, version)
	end()
	os.Exit(code)
}
