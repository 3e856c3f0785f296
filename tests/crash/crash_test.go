// Package crash kills skiff commands at each of their state-changing
// system calls and checks that no single kill leaves skiff in a state it
// cannot use or repair.
//
// For every operation (pull, build, commit, load, import, create, rm,
// volume create and rm, network create and rm, tag, rmi), strace runs
// the command and kills it with SIGKILL at the Nth rename, unlinkat or
// mkdirat, for N = 1, 2, … up to SKIFF_CRASH_POINTS (default 8), or until
// the command no longer reaches N. After each kill, `system check
// --repair --force` must succeed, a second `system check` must find
// nothing, images and ps must work, the operation done again (or undone)
// must work, and nothing may be listed twice. Each operation logs what
// it tried: kill points, kills, repairs.
//
// load_test.go races commands on the same objects (parallel builds, pulls
// and rmi -f, system prune and run): each may fail only with a clear
// conflict, and nothing may be left for system check.
//
// It is its own test binary so that no other test runs beside it: the
// repairs and prunes would take other tests' objects. It runs in make
// test; `make crash` runs it with more kill points.
package crash

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// stateCalls are the calls that change skiff's state on disk: every file
// skiff and the storage library write lands with a rename, directories
// come with mkdirat, removals go with unlinkat.
const stateCalls = "rename,renameat,renameat2,unlinkat,mkdirat"

func points() int {
	if n, err := strconv.Atoi(os.Getenv("SKIFF_CRASH_POINTS")); err == nil && n > 0 {
		return n
	}
	return 8
}

// op is one operation under test.
type op struct {
	name string
	// prepare makes what the command needs, before each kill.
	prepare func(t *testing.T)
	// command is what strace kills.
	command []string
	// finish does the operation again or undoes it, which must work
	// whatever the kill left, and leaves the state prepare expects.
	finish func(t *testing.T)
}

