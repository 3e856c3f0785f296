package supervisor

import (
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// The supervisor stays resident once per running container, so what it
// keeps while idle is paid as many times as there are containers. Its
// work is reading pipes and writing a log: one P is plenty. A second P
// fills a second set of span caches while the supervisor starts (about
// 250 KiB that stays mapped) and starts more Ms, each with its own g0
// and signal stacks.
const (
	leanProcs = "1"
	// leanGC keeps the heap near its live size: Go's default lets it
	// grow to 4 MiB before the first collection.
	leanGC = "25"
)

// copyBufSize is the buffer each of the container's output streams is
// read with, as conmon's: it stays allocated (and touched) while the
// container runs; io.Copy's is 32 KiB.
const copyBufSize = 8 << 10

// onlyReader hides an *os.File's WriteTo, which would copy through a
// buffer of its own (32 KiB) when the destination is not a socket.
type onlyReader struct{ io.Reader }

// envLeanSaved carries the caller's own GOMAXPROCS and GOGC (";"-joined
// KEY=VALUE, possibly empty) past LeanEnv, so that the supervisor's
// children (skiff-start, skiff __cleanup, slirp4netns) get them back.
const envLeanSaved = "_SKIFF_GO_SAVED"

// LeanEnv is env with the Go runtime settings for a skiff-supervisor
// process: they must be in its environment when it starts, since the
// runtime sizes itself before main runs.
func LeanEnv(env []string) []string {
	var saved []string
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOMAXPROCS", "GOGC":
			saved = append(saved, kv)
		case envLeanSaved:
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GOMAXPROCS="+leanProcs, "GOGC="+leanGC, envLeanSaved+"="+strings.Join(saved, ";"))
}

// lean gives the environment LeanEnv changed back to the children and
// applies the same settings when the supervisor was started without it;
// called first thing in Main.
func lean() {
	if saved, ok := os.LookupEnv(envLeanSaved); ok {
		os.Unsetenv(envLeanSaved)
		os.Unsetenv("GOMAXPROCS")
		os.Unsetenv("GOGC")
		for _, kv := range strings.Split(saved, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				os.Setenv(k, v)
			}
		}
		return
	}
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(25)
}

// forwarding gives a supervisor that forwards published ports the
// runtime's usual settings back (Ps, GOGC 100): the forwarder is on the
// data path of every connection, and runs as it did before lean.
func forwarding() {
	runtime.SetDefaultGOMAXPROCS()
	debug.SetGCPercent(100)
}

// settle hands the memory start-up used back to the kernel once the
// container runs: from here on the supervisor mostly waits.
func settle() {
	debug.FreeOSMemory()
}
