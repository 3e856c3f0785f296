package supervisor

import (
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The supervisor stays resident once per running container, so what it
// keeps while idle is paid as many times as there are containers. Its
// work is reading pipes and writing a log: one P is plenty. A second P
// fills a second set of span caches while the supervisor starts (about
// 250 KiB that stays mapped) and starts more Ms, each with its own g0
// and signal stacks.
const (
	leanProcs = 1
	// leanGC keeps the heap near its live size: Go's default lets it
	// grow to 4 MiB before the first collection.
	//
	// No collection is forced once the container runs either: start-up
	// makes about 300 KiB of garbage, less than the first collection's
	// 1 MiB goal, so an idle supervisor never collects. A collection
	// (debug.FreeOSMemory here before) frees little of it, since what
	// stays live is spread over a span of each size class, and touches
	// the collector's own memory (work buffers, mark bits, the freed
	// spans the scavenger keeps up to the heap goal) for good: after it
	// and the runtime's two-minute collections that follow the first
	// one, an idle supervisor's own memory grew by 0.3-0.4 MiB.
	leanGC = 25
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
	return append(out, "GOMAXPROCS="+strconv.Itoa(leanProcs), "GOGC="+strconv.Itoa(leanGC), envLeanSaved+"="+strings.Join(saved, ";"))
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
	runtime.GOMAXPROCS(leanProcs)
	debug.SetGCPercent(leanGC)
}

// forwarding gives a supervisor that forwards published ports the
// runtime's usual settings back (Ps, GOGC 100) when the first client
// comes: the forwarder is on the data path of every connection, and runs
// as it did before lean. Not before: with its second P (span caches and
// Ms of its own) an idle forwarding supervisor kept 0.3 MiB more.
func forwarding() {
	runtime.SetDefaultGOMAXPROCS()
	debug.SetGCPercent(100)
}

// rest hands the memory a burst of work left (a health check: an exec,
// its output, the record read and written; a restart) back to the
// kernel. Such bursts come again and again, so the collector runs for
// them anyway; collected as the heap grows to its goal instead, a
// supervisor checking health every second kept 3.0 MiB of its own after
// 30 checks, 1.6 with this. Not after the first start: see leanGC.
func rest() {
	debug.FreeOSMemory()
}

// No memory profile is ever taken of the supervisor: without this, the
// runtime samples its allocations into a profile hash table (a page of
// it and a bucket per sample, kept for good).
func init() { runtime.MemProfileRate = 0 }

// awaitExit returns once child pid has exited, without reaping it: it
// waits on a pidfd in the Go runtime's poller, where a blocking wait
// would hold an OS thread (its stacks and all), and start another one to
// run the rest, for as long as the child runs. Without pidfds it returns
// at once, and the caller's own wait blocks.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd") // non-blocking: the poller holds it
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		// The pidfd turns readable when the process exits.
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != unix.EINTR && (err != nil || info.Signo != 0)
	})
}
