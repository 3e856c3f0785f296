package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// skiff system doctor: one line per check, a fix for each problem, exit
// status 1 exactly when a check fails, as each kind of user.

// doctorLines runs skiff system doctor as u and returns its check lines by
// name ("subuid" → "ok   subuid: …"), checking the line format and that
// the exit status agrees with the fail lines.
func doctorLines(t *testing.T, u *harness.User) map[string]string {
	t.Helper()
	r := harness.RunAs(t, u, "system", "doctor")
	line := regexp.MustCompile(`^(ok  |info|warn|fail|skip) ([a-z0-9_-]+): .+$`)
	checks := map[string]string{}
	failed := false
	lines := r.Lines()
	if len(lines) < 10 {
		t.Fatalf("%s: want a line per check\n%s", r.Cmdline(), r.Output())
	}
	for _, l := range lines[:len(lines)-1] { // the last line is the verdict
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("%s: line %q is not STATUS NAME: MESSAGE", r.Cmdline(), l)
			continue
		}
		checks[m[2]] = l
		if m[1] == "fail" {
			failed = true
			if !strings.Contains(l, " — fix: ") {
				t.Errorf("%s: a failed check without a fix: %q", r.Cmdline(), l)
			}
		}
	}
	if want := map[bool]int{false: 0, true: 1}[failed]; r.ExitCode != want {
		t.Errorf("%s: exit status %d, want %d (fail lines: %v)\n%s", r.Cmdline(), r.ExitCode, want, failed, r.Output())
	}
	return checks
}

// tunUsableBy reports whether the mode and owner of /dev/net/tun let u read
// and write it.
func tunUsableBy(t *testing.T, u *harness.User) bool {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/net/tun", &st); err != nil {
		return false
	}
	if u.IsRoot() {
		return true
	}
	bits := st.Mode & 0o7 // other
	switch {
	case int(st.Uid) == u.UID:
		bits = (st.Mode >> 6) & 0o7
	case int(st.Gid) == u.GID || slices.Contains(u.Groups, st.Gid):
		bits = (st.Mode >> 3) & 0o7
	}
	return bits&0o6 == 0o6
}

func TestDoctorRootless(t *testing.T) {
	parallel(t)
	u := harness.E2E
	checks := doctorLines(t, u)
	if l := checks["subuid"]; !strings.HasPrefix(l, "ok   subuid: "+u.Name+" has ") {
		t.Errorf("%s has subordinate uids: want an ok subuid line, got %q", u.Name, l)
	}
	want := "fail tun: "
	if tunUsableBy(t, u) {
		want = "ok   tun: "
	}
	if l := checks["tun"]; !strings.HasPrefix(l, want) {
		t.Errorf("tun: want %q…, got %q", want, l)
	} else if want == "fail tun: " && !strings.HasSuffix(l, "— fix: sudo chmod 0666 /dev/net/tun") {
		t.Errorf("tun: want the chmod fix, got %q", l)
	}
	for _, name := range []string{"subgid", "newuidmap", "newgidmap", "max_user_namespaces", "fuse", "cgroup", "runtime-dir", "store", "disk-space", "network", "ports"} {
		if checks[name] == "" {
			t.Errorf("no %s check in the report", name)
		}
	}
	// The harness runs skiff without XDG_RUNTIME_DIR.
	if l := checks["runtime-dir"]; !strings.HasPrefix(l, "warn runtime-dir: XDG_RUNTIME_DIR is not set") {
		t.Errorf("runtime-dir: %q", l)
	}
}

// subIDEntries reads every range of /etc/subuid and /etc/subgid.
func subIDEntries() [][2]int {
	var out [][2]int
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			p := strings.Split(s.Text(), ":")
			if len(p) != 3 {
				continue
			}
			start, err1 := strconv.Atoi(p[1])
			count, err2 := strconv.Atoi(p[2])
			if err1 == nil && err2 == nil {
				out = append(out, [2]int{start, count})
			}
		}
		f.Close()
	}
	return out
}