func TestCrashEveryOperation(t *testing.T) {
	u := harness.E2E
	s := func(t *testing.T, args ...string) *harness.Result { t.Helper(); return harness.RunAs(t, u, args...) }
	sfx := harness.UniqueSuffix()
	bb := harness.Images["busybox"].Ref
	s(t, "pull", "-q", bb).OK(t) // also makes the user's namespace: strace would wait for a pause process it started
	pullImg := harness.PushVariant(t, "crash-pull-"+sfx, "latest", "crash-pull-"+sfx).Ref

	work := harness.UserDir(t, u)
	ctxDir := filepath.Join(work, "ctx")
	must(t, os.MkdirAll(ctxDir, 0o755))
	harness.WriteUserFile(t, u, filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+bb+"\nRUN echo built > /built\nCOPY a /a\n"))
	harness.WriteUserFile(t, u, filepath.Join(ctxDir, "a"), []byte("a\n"))
	must(t, os.Chown(ctxDir, u.UID, u.GID))
	archive := filepath.Join(work, "bb.tar")
	s(t, "save", "-o", archive, bb).OK(t)
	s(t, "tag", bb, "crash-load:"+sfx).OK(t)
	s(t, "save", "-o", filepath.Join(work, "load.tar"), "crash-load:"+sfx).OK(t)
	s(t, "rmi", "crash-load:"+sfx).OK(t)
	rootfs := filepath.Join(work, "rootfs.tar")
	s(t, "export", "-o", rootfs, mustCreate(t, u, "crash-export-"+sfx, bb)).OK(t)
	s(t, "run", "--name", "crash-commit-"+sfx, bb, "sh", "-c", "echo changed > /changed").OK(t)

	name := func(what string) string { return "crash-" + what + "-" + sfx }
	gone := func(t *testing.T, args ...string) {
		t.Helper()
		r := s(t, args...)
		if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") && !strings.Contains(r.Stderr, "not found") && !strings.Contains(r.Stderr, "not known") {
			t.Fatalf("%s: want success or a not-found error\n%s", r.Cmdline(), r.Output())
		}
	}
	ops := []op{
		{name: "pull", command: []string{"pull", "-q", pullImg},
			finish: func(t *testing.T) {
				s(t, "pull", "-q", pullImg).OK(t)
				s(t, "run", "--rm", pullImg, "true").OK(t)
				s(t, "rmi", "-f", pullImg).OK(t)
			}},
		{name: "build", command: []string{"build", "-q", "--no-cache", "-t", name("build"), ctxDir},
			finish: func(t *testing.T) {
				s(t, "build", "-q", "-t", name("build"), ctxDir).OK(t)
				s(t, "run", "--rm", name("build"), "cat", "/built", "/a").OK(t).StdoutIs(t, "built\na\n")
				s(t, "rmi", "-f", name("build")).OK(t)
				s(t, "builder", "prune", "-f").OK(t)
			}},
		{name: "commit", command: []string{"commit", "crash-commit-" + sfx, name("commit")},
			finish: func(t *testing.T) {
				s(t, "commit", "crash-commit-"+sfx, name("commit")).OK(t)
				s(t, "run", "--rm", name("commit"), "cat", "/changed").OK(t).StdoutIs(t, "changed\n")
				s(t, "rmi", "-f", name("commit")).OK(t)
			}},
		{name: "load", command: []string{"load", "-q", "-i", filepath.Join(work, "load.tar")},
			finish: func(t *testing.T) {
				s(t, "load", "-q", "-i", filepath.Join(work, "load.tar")).OK(t)
				s(t, "run", "--rm", "crash-load:"+sfx, "true").OK(t)
				s(t, "rmi", "crash-load:"+sfx).OK(t)
			}},
		{name: "import", command: []string{"import", rootfs, name("import")},
			finish: func(t *testing.T) {
				s(t, "import", rootfs, name("import")).OK(t)
				s(t, "run", "--rm", name("import"), "/bin/true").OK(t)
				s(t, "rmi", "-f", name("import")).OK(t)
				s(t, "image", "prune", "-f").OK(t)
			}},
		{name: "create", command: []string{"create", "--name", name("create"), bb, "true"},
			finish: func(t *testing.T) {
				gone(t, "rm", "-f", name("create"))
				s(t, "create", "--name", name("create"), bb, "true").OK(t)
				s(t, "start", "-a", name("create")).OK(t)
				s(t, "rm", name("create")).OK(t)
			}},
		{name: "rm", prepare: func(t *testing.T) { s(t, "run", "-d", "--name", name("rm"), bb, "sleep", "300").OK(t) },
			command: []string{"rm", "-f", name("rm")},
			finish: func(t *testing.T) {
				gone(t, "rm", "-f", name("rm"))
				if got := s(t, "ps", "-aq", "--filter", "name="+name("rm")).OK(t).Lines(); len(got) != 0 {
					t.Fatalf("rm -f left %v", got)
				}
			}},
		{name: "volume create", command: []string{"volume", "create", name("vol")},
			finish: func(t *testing.T) {
				gone(t, "volume", "rm", name("vol"))
				s(t, "volume", "create", name("vol")).OK(t)
				s(t, "run", "--rm", "-v", name("vol")+":/v", bb, "touch", "/v/x").OK(t)
				s(t, "volume", "rm", name("vol")).OK(t)
			}},
		{name: "volume rm", prepare: func(t *testing.T) { s(t, "volume", "create", name("volrm")).OK(t) },
			command: []string{"volume", "rm", name("volrm")},
			finish: func(t *testing.T) {
				gone(t, "volume", "rm", name("volrm"))
				s(t, "volume", "create", name("volrm")).OK(t)
				s(t, "volume", "rm", name("volrm")).OK(t)
			}},
		{name: "network create", command: []string{"network", "create", name("net")},
			finish: func(t *testing.T) {
				gone(t, "network", "rm", name("net"))
				s(t, "network", "create", name("net")).OK(t)
				s(t, "run", "--rm", "--network", name("net"), bb, "true").OK(t)
				s(t, "network", "rm", name("net")).OK(t)
			}},
		{name: "network rm", prepare: func(t *testing.T) { s(t, "network", "create", name("netrm")).OK(t) },
			command: []string{"network", "rm", name("netrm")},
			finish: func(t *testing.T) {
				gone(t, "network", "rm", name("netrm"))
				s(t, "network", "create", name("netrm")).OK(t)
				s(t, "network", "rm", name("netrm")).OK(t)
			}},
		{name: "tag", command: []string{"tag", bb, name("tag")},
			finish: func(t *testing.T) {
				s(t, "tag", bb, name("tag")).OK(t)
				s(t, "rmi", name("tag")).OK(t)
				s(t, "run", "--rm", bb, "true").OK(t)
			}},
		{name: "rmi", prepare: func(t *testing.T) { s(t, "tag", bb, name("rmi")).OK(t) },
			command: []string{"rmi", name("rmi")},
			finish: func(t *testing.T) {
				gone(t, "rmi", name("rmi"))
				s(t, "run", "--rm", bb, "true").OK(t)
			}},
	}
	var summary []string
	for _, o := range ops {
		t.Run(strings.ReplaceAll(o.name, " ", "-"), func(t *testing.T) {
			tried, kills, repairs := 0, 0, 0
			for n, clean := 1, 0; n <= points() && clean < 3; n++ {
				if o.prepare != nil {
					o.prepare(t)
				}
				tried++
				if killedAt(t, u, n, o.command...) {
					kills++
					clean = 0
				} else {
					clean++ // the command finished before its Nth call
				}
				repairs += checkAndRepair(t, u, fmt.Sprintf("%s killed at call %d", o.name, n))
				s(t, "images").OK(t)
				s(t, "ps", "-a").OK(t)
				o.finish(t)
				noDuplicates(t, u)
			}
			line := fmt.Sprintf("%-15s kill points tried %2d, killed %2d, problems repaired %2d, states lost 0", o.name, tried, kills, repairs)
			t.Log(line)
			summary = append(summary, line)
			if kills == 0 {
				t.Errorf("no kill landed: the test does not reach %s's state changes", o.name)
			}
		})
	}
	fmt.Println("crash injection (kill at the Nth of " + stateCalls + "):\n  " + strings.Join(summary, "\n  "))
}

