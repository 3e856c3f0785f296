// Command skiff-start starts a container: a container's supervisor runs
// `skiff-start __start ID` (and `skiff-start __health ID` for one health
// check), and libcontainer re-executes the binary that calls it as the
// container's init (`skiff-start init`). It is skiff's runtime package
// alone, without the command line, the engine, the registry and builder
// code: every container start loads this binary twice, and a small one
// loads and initialises in a fraction of skiff's time. It is not meant to
// be run by hand.
package main

import (
	"os"
	goruntime "runtime"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/skiff-project/skiff/runtime"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// libcontainer's container init: runs after nsenter's C
		// constructor and never returns.
		libcontainer.Init()
	}
	if len(os.Args) > 1 && os.Args[1] == runtime.StepStart {
		// The starter moves locked threads into a container's network
		// namespace to join its networks, and rootless they cannot come
		// back. With the main goroutine on the main thread none of them
		// is the main thread, whose /proc/self/ns/net libcontainer reads
		// as "the host's" (it refuses net.* sysctls there).
		goruntime.LockOSThread()
	}
}

func main() { os.Exit(runtime.StarterMain(os.Args)) }
