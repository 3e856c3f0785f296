// Package api holds the judges of skiff's Docker Engine API service: real
// clients that nobody here wrote (the docker CLI, docker compose, docker-py)
// talk to `skiff system service` started by the harness as the test user,
// and the tests check what those clients see. Raw HTTP requests to the
// socket check bad input and load.
//
// Run as root (the harness creates the test users):
//
//	make build judges && go test ./tests/api
//
// SKIFF_API_SOCKET=/path runs the clients against a service already
// listening there; SKIFF_API_SERVICE="/usr/bin/podman system service" runs
// them against another engine's service (see tests/README.md).
package api

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// parallel starts a test that shares no state with others: it skips when
// the host cannot run the suite, then runs in parallel.
func parallel(t *testing.T) {
	t.Helper()
	needRootless(t)
	t.Parallel()
}

// needRootless skips unless the e2e user can run containers rootless here.
func needRootless(t testing.TB) {
	t.Helper()
	harness.Need(t)
	harness.Requires(t, "unprivileged-userns")
	harness.Requires(t, "newuidmap")
}

// user is the unprivileged user every test runs its clients as.
func user() *harness.User { return harness.E2E }

// docker runs the docker CLI as the e2e user against its service.
func docker(t testing.TB, args ...string) *harness.Result {
	t.Helper()
	return harness.Docker(t, user(), args...)
}

// dockerWith runs the docker CLI with options.
func dockerWith(t testing.TB, opts harness.RunOptions, args ...string) *harness.Result {
	t.Helper()
	return harness.DockerWith(t, user(), opts, args...)
}

// skiff runs skiff's own CLI as the same user (same store as the service).
func skiff(t testing.TB, args ...string) *harness.Result {
	t.Helper()
	return harness.RunAs(t, user(), args...)
}

// ref is Registry/repo.
func ref(repo string) string { return harness.Registry + "/" + repo }

type pullResult struct {
	once sync.Once
	res  *harness.Result
}

var pulls sync.Map // user + reference -> *pullResult

// pulledAs pulls Registry/repo through u's service once per test binary
// (`docker pull`) and returns the reference.
func pulledAs(t testing.TB, u *harness.User, repo string) string {
	t.Helper()
	r := ref(repo)
	v, _ := pulls.LoadOrStore(u.Name+" "+r, &pullResult{})
	p := v.(*pullResult)
	p.once.Do(func() {
		p.res = harness.DockerWith(t, u, harness.RunOptions{Timeout: 2 * time.Minute}, "pull", r)
	})
	if p.res == nil || p.res.ExitCode != 0 {
		out := "(pull did not run)"
		if p.res != nil {
			out = p.res.Output()
		}
		t.Fatalf("cannot pull %s through the service as %s, needed by this test:\n%s", r, u.Name, out)
	}
	return r
}

// busybox is the harness's busybox image, pulled through the service.
func busybox(t testing.TB) string {
	t.Helper()
	return pulledAs(t, user(), "busybox")
}

// name returns a name unique to this run: api-<what>-<hex>.
func name(what string) string { return "api-" + what + "-" + harness.UniqueSuffix() }

// rmOnCleanup removes containers through docker when the test ends.
func rmOnCleanup(t *testing.T, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		args := append([]string{"rm", "-f"}, names...)
		r := dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, args...)
		if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

// idleScript runs until SIGTERM, then exits 0 at once.
const idleScript = "trap 'exit 0' TERM; sleep 300 & wait"

var idleCmd = []string{"sh", "-c", idleScript}

var fullIDRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// runDetached runs `docker run -d --name NAME FLAGS busybox CMD...`, checks
// the full ID it prints, and removes the container when the test ends.
func runDetached(t *testing.T, n string, flags []string, cmd ...string) string {
	t.Helper()
	img := busybox(t)
	rmOnCleanup(t, n)
	args := append([]string{"run", "-d", "--name", n}, flags...)
	args = append(append(args, img), cmd...)
	r := docker(t, args...).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !fullIDRe.MatchString(id) {
		t.Fatalf("%s: stdout %q, want the 64-hex container ID\n%s", r.Cmdline(), r.Stdout, r.Output())
	}
	return id
}

// eventually polls cond every 100 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last seen: %s", what, timeout, desc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inspectJSON runs `docker inspect` (or another inspect command) on one
// object and decodes the one-element array into v.
func inspectJSON(t testing.TB, command []string, obj string, v any) {
	t.Helper()
	args := append(append([]string{}, command...), obj)
	r := docker(t, args...).OK(t)
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(r.Stdout), &arr); err != nil || len(arr) != 1 {
		t.Fatalf("%s: want a JSON array of one element (%v)\n%s", r.Cmdline(), err, r.Output())
	}
	if err := json.Unmarshal(arr[0], v); err != nil {
		t.Fatalf("%s: %v\n%s", r.Cmdline(), err, r.Output())
	}
}

// containerInspect is the part of `docker inspect CONTAINER` the tests read.
type containerInspect struct {
	ID    string `json:"Id"`
	Name  string
	Image string
	State struct {
		Status     string
		Running    bool
		Paused     bool
		ExitCode   int
		Pid        int
		StartedAt  string
		FinishedAt string
	}
	RestartCount int
	Config       struct {
		Image  string
		Cmd    []string
		Env    []string
		Labels map[string]string
		Tty    bool
	}
	HostConfig struct {
		Memory       int64
		CpuShares    int64
		PortBindings map[string][]struct{ HostIp, HostPort string }
	}
	NetworkSettings struct {
		Networks map[string]struct {
			NetworkID string
			IPAddress string
			Aliases   []string
		}
		Ports map[string][]struct{ HostIp, HostPort string }
	}
	Mounts []struct {
		Type        string
		Name        string
		Source      string
		Destination string
	}
}

func inspectContainer(t testing.TB, n string) containerInspect {
	t.Helper()
	var c containerInspect
	inspectJSON(t, []string{"container", "inspect"}, n, &c)
	return c
}

// waitStatus waits until docker inspect shows the container's status want.
func waitStatus(t testing.TB, n, want string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("container %s status %q", n, want), func() (bool, string) {
		r := docker(t, "inspect", "--format", "{{.State.Status}}", n)
		return r.ExitCode == 0 && strings.TrimSpace(r.Stdout) == want, r.Output()
	})
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rootlessCgroupV1 reports why the e2e user's containers have no cgroup
// of their own for stats, pause and update: rootless on a cgroup v1 host
// (no unified hierarchy, no delegation). "" on a cgroup v2 host.
func rootlessCgroupV1() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return ""
	}
	return "rootless on a cgroup v1 host"
}

// testdata returns the path of a file in testdata/.
func testdata(t testing.TB, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// contains reports whether list has s.
func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