// killedAt runs skiff as u under strace, killed at the nth state call; it
// reports whether the kill landed.
func killedAt(t *testing.T, u *harness.User, n int, args ...string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := harness.Command(u, args...)
	// strace runs as root, so that it keeps tracing across the user
	// namespace skiff joins, and starts skiff as u with u's environment.
	cmd := exec.CommandContext(ctx, "strace", append([]string{"-f", "-qq", "-o", "/dev/null", "-u", u.Name,
		"-e", "trace=" + stateCalls, "-e", "inject=" + stateCalls + ":signal=KILL:when=" + strconv.Itoa(n), harness.Binary}, args...)...)
	cmd.Env, cmd.Dir = base.Env, base.Dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("skiff %s under strace (kill at call %d) hung:\n%s", strings.Join(args, " "), n, out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	return false
}

// checkAndRepair runs system check --repair --force, which must repair
// all it finds, then system check, which must find nothing; it returns
// how many problems were repaired.
func checkAndRepair(t *testing.T, u *harness.User, after string) int {
	t.Helper()
	r := harness.RunAs(t, u, "system", "check", "--repair", "--force", "--quick")
	if r.ExitCode != 0 {
		t.Fatalf("after %s: system check --repair left problems\n%s", after, r.Output())
	}
	repaired := 0
	for _, l := range r.Lines() {
		if strings.Contains(l, ": repaired: ") {
			repaired++
		}
	}
	r2 := harness.RunAs(t, u, "system", "check", "--quick")
	if r2.ExitCode != 0 || r2.Stdout != "No problems found\n" {
		t.Fatalf("after %s and a repair: system check still finds problems\nrepair:\n%s\ncheck:\n%s", after, r.Output(), r2.Output())
	}
	return repaired
}

// noDuplicates fails when a container, image name, volume or network is
// listed twice.
func noDuplicates(t *testing.T, u *harness.User) {
	t.Helper()
	for _, args := range [][]string{
		{"ps", "-a", "--format", "{{.Names}}"},
		{"images", "--format", "{{.Repository}}:{{.Tag}}"},
		{"volume", "ls", "-q"},
		{"network", "ls", "--format", "{{.Name}}"},
	} {
		seen := map[string]bool{}
		for _, l := range harness.RunAs(t, u, args...).OK(t).Lines() {
			if l != "<none>:<none>" && seen[l] {
				t.Fatalf("%s lists %s twice", strings.Join(args, " "), l)
			}
			seen[l] = true
		}
	}
}

// mustCreate creates a stopped container for export and returns its name.
func mustCreate(t *testing.T, u *harness.User, name, image string) string {
	t.Helper()
	harness.RunAs(t, u, "create", "--name", name, image, "true").OK(t)
	return name
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// system check names what it finds, exits 1 while problems are left, and
// --repair leaves a state every command can use.
func TestSystemCheckRepairs(t *testing.T) {
	u := harness.E2E
	s := func(t *testing.T, args ...string) *harness.Result { t.Helper(); return harness.RunAs(t, u, args...) }
	bb := harness.Images["busybox"].Ref
	s(t, "pull", "-q", bb).OK(t)
	s(t, "system", "check", "--repair", "--force").OK(t)
	s(t, "system", "check").OK(t).StdoutIs(t, "No problems found\n")

	// A container whose supervisor was killed is dead; repaired, it is
	// exited, and starts again.
	name := "check-dead-" + harness.UniqueSuffix()
	id := strings.TrimSpace(s(t, "run", "-d", "--name", name, bb, "sleep", "300").OK(t).Stdout)
	sup := supervisorOf(t, id)
	must(t, syscall.Kill(sup, syscall.SIGKILL))
	waitFor(t, func() bool {
		return strings.TrimSpace(s(t, "inspect", "-f", "{{.State.Status}}", name).OK(t).Stdout) == "dead"
	})
	r := s(t, "system", "check")
	if r.ExitCode != 1 || !strings.Contains(r.Stdout, name) || !strings.Contains(r.Stdout, "supervisor is gone") || !strings.Contains(r.Stdout, "--repair") {
		t.Fatalf("system check with a dead container: want it named, exit 1 and the way to repair\n%s", r.Output())
	}
	r = s(t, "system", "check", "--repair").OK(t)
	if !strings.Contains(r.Stdout, "repaired") {
		t.Errorf("--repair did not say what it did\n%s", r.Output())
	}
	s(t, "system", "check").OK(t).StdoutIs(t, "No problems found\n")
	s(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).OK(t).StdoutIs(t, "exited 137\n")
	s(t, "start", name).OK(t)
	s(t, "rm", "-f", name).OK(t)

	// A supervisor whose container record is gone is stopped.
	name2 := "check-orphan-" + harness.UniqueSuffix()
	id2 := strings.TrimSpace(s(t, "run", "-d", "--name", name2, bb, "sleep", "300").OK(t).Stdout)
	sup2 := supervisorOf(t, id2)
	must(t, os.RemoveAll(filepath.Join(u.DataDir(), "containers", id2)))
	r = s(t, "system", "check", "--repair", "--force")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("supervisor %d", sup2)) {
		t.Fatalf("system check --repair with an orphaned supervisor\n%s", r.Output())
	}
	waitFor(t, func() bool { return syscall.Kill(sup2, 0) != nil })
	s(t, "system", "check").OK(t).StdoutIs(t, "No problems found\n")
	s(t, "run", "--rm", bb, "true").OK(t)
}

// supervisorOf is the pid of container id's supervisor.
func supervisorOf(t *testing.T, id string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) >= 3 && args[1] == "__supervise" && args[2] == id {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	t.Fatalf("no supervisor for container %s", id)
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
