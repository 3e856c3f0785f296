package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// Crafted tar streams given to `import` and to `cp -` must not write
// outside where they belong: import refuses them (exit 1, no image);
// cp extracts chrooted into the container, so nothing reaches the host.

func evilTar(t *testing.T, hostDir string) map[string][]byte {
	t.Helper()
	up := strings.Repeat("../", 24)
	mk := func(hdrs ...*tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hdrs {
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len("pwned\n"))
			}
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			must(t, tw.WriteHeader(h))
			if h.Typeflag == tar.TypeReg {
				_, err := tw.Write([]byte("pwned\n"))
				must(t, err)
			}
		}
		must(t, tw.Close())
		return b.Bytes()
	}
	rel := strings.TrimPrefix(hostDir, "/")
	return map[string][]byte{
		"dotdot":   mk(&tar.Header{Name: up + rel + "/dotdot", Typeflag: tar.TypeReg}),
		"symlink":  mk(&tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: hostDir}, &tar.Header{Name: "escape/through-link", Typeflag: tar.TypeReg}),
		"hardlink": mk(&tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: up + rel + "/target"}),
	}
}

func TestImportRefusesEscapingArchives(t *testing.T) {
	parallel(t)
	hostDir := filepath.Join(os.TempDir(), "skiff-evil-import-"+harness.UniqueSuffix())
	must(t, os.Mkdir(hostDir, 0o777))
	must(t, os.Chmod(hostDir, 0o777))
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	must(t, os.WriteFile(filepath.Join(hostDir, "target"), []byte("original\n"), 0o644))
	dir := harness.UserDir(t, harness.E2E)
	for name, data := range evilTar(t, hostDir) {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, "evil-import-"+name+".tar")
			harness.WriteUserFile(t, harness.E2E, file, data)
			tag := "evil-import-" + name + ":" + harness.UniqueSuffix()
			skiff(t, "import", file, tag).ErrorLine(t, errExit)
			if out := skiff(t, "images", "-q", tag).OK(t).Stdout; strings.TrimSpace(out) != "" {
				t.Errorf("a refused import left an image: %q", out)
			}
		})
	}
	entries, _ := os.ReadDir(hostDir)
	if len(entries) != 1 {
		t.Errorf("host directory %s gained files: %v", hostDir, entries)
	}
	if b, _ := os.ReadFile(filepath.Join(hostDir, "target")); string(b) != "original\n" {
		t.Errorf("host file changed: %q", b)
	}
}

func TestCpStreamStaysInContainer(t *testing.T) {
	parallel(t)
	hostDir := filepath.Join(os.TempDir(), "skiff-evil-cp-"+harness.UniqueSuffix())
	must(t, os.Mkdir(hostDir, 0o777))
	must(t, os.Chmod(hostDir, 0o777))
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	must(t, os.WriteFile(filepath.Join(hostDir, "target"), []byte("original\n"), 0o644))
	name := lcName("evil-cp")
	runDetached(t, name, nil, "sleep", "300")
	for kind, data := range evilTar(t, hostDir) {
		r := skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(data)}, "cp", "-", name+":/tmp")
		if r.ExitCode != 0 && r.ExitCode != errExit {
			t.Errorf("cp - of the %s stream: exit %d, want 0 (kept inside) or 1 (refused)\n%s", kind, r.ExitCode, r.Output())
		}
	}
	entries, _ := os.ReadDir(hostDir)
	if len(entries) != 1 {
		t.Errorf("host directory %s gained files through cp: %v", hostDir, entries)
	}
	if b, _ := os.ReadFile(filepath.Join(hostDir, "target")); string(b) != "original\n" {
		t.Errorf("host file changed through cp: %q", b)
	}
}
