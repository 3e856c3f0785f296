// Package bench holds skiff's benchmarks: wall-clock times (and the idle
// memory of the per-container monitor) of the built binary run as the
// unprivileged test user, side by side with Podman (Debian's podman with
// runc) as the reference when it can be installed.
//
// Run as root (the harness creates the test users and the local registry):
//
//	make build && make bench
//
// Benchmarks measure and print; they never fail on timing. They fail only
// when a command they time does not succeed.
//
// Environment, besides the harness's (see tests/harness):
//
//	SKIFF_BENCH_RUNS           timed runs per command and scenario (default 20)
//	SKIFF_BENCH_PODMAN_DRIVER  the reference's storage driver (default overlay, as skiff)
//	SKIFF_E2E_KEEP=1           also keeps Podman's store and configuration
package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestMain sets up the harness fixtures (users, registry, images) around the
// benchmarks, and removes Podman's per-user state before the harness's own
// teardown. It uses Setup/Teardown rather than harness.Main so that Podman's
// store is cleaned while the harness still holds the host lock.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// Plain `go test ./tests/...`: there are no tests here, so skip the
		// fixtures (and the host lock) altogether.
		return m.Run()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: not running as root: every benchmark is skipped (the harness needs root to create its test users)")
	}
	if err := harness.Setup(); err != nil {
		fmt.Fprintf(os.Stderr, "bench setup failed: %v\n", err)
		harness.Teardown()
		return 1
	}
	code := m.Run()
	if harness.E2E != nil && os.Geteuid() == 0 && os.Getenv("SKIFF_E2E_KEEP") != "1" {
		if err := harness.CleanPodman(harness.E2E); err != nil {
			fmt.Fprintf(os.Stderr, "bench teardown: %v\n", err)
		}
	}
	harness.Teardown()
	return code
}
