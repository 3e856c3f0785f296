// Package harness sets up a host for skiff's end-to-end tests and runs the
// skiff binary as test users.
//
// It owns the fixtures that live outside the product: the unprivileged test
// users and their /etc/subuid ranges, a copy of the binary they can execute,
// a local registry (Debian's docker-registry on 127.0.0.1) and the real,
// hand-built test images pushed to it. It does not know how skiff works
// inside; tests talk to skiff only through its command line.
//
// A test binary calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
//
// Environment:
//
//	SKIFF_BINARY     the binary under test (default <repo>/bin/skiff)
//	SKIFF_E2E_KEEP=1 keep the users' stores and the registry after the run
//	SKIFF_TEST_CACHE where the Debian image's root file system is cached
//	                 (default /var/cache/skiff-tests, see debian.go)
//
// and those of service.go for the Docker Engine API service and its clients.
package harness

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// Names of the test users.
const (
	// E2EUserName is the unprivileged user with /etc/subuid and /etc/subgid ranges.
	E2EUserName = "skiff-e2e"
	// NoSubUserName is the unprivileged user with no subordinate ids at all.
	NoSubUserName = "skiff-nosub"
)

// Fixtures filled in by Setup.
var (
	// Registry is the local registry's host:port, "127.0.0.1:PORT".
	Registry string
	// Binary is the path of the world-executable copy of the skiff binary.
	Binary string
	// E2E is the unprivileged user with subordinate id ranges.
	E2E *User
	// NoSub is the unprivileged user without subordinate ids.
	NoSub *User
	// Root is root, for the root-mode tests.
	Root *User
	// Images holds the pushed test images by repository name ("busybox", "multi", ...).
	Images = map[string]*Image{}

	// skipReason is set when the host cannot run the suite at all (not root).
	skipReason string
	// workDir holds the binary copy, the registry and per-test user dirs.
	workDir string
	reg     *registryProcess
)

// requiredBinaries maps each host binary the suite needs to its Debian package.
var requiredBinaries = []struct{ path, pkg string }{
	{"/usr/bin/docker-registry", "docker-registry"},
	{"/bin/busybox", "busybox-static"},
	{"/usr/bin/newuidmap", "uidmap"},
	{"/usr/bin/newgidmap", "uidmap"},
	{"/usr/bin/slirp4netns", "slirp4netns"},
	{"/usr/bin/pasta", "passt"},
	{"/usr/sbin/useradd", "passwd"},
	{"/usr/sbin/usermod", "passwd"},
	{"/usr/bin/strace", "strace"},
	{dockerPyModule, "python3-docker"},
	{"/usr/bin/ssh-agent", "openssh-client"}, // build --ssh
	{"/usr/bin/ssh-add", "openssh-client"},
}

// Main runs Setup, the tests and Teardown, and returns the exit code for os.Exit.
// Without root every test is skipped with the reason. Unless -parallel is given,
// it raises test parallelism to 4: the tests mostly wait on child processes.
func Main(m *testing.M) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", "4")
	}
	if err := Setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e setup failed: %v\n", err)
		Teardown()
		return 1
	}
	if skipReason != "" {
		fmt.Fprintf(os.Stderr, "e2e: skipping all tests: %s\n", skipReason)
	}
	code := m.Run()
	// The Docker API services first: a service that does not stop on
	// SIGTERM, or leaves its socket behind, fails the run.
	if err := stopServices(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	Teardown()
	return code
}

// Setup prepares the host for a test binary: users, binary copy, registry and
// images. When not running as root it records a skip reason and returns nil.
func Setup() error {
	return setup(true)
}

func setup(needBinary bool) error {
	if os.Geteuid() != 0 {
		skipReason = "the end-to-end tests need root to create test users and run skiff as them (run go test as root)"
		return nil
	}
	if runtime.GOOS != "linux" {
		skipReason = "the end-to-end tests need Linux"
		return nil
	}
	for _, b := range requiredBinaries {
		if _, err := os.Stat(b.path); err != nil {
			return fmt.Errorf("%s is missing: install the Debian package %s (./install.sh --deps-only)", b.path, b.pkg)
		}
	}
	if err := checkStatic(busyboxPath); err != nil {
		return err
	}
	if err := lockHost(); err != nil {
		return err
	}
	var err error
	workDir, err = os.MkdirTemp("", "skiff-e2e-work-")
	if err != nil {
		return err
	}
	if err := os.Chmod(workDir, 0o755); err != nil {
		return err
	}
	if needBinary {
		if Binary, err = installBinary(workDir); err != nil {
			return err
		}
	}
	if err := ensureTunDevice(); err != nil {
		return err
	}
	if E2E, err = ensureUser(E2EUserName, true); err != nil {
		return err
	}
	if NoSub, err = ensureUser(NoSubUserName, false); err != nil {
		return err
	}
	if Root, err = lookupUser("root"); err != nil {
		return err
	}
	for _, u := range []*User{E2E, NoSub, Root} {
		if err := CleanUser(u); err != nil {
			return err
		}
	}
	if reg, err = startRegistry(filepath.Join(workDir, "registry")); err != nil {
		return err
	}
	Registry = reg.addr
	return pushImages()
}

