// Package e2e holds skiff's black-box end-to-end tests: they run the built
// binary as an unprivileged user (and, for a subset, as root) against a local
// registry, and check what a Docker user would see.
//
// Run as root (the harness creates the test users):
//
//	make build && go test ./tests/e2e
//
// See tests/harness for the fixtures and the environment variables.
package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// parallel starts a test that shares no state with others: it skips when
// the host cannot run the suite, then runs in parallel.
func parallel(t *testing.T) {
	t.Helper()
	harness.Need(t)
	t.Parallel()
}

// needRootless skips unless u can run skiff rootless on this host.
func needRootless(t testing.TB, u *harness.User) {
	t.Helper()
	if u.IsRoot() {
		return
	}
	harness.Requires(t, "unprivileged-userns")
	if u.SubUID.Count > 0 {
		harness.Requires(t, "newuidmap")
	}
}

// skiff runs skiff as the unprivileged test user.
func skiff(t testing.TB, args ...string) *harness.Result {
	t.Helper()
	needRootless(t, harness.E2E)
	return harness.RunAs(t, harness.E2E, args...)
}

// skiffWith runs skiff as the unprivileged test user with options.
func skiffWith(t testing.TB, opts harness.RunOptions, args ...string) *harness.Result {
	t.Helper()
	needRootless(t, harness.E2E)
	return harness.RunAsWith(t, harness.E2E, opts, args...)
}

// ref is Registry/repo (no tag: skiff must default to latest).
func ref(repo string) string { return harness.Registry + "/" + repo }

type pullResult struct {
	once sync.Once
	res  *harness.Result
}

var pulls sync.Map // user name + " " + reference -> *pullResult

// pulled pulls Registry/repo once per user and test binary and returns the
// reference; every later caller fails the same way if that pull failed.
func pulled(t testing.TB, u *harness.User, repo string) string {
	t.Helper()
	return pulledRef(t, u, ref(repo))
}

// pulledRef is pulled for a full reference r.
func pulledRef(t testing.TB, u *harness.User, r string) string {
	t.Helper()
	needRootless(t, u)
	v, _ := pulls.LoadOrStore(u.Name+" "+r, &pullResult{})
	p := v.(*pullResult)
	p.once.Do(func() { p.res = harness.RunAs(t, u, "pull", r) })
	if p.res == nil || p.res.ExitCode != 0 {
		out := "(pull did not run)"
		if p.res != nil {
			out = p.res.Output()
		}
		t.Fatalf("cannot pull %s as %s, needed by this test:\n%s", r, u.Name, out)
	}
	return r
}

// busybox is the shared busybox image, pulled for the e2e user.
func busybox(t testing.TB) string {
	t.Helper()
	return pulled(t, harness.E2E, "busybox")
}

// runOut runs a busybox container (--rm) as the e2e user with extra run
// flags, then a command, expects exit 0 and returns stdout.
func runOut(t testing.TB, flags []string, cmd ...string) string {
	t.Helper()
	args := append([]string{"run", "--rm"}, flags...)
	args = append(args, busybox(t))
	args = append(args, cmd...)
	return skiff(t, args...).OK(t).Stdout
}

// imageInspect is the part of Docker's image inspect output the tests check.
type imageInspect struct {
	Id           string
	RepoTags     []string
	RepoDigests  []string
	Architecture string
	Variant      string
	Os           string
	Config       struct {
		Cmd          []string
		Entrypoint   []string
		Env          []string
		WorkingDir   string
		User         string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
	}
	RootFS struct {
		Type   string
		Layers []string
	}
}

// inspectImage runs `image inspect` (or another inspect command) and decodes
// the one-element JSON array.
func inspectImage(t testing.TB, u *harness.User, command []string, name string) imageInspect {
	t.Helper()
	args := append(append([]string{}, command...), name)
	r := harness.RunAs(t, u, args...).OK(t)
	var out []imageInspect
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%s: output is not a JSON array: %v\n%s", r.Cmdline(), err, r.Output())
	}
	if len(out) != 1 {
		t.Fatalf("%s: want 1 element, got %d\n%s", r.Cmdline(), len(out), r.Output())
	}
	return out[0]
}

// imageListed reports whether `images --format` shows repository:tag.
func imageListed(t testing.TB, u *harness.User, repoTag string) bool {
	t.Helper()
	r := harness.RunAs(t, u, "images", "--format", "{{.Repository}}:{{.Tag}}").OK(t)
	for _, l := range r.Lines() {
		if l == repoTag {
			return true
		}
	}
	return false
}

// imageIDs lists the full IDs `images --no-trunc -q` shows (with -a).
func imageIDs(t testing.TB, u *harness.User) []string {
	t.Helper()
	return harness.RunAs(t, u, "images", "-a", "-q", "--no-trunc").OK(t).Lines()
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

// procStatusField returns a field of /proc/self/status as printed by a
// container ("CapEff", "NoNewPrivs", ...).
func procStatusField(t testing.TB, status, field string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/self/status:\n%s", field, status)
	return ""
}

var hex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
