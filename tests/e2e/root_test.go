package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// The root-mode subset: the same binary run by root keeps its store in
// /var/lib/skiff and uses no user namespace.

func TestRootPullRun(t *testing.T) {
	parallel(t)
	rootHomeStore := filepath.Join(harness.Root.Home, ".local", "share", "skiff")
	_, homeStoreErr := os.Stat(rootHomeStore)

	bb := pulled(t, harness.Root, "busybox")
	harness.RunAsRoot(t, "run", "--rm", bb, "echo", "hello").OK(t).StdoutIs(t, "hello\n")
	harness.RunAsRoot(t, "run", "--rm", bb, "sh", "-c", "exit 3").Exit(t, 3)
	harness.RunAsRoot(t, "run", "--rm", bb, "nosuchcmd").ErrorLine(t, 127, "nosuchcmd")
	harness.RunAsRoot(t, "run", "--rm", bb, "/etc/passwd").ErrorLine(t, 126, "/etc/passwd")
	harness.RunAsRoot(t, "run", "--rm", "--pull", "never", ref("nosuchimage")).ErrorLine(t, runExit, "nosuchimage")

	// The store is /var/lib/skiff, not root's home.
	if entries, err := os.ReadDir(harness.Root.DataDir()); err != nil || len(entries) == 0 {
		t.Errorf("root mode should keep its store in %s: %v", harness.Root.DataDir(), err)
	}
	if _, err := os.Stat(rootHomeStore); err == nil && homeStoreErr != nil {
		t.Errorf("root mode created %s", rootHomeStore)
	}
	// No user namespace: the identity map, and image owners unchanged on disk.
	out := harness.RunAsRoot(t, "run", "--rm", bb, "cat", "/proc/self/uid_map").OK(t).Stdout
	if got := idMap(t, out); len(got) != 1 || got[0] != [3]int{0, 0, 4294967295} {
		t.Errorf("root mode uid_map %v, want the initial namespace's 0 0 4294967295", got)
	}
	// The image's own layers: other tests' builds, pulls and containers
	// come and go in the same store meanwhile.
	owned := imageLayerPaths(t, harness.Root, bb, findInStore(harness.Root.DataDir(), "/etc/owned-by-1000"))
	if len(owned) == 0 {
		t.Errorf("no etc/owned-by-1000 in %s's layers under %s", bb, harness.Root.DataDir())
	}
	for _, p := range owned {
		var st syscall.Stat_t
		must(t, syscall.Lstat(p, &st))
		if st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("root mode: %s owned by %d:%d, want 1000:1000", p, st.Uid, st.Gid)
		}
	}
	// The rootless user does not see root's images, nor root the user's.
	pi := harness.PushVariant(t, "root-only", "latest", "root-only")
	harness.RunAsRoot(t, "pull", ref("root-only")).OK(t)
	if imageListed(t, harness.E2E, pi.Ref) {
		t.Errorf("an image pulled by root shows in the rootless user's store")
	}
}

func TestRootCapabilitiesAndNamespaces(t *testing.T) {
	parallel(t)
	bb := pulled(t, harness.Root, "busybox")
	s := harness.RunAsRoot(t, "run", "--rm", bb, "cat", "/proc/self/status").OK(t).Stdout
	if got := procStatusField(t, s, "CapEff"); got != capHex(capMask(dockerDefaultCaps...)) {
		t.Errorf("root mode CapEff %s, want Docker's default %s", got, capHex(capMask(dockerDefaultCaps...)))
	}
	out := harness.RunAsRoot(t, "run", "--rm", bb, "readlink", "/proc/self/ns/user").OK(t).Stdout
	host, err := os.Readlink("/proc/self/ns/user")
	must(t, err)
	if out != host+"\n" {
		t.Errorf("root mode runs in user namespace %q, want the host's %q", out, host)
	}
}