// Teardown stops the registry and removes what the run left: the users'
// stores and runtime directories, the binary copy and the work directory.
// With SKIFF_E2E_KEEP=1 the stores and the registry data are kept.
func Teardown() {
	if err := stopServices(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e teardown: %v\n", err)
	}
	if reg != nil {
		reg.stop()
		reg = nil
	}
	stopAuthRegistry()
	if os.Getenv("SKIFF_E2E_KEEP") == "1" {
		if workDir != "" {
			fmt.Fprintf(os.Stderr, "e2e: SKIFF_E2E_KEEP=1: kept %s and the users' stores\n", workDir)
		}
		return
	}
	for _, u := range []*User{E2E, NoSub, Root} {
		if u != nil {
			if err := CleanUser(u); err != nil {
				fmt.Fprintf(os.Stderr, "e2e teardown: %v\n", err)
			}
		}
	}
	if workDir != "" {
		_ = os.RemoveAll(workDir)
	}
	unlockHost()
}

// hostLockPath serialises test binaries that use the harness: go test runs
// packages side by side, and they share the test users and their stores.
const hostLockPath = "/tmp/skiff-e2e.lock"

var hostLock *os.File

// lockHost takes the host-wide harness lock, waiting for another test binary
// to finish with the users.
func lockHost() error {
	f, err := os.OpenFile(hostLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: waiting for another test binary holding %s\n", hostLockPath)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return fmt.Errorf("locking %s: %w", hostLockPath, err)
		}
	}
	hostLock = f
	return nil
}

func unlockHost() {
	if hostLock != nil {
		hostLock.Close() // releases the flock
		hostLock = nil
	}
}

// Need skips t when the host cannot run the suite (not root), before the
// test touches any fixture. Every end-to-end test calls it first.
func Need(t testing.TB) {
	t.Helper()
	skipIfUnavailable(t)
}

// skipIfUnavailable skips t when Setup decided the host cannot run the suite.
func skipIfUnavailable(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if Binary == "" {
		t.Fatal("harness.Setup was not run (call harness.Main from TestMain)")
	}
}

// repoRoot finds the repository root from this source file's location.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// installBinary copies the binary under test into dir (mode 0755) so the
// unprivileged users can execute it wherever the repository lives.
func installBinary(dir string) (string, error) {
	src := os.Getenv("SKIFF_BINARY")
	if src == "" {
		src = filepath.Join(repoRoot(), "bin", "skiff")
	}
	data, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("skiff binary %s not found: build it with `make build` or set SKIFF_BINARY", src)
	}
	if err != nil {
		return "", fmt.Errorf("reading skiff binary: %w", err)
	}
	binDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(binDir, "skiff")
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", err
	}
	// skiff starts its per-container supervisor (which starts containers
	// with skiff-start), and hands its kube commands to skiff-kube, from
	// the same directory. A skiff built before skiff-kube or skiff-start
	// existed has none (it did their work itself).
	for _, name := range []string{"skiff-supervisor", "skiff-start", "skiff-kube"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(src), name))
		if name != "skiff-supervisor" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("%s next to %s: %w (make build writes it)", name, src, err)
		}
		if err := os.WriteFile(filepath.Join(binDir, name), data, 0o755); err != nil {
			return "", err
		}
	}
	return dst, os.Chmod(dst, 0o755)
}

// ensureTunDevice makes /dev/net/tun usable by unprivileged users (slirp4netns, pasta).
func ensureTunDevice() error {
	const tun = "/dev/net/tun"
	fi, err := os.Stat(tun)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll("/dev/net", 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("/usr/bin/mknod", "-m", "0666", tun, "c", "10", "200").CombinedOutput(); err != nil {
			return fmt.Errorf("creating %s: %v: %s", tun, err, out)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o666 {
		return os.Chmod(tun, 0o666)
	}
	return nil
}
