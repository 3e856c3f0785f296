package e2e

import (
	"os"
	"syscall"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestPullEvilLayers pulls images whose second layer tries to write outside
// the root filesystem (a ../ path, a file through an absolute symlink, a
// hard link to a host file). Nothing may change on the host, and the pull
// must fail with one error line naming the layer, leaving no image behind.
// Each case runs rootless and as root, all one after the other: they share
// the host paths.
func TestPullEvilLayers(t *testing.T) {
	parallel(t)
	for _, repo := range []string{"evil-dotdot", "evil-symlink", "evil-hardlink"} {
		t.Run(repo, func(t *testing.T) {
			for _, u := range []*harness.User{harness.E2E, harness.Root} {
				t.Run(u.Name, func(t *testing.T) { checkEvilPull(t, u, repo) })
			}
		})
	}
}

func checkEvilPull(t *testing.T, u *harness.User, repo string) {
	// The host side: a world-writable target directory and a file the user
	// owns, so that an unsafe extraction would really succeed.
	_ = os.Remove(harness.EvilDotdotPath)
	_ = os.RemoveAll(harness.EvilSymlinkDir)
	must(t, os.Mkdir(harness.EvilSymlinkDir, 0o777))
	must(t, os.Chmod(harness.EvilSymlinkDir, 0o777))
	_ = os.Remove(harness.EvilHardlinkTarget)
	harness.WriteUserFile(t, harness.E2E, harness.EvilHardlinkTarget, []byte("original\n"))
	t.Cleanup(func() {
		_ = os.Remove(harness.EvilDotdotPath)
		_ = os.RemoveAll(harness.EvilSymlinkDir)
		_ = os.Remove(harness.EvilHardlinkTarget)
	})

	r := harness.RunAs(t, u, "pull", ref(repo))

	if _, err := os.Lstat(harness.EvilDotdotPath); err == nil {
		t.Errorf("SECURITY: pulling %s as %s created %s on the host", repo, u.Name, harness.EvilDotdotPath)
	}
	if names := dirNames(harness.EvilSymlinkDir); len(names) != 0 {
		t.Errorf("SECURITY: pulling %s as %s wrote %v through the symlink", repo, u.Name, names)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(harness.EvilHardlinkTarget, &st))
	if st.Nlink != 1 {
		t.Errorf("SECURITY: pulling %s as %s hard-linked the host file %s into the image (nlink %d)", repo, u.Name, harness.EvilHardlinkTarget, st.Nlink)
	}
	if data, _ := os.ReadFile(harness.EvilHardlinkTarget); string(data) != "original\n" {
		t.Errorf("SECURITY: pulling %s as %s changed %s: %q", repo, u.Name, harness.EvilHardlinkTarget, data)
	}

	if r.ExitCode == 0 && repo == "evil-symlink" {
		// The lenient (still safe) behaviour would put the file inside the
		// root filesystem; the contract asks for the stricter refusal.
		in := harness.RunAs(t, u, "run", "--rm", "--pull", "never", ref(repo), "cat", harness.EvilSymlinkDir+"/pwned")
		t.Logf("evil-symlink was accepted; inside the container %s/pwned: exit %d %q", harness.EvilSymlinkDir, in.ExitCode, in.Stdout)
	}
	// Progress lines may come first (checked by TestPullProgressOnStdout).
	r.LastErrorLine(t, errExit, "layer")
	if imageListed(t, u, harness.Registry+"/"+repo+":latest") {
		t.Errorf("after the refused pull, images lists %s", ref(repo))
	}
}
