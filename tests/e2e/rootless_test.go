package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// idMap parses /proc/PID/uid_map content into rows of three numbers.
func idMap(t *testing.T, s string) [][3]int {
	t.Helper()
	var rows [][3]int
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		var r [3]int
		if _, err := fmt.Sscan(l, &r[0], &r[1], &r[2]); err != nil {
			t.Fatalf("bad id map line %q: %v", l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// findInStore returns host paths under dir ending in suffix.
func findInStore(dir, suffix string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// imageLayerPaths keeps the paths in the layers of image (its top layer
// and its parents, as the store lists them): other tests' builds and
// keep-id containers make layers of their own holding the same files.
func imageLayerPaths(t *testing.T, u *harness.User, image string, paths []string) []string {
	t.Helper()
	store := filepath.Join(u.DataDir(), "storage")
	read := func(file string, v any) {
		data, err := os.ReadFile(filepath.Join(store, file))
		if err != nil {
			t.Fatal(err)
		}
		must(t, json.Unmarshal(data, v))
	}
	var images []struct {
		Names []string `json:"names"`
		Layer string   `json:"layer"`
	}
	var layers []struct {
		ID     string `json:"id"`
		Parent string `json:"parent"`
	}
	read("overlay-images/images.json", &images)
	read("overlay-layers/layers.json", &layers)
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	mine := map[string]bool{}
	for _, img := range images {
		if slices.Contains(img.Names, image) || slices.Contains(img.Names, image+":latest") {
			for id := img.Layer; id != ""; id = parent[id] {
				mine[id] = true
			}
		}
	}
	if len(mine) == 0 {
		t.Fatalf("no image named %s in %s", image, store)
	}
	var out []string
	for _, p := range paths {
		layer, rest, _ := strings.Cut(strings.TrimPrefix(p, filepath.Join(store, "overlay")+"/"), "/")
		if strings.HasPrefix(rest, "diff/") && mine[layer] {
			out = append(out, p)
		}
	}
	return out
}

func TestRootlessFileOwnership(t *testing.T) {
	parallel(t)
	u := harness.E2E
	runOut(t, nil, "true")
	out := runOut(t, nil, "stat", "-c", "%u:%g", "/etc/owned-by-1000", "/home/app", "/etc/passwd")
	if out != "1000:1000\n1000:1000\n0:0\n" {
		t.Errorf("image ownership inside the container: %q, want 1000:1000 for the app files and 0:0 for /etc/passwd", out)
	}
	// On the host the files belong to the user's subordinate ids:
	// container uid 1000 is subuid start + 999.
	paths := imageLayerPaths(t, u, busybox(t), findInStore(u.DataDir(), "/etc/owned-by-1000"))
	if len(paths) == 0 {
		t.Fatalf("no etc/owned-by-1000 under %s", u.DataDir())
	}
	want := u.SubUID.Start + 999
	for _, p := range paths {
		var st syscall.Stat_t
		must(t, syscall.Lstat(p, &st))
		if int(st.Uid) != want || int(st.Gid) != u.SubGID.Start+999 {
			t.Errorf("%s is owned by %d:%d on the host, want %d:%d", p, st.Uid, st.Gid, want, u.SubGID.Start+999)
		}
	}
}

func TestRootlessNativeOverlay(t *testing.T) {
	parallel(t)
	// The kernel's overlay works rootless here: the root filesystem must not
	// fall back to fuse-overlayfs or a copying driver.
	out := runOut(t, nil, "awk", `$2=="/"{print $3}`, "/proc/mounts")
	if out != "overlay\n" {
		t.Errorf("the container's / is mounted as %q, want the kernel's overlay", out)
	}
}

func TestRootlessIDMaps(t *testing.T) {
	parallel(t)
	u := harness.E2E
	out := runOut(t, nil, "sh", "-c", "cat /proc/self/uid_map; echo ===; cat /proc/self/gid_map")
	uidMap, gidMap, _ := strings.Cut(out, "===\n")
	wantUID := [][3]int{{0, u.UID, 1}, {1, u.SubUID.Start, u.SubUID.Count}}
	wantGID := [][3]int{{0, u.GID, 1}, {1, u.SubGID.Start, u.SubGID.Count}}
	if got := idMap(t, uidMap); fmt.Sprint(got) != fmt.Sprint(wantUID) {
		t.Errorf("uid_map %v, want %v (0 -> the user, 1.. -> /etc/subuid)", got, wantUID)
	}
	if got := idMap(t, gidMap); fmt.Sprint(got) != fmt.Sprint(wantGID) {
		t.Errorf("gid_map %v, want %v", got, wantGID)
	}
}

func TestRootlessSharedUserNamespace(t *testing.T) {
	parallel(t)
	u := harness.E2E
	first := runOut(t, nil, "readlink", "/proc/self/ns/user")
	second := runOut(t, nil, "readlink", "/proc/self/ns/user")
	if first != second {
		t.Errorf("two runs used different user namespaces: %q and %q", first, second)
	}
	pid, err := harness.PausePID(u)
	if err != nil {
		t.Fatal(err)
	}
	pauseNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	must(t, err)
	if strings.TrimSpace(first) != pauseNS {
		t.Errorf("containers run in user namespace %q, the pause process (pid %d) keeps %q", first, pid, pauseNS)
	}
	// Non-run commands work in the same namespace too: the store is only opened there.
	skiff(t, "images", "-q").OK(t)
}

// waitGone waits up to 10s for pid to exit.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; i < 200 && harness.ProcessAlive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if harness.ProcessAlive(pid) {
		now, err := harness.PausePID(harness.E2E)
		t.Fatalf("%s: the pause process %d is still alive 10s later (pid file now: %d %v)", what, pid, now, err)
	}
}

// TestRootlessPauseKilled is not parallel: it kills the namespace every
// other rootless test uses.
func TestRootlessPauseKilled(t *testing.T) {
	harness.Need(t)
	u := harness.E2E
	before := runOut(t, nil, "readlink", "/proc/self/ns/user")
	pid, err := harness.PausePID(u)
	if err != nil {
		t.Fatal(err)
	}
	must(t, syscall.Kill(pid, syscall.SIGKILL))
	waitGone(t, pid, "SIGKILL")
	// The next invocation notices the stale pid file and starts over.
	after := runOut(t, nil, "readlink", "/proc/self/ns/user")
	if after == before {
		t.Errorf("the user namespace %q survived its pause process", after)
	}
	newPid, err := harness.PausePID(u)
	if err != nil {
		t.Fatal(err)
	}
	if newPid == pid || !harness.ProcessAlive(newPid) {
		t.Errorf("no new pause process: pid file says %d (old %d)", newPid, pid)
	}
	// Images pulled before are still there.
	runOut(t, nil, "echo", "still-works")
}

// TestRootlessSystemMigrate is not parallel, like TestRootlessPauseKilled.
func TestRootlessSystemMigrate(t *testing.T) {
	harness.Need(t)
	u := harness.E2E
	before := runOut(t, nil, "readlink", "/proc/self/ns/user")
	pid, err := harness.PausePID(u)
	if err != nil {
		t.Fatal(err)
	}
	skiff(t, "system", "migrate").OK(t)
	waitGone(t, pid, "after skiff system migrate")
	after := runOut(t, nil, "readlink", "/proc/self/ns/user")
	if after == before {
		t.Errorf("system migrate kept the user namespace %q", after)
	}
}

func TestRootlessWithoutSubordinateIDs(t *testing.T) {
	parallel(t)
	u := harness.NoSub
	// The first command creates the namespace and warns, once, on stderr.
	r := harness.RunAs(t, u, "pull", ref("busybox")).OK(t)
	var warnings []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if strings.Contains(l, "/etc/subuid") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "usermod") || !strings.Contains(warnings[0], u.Name) {
		t.Errorf("want one warning line naming /etc/subuid, the user and the usermod command to fix it\n%s", r.Output())
	}
	// Every file of the image shows as root's: only one id is mapped.
	r = harness.RunAs(t, u, "run", "--rm", ref("busybox"), "sh", "-c", "stat -c %u:%g /etc/owned-by-1000 /home/app; cat /proc/self/uid_map").OK(t)
	lines := strings.SplitN(r.Stdout, "\n", 3)
	if len(lines) < 3 || lines[0] != "0:0" || lines[1] != "0:0" {
		t.Errorf("without subordinate ids files should show as 0:0\n%s", r.Output())
	} else if got := idMap(t, lines[2]); fmt.Sprint(got) != fmt.Sprint([][3]int{{0, u.UID, 1}}) {
		t.Errorf("uid_map %v, want only 0 -> %d", got, u.UID)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if l != "" && !strings.Contains(l, "/etc/subuid") {
			t.Errorf("unexpected stderr line %q", l)
		}
	}
}