func TestDoctorNoSubordinateIDs(t *testing.T) {
	parallel(t)
	u := harness.NoSub
	checks := doctorLines(t, u)
	l := checks["subuid"]
	m := regexp.MustCompile(`^fail subuid: .* — fix: sudo usermod --add-subuids (\d+)-(\d+) .*` + regexp.QuoteMeta(u.Name)).FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("%s has no subordinate uids: want a fail line with a usermod fix, got %q", u.Name, l)
	}
	first, _ := strconv.Atoi(m[1])
	last, _ := strconv.Atoi(m[2])
	if first < 100000 || last-first+1 != 65536 {
		t.Errorf("suggested range %d-%d: want 65536 ids from 100000 on", first, last)
	}
	for _, e := range subIDEntries() {
		if first < e[0]+e[1] && e[0] <= last {
			t.Errorf("suggested range %d-%d overlaps the existing range %d-%d", first, last, e[0], e[0]+e[1]-1)
		}
	}
	// install.sh and the warning of every other command suggest the same range.
	rng := m[1] + "-" + m[2]
	out, err := exec.Command("bash", "-c", `eval "$(sed -n '/^free_range()/,/^}/p' ../../install.sh)" && free_range`).Output()
	if err != nil || strings.TrimSpace(string(out)) != rng {
		t.Errorf("install.sh's free_range says %q (%v), doctor %s", out, err, rng)
	}
	needRootless(t, u)
	r := harness.RunAs(t, u, "ps").OK(t)
	if !strings.Contains(r.Stderr, "--add-subuids "+rng+" --add-subgids "+rng+" "+u.Name) {
		t.Errorf("the warning does not suggest %s:\n%s", rng, r.Output())
	}
}

func TestDoctorRoot(t *testing.T) {
	parallel(t)
	checks := doctorLines(t, harness.Root)
	for _, name := range []string{"subuid", "subgid", "newuidmap", "newgidmap"} {
		if l := checks[name]; !strings.HasPrefix(l, "skip "+name+": running as root") {
			t.Errorf("as root, %s does not apply: got %q", name, l)
		}
	}
	if l := checks["tun"]; !strings.HasPrefix(l, "ok   tun:") {
		t.Errorf("root can use /dev/net/tun: %q", l)
	}
}

func TestDoctorJSON(t *testing.T) {
	parallel(t)
	for _, u := range []*harness.User{harness.E2E, harness.NoSub, harness.Root} {
		r := harness.RunAs(t, u, "system", "doctor", "--format", "json")
		var rep struct {
			User     string
			Rootless bool
			OK       bool
			Checks   []struct{ Name, Status, Message, Fix string }
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", r.Cmdline(), err, r.Output())
		}
		if rep.User != u.Name || rep.Rootless == u.IsRoot() || len(rep.Checks) < 10 {
			t.Errorf("%s: %+v", r.Cmdline(), rep)
		}
		if want := map[bool]int{true: 0, false: 1}[rep.OK]; r.ExitCode != want {
			t.Errorf("%s: OK %v but exit status %d", r.Cmdline(), rep.OK, r.ExitCode)
		}
		if u == harness.NoSub && rep.OK {
			t.Errorf("%s: OK without subordinate ids", r.Cmdline())
		}
	}
}

// TestDoctorFindsFaults makes faults for one run of doctor each and checks
// that it names them with their fix: no newuidmap/newgidmap on PATH, and a
// data directory the user cannot write.
func TestDoctorFindsFaults(t *testing.T) {
	parallel(t)
	u := harness.E2E
	run := func(env ...string) map[string]string {
		r := harness.RunAsWith(t, u, harness.RunOptions{Env: env}, "system", "doctor")
		checks := map[string]string{}
		for _, l := range r.Lines() {
			if name, _, ok := strings.Cut(strings.TrimSpace(l[min(5, len(l)):]), ":"); ok {
				checks[name] = l
			}
		}
		if r.ExitCode != 1 {
			t.Errorf("%s with %v: exit status %d, want 1 (a check fails)\n%s", r.Cmdline(), env, r.ExitCode, r.Output())
		}
		return checks
	}

	bin := sharedTempDir(t) // a PATH with everything doctor looks for but the id-map tools
	for _, tool := range []string{"slirp4netns", "pasta", "fuse-overlayfs", "tini"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, bin+"/"+tool); err != nil {
				t.Fatal(err)
			}
		}
	}
	checks := run("PATH=" + bin)
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		want := "fail " + tool + ": " + tool + " not found: subordinate ids cannot be mapped — fix: sudo apt-get install -y uidmap"
		if checks[tool] != want {
			t.Errorf("without %s on PATH:\n got %q\nwant %q", tool, checks[tool], want)
		}
	}

	ro := sharedTempDir(t) // root's: the user can enter it, not write in it
	checks = run("XDG_DATA_HOME=" + ro + "/data")
	if l := checks["store"]; !strings.HasPrefix(l, "fail store: "+ro+" is not writable by "+u.Name) ||
		!strings.HasSuffix(l, "— fix: sudo install -d -o "+u.Name+" "+ro+"/data/skiff") {
		t.Errorf("with XDG_DATA_HOME under root's %s: store line %q", ro, l)
	}
}

// sharedTempDir is a directory of root's that every user may enter and
// read (t.TempDir's parents are root's alone), removed after the test.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
