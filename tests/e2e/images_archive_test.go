package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiff-project/skiff/tests/harness"
)

// checkSavedImage opens a docker-archive with go-containerregistry (the
// reader Docker-compatible tools use) and checks every layer against the
// config's diff IDs.
func checkSavedImage(t *testing.T, img v1.Image, want *harness.Image) {
	t.Helper()
	if _, err := img.ConfigFile(); err != nil {
		t.Errorf("the saved image's config: %v", err)
	}
	id, err := img.ConfigName()
	must(t, err)
	if id.String() != want.ID {
		t.Errorf("saved config digest %s, want the image ID %s", id, want.ID)
	}
	layers, err := img.Layers()
	must(t, err)
	var got []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		must(t, err)
		got = append(got, "sha256:"+hex.EncodeToString(h.Sum(nil)))
	}
	if !slices.Equal(got, want.DiffIDs) {
		t.Errorf("saved layers hash to %v, want the diff IDs %v", got, want.DiffIDs)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "archive-rt", "latest", "archive-rt")
	skiff(t, "pull", ref("archive-rt")).OK(t)
	skiff(t, "tag", ref("archive-rt"), "archive-rt-local:v2").OK(t)
	dir := harness.UserDir(t, harness.E2E)
	file := filepath.Join(dir, "rt.tar")

	skiff(t, "save", "-o", file, ref("archive-rt"), "archive-rt-local:v2").OK(t).StdoutIs(t, "")
	ggImg, err := tarball.ImageFromPath(file, nil)
	must(t, err)
	checkSavedImage(t, ggImg, pi)
	data, err := os.ReadFile(file)
	must(t, err)
	names := tarNames(t, data)
	for _, n := range []string{"manifest.json", "repositories", strings.TrimPrefix(pi.ID, "sha256:") + ".json"} {
		if !contains(names, n) {
			t.Errorf("docker-archive lacks %s: %v", n, names)
		}
	}

	skiff(t, "rmi", "-f", pi.ShortID()).OK(t)
	r := skiff(t, "load", "-i", file).OK(t)
	for _, want := range []string{"Loaded image: " + pi.Ref, "Loaded image: archive-rt-local:v2"} {
		if !contains(r.Lines(), want) {
			t.Errorf("load should print %q\n%s", want, r.Output())
		}
	}
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, "archive-rt-local:v2")
	if img.Id != pi.ID || !slices.Equal(img.RootFS.Layers, pi.DiffIDs) {
		t.Errorf("loaded image %s layers %v, want %s %v", img.Id, img.RootFS.Layers, pi.ID, pi.DiffIDs)
	}
	skiff(t, "run", "--rm", "--pull", "never", ref("archive-rt"), "cat", "/variant").OK(t).StdoutIs(t, "archive-rt\n")

	// Through a pipe: save to stdout, load from stdin (compressed too).
	out := skiff(t, "save", "archive-rt-local:v2").OK(t)
	skiff(t, "rmi", "-f", pi.ShortID()).OK(t)
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader(out.Stdout)}, "load").OK(t).StdoutIs(t, "Loaded image: archive-rt-local:v2\n")
	skiff(t, "run", "--rm", "--pull", "never", "archive-rt-local:v2", "cat", "/variant").OK(t).StdoutIs(t, "archive-rt\n")

	// By ID the image is saved without a name and loads as an ID.
	byID := skiff(t, "save", pi.ShortID()).OK(t)
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader(byID.Stdout)}, "image", "load", "-q").OK(t).StdoutIs(t, "Loaded image ID: "+pi.ID+"\n")
}

func TestSaveOCIRoundTrip(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "archive-oci", "latest", "archive-oci")
	skiff(t, "pull", ref("archive-oci")).OK(t)
	dir := harness.UserDir(t, harness.E2E)

	for _, format := range []string{"oci-archive", "oci-dir"} {
		t.Run(format, func(t *testing.T) {
			target := filepath.Join(dir, format)
			skiff(t, "save", "--format", format, "-o", target, ref("archive-oci")).OK(t)
			layoutDir := target
			if format == "oci-archive" {
				layoutDir = filepath.Join(dir, "extracted-"+format)
				data, err := os.ReadFile(target)
				must(t, err)
				untar(t, data, layoutDir)
			}
			p, err := layout.FromPath(layoutDir)
			must(t, err)
			idx, err := p.ImageIndex()
			must(t, err)
			m, err := idx.IndexManifest()
			must(t, err)
			if len(m.Manifests) != 1 || m.Manifests[0].Annotations["io.containerd.image.name"] != pi.Ref {
				t.Fatalf("index.json manifests %+v, want one named %s", m.Manifests, pi.Ref)
			}
			img, err := idx.Image(m.Manifests[0].Digest)
			must(t, err)
			checkSavedImage(t, img, pi)

			skiff(t, "rmi", "-f", pi.ShortID()).OK(t)
			skiff(t, "load", "-i", target).OK(t).StdoutIs(t, "Loaded image: "+pi.Ref+"\n")
			skiff(t, "run", "--rm", "--pull", "never", ref("archive-oci"), "cat", "/variant").OK(t).StdoutIs(t, "archive-oci\n")
		})
	}
	// oci-dir refuses a directory that is not empty, and changes nothing.
	skiff(t, "save", "--format", "oci-dir", "-o", filepath.Join(dir, "oci-dir"), ref("archive-oci")).ErrorLine(t, errExit, "oci-dir", "not empty")
	skiff(t, "save", "--format", "oci-dir", ref("archive-oci")).ErrorLine(t, errExit, "-o")
	skiff(t, "save", "--format", "zip", ref("archive-oci")).ErrorLine(t, errExit, "zip")
}

func TestSaveErrors(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := harness.UserDir(t, harness.E2E)
	file := filepath.Join(dir, "never.tar")
	skiff(t, "save", "-o", file, bb, ref("nosuchimage")).ErrorLine(t, errExit, "nosuchimage")
	if _, err := os.Stat(file); err == nil {
		t.Errorf("a failed save left %s behind", file)
	}
	skiff(t, "save").ErrorLine(t, errExit, "save")
	out, code := runInPty(t, harness.E2E, 24, 80, "", "save", bb)
	if code != errExit || !strings.Contains(out, "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect") {
		t.Errorf("save to a terminal: exit %d, output %q; want 1 and Docker's refusal", code, out)
	}
	out, code = runInPty(t, harness.E2E, 24, 80, "", "export", "nosuchcontainer")
	if code != errExit || !strings.Contains(out, "cowardly refusing") {
		t.Errorf("export to a terminal: exit %d, output %q; want 1 and Docker's refusal", code, out)
	}
}

func TestExportImport(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := "export-" + harness.UniqueSuffix()
	skiff(t, "run", "--name", name, bb, "sh", "-c", "echo exported > /exported-file; rm /etc/owned-by-1000").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", name) })
	dir := harness.UserDir(t, harness.E2E)
	file := filepath.Join(dir, "fs.tar")
	skiff(t, "export", "-o", file, name).OK(t)
	data, err := os.ReadFile(file)
	must(t, err)
	names := tarNames(t, data)
	if !contains(names, "exported-file") || !contains(names, "bin/busybox") || contains(names, "etc/owned-by-1000") {
		t.Errorf("export has %d entries; want exported-file and bin/busybox, without the deleted etc/owned-by-1000", len(names))
	}
	img := "exported-" + harness.UniqueSuffix() + ":v1"
	skiff(t, "import", "-c", `CMD ["cat","/exported-file"]`, file, img).OK(t)
	skiff(t, "run", "--rm", "--pull", "never", img).OK(t).StdoutIs(t, "exported\n")
	// Export to stdout, of a running container.
	run := "export-run-" + harness.UniqueSuffix()
	skiff(t, "run", "-d", "--name", run, bb, "sh", "-c", "echo live > /live; sleep 300").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", run) })
	waitFile(t, run, "/live")
	out := skiff(t, "export", run).OK(t)
	if !contains(tarNames(t, []byte(out.Stdout)), "live") {
		t.Errorf("export of the running container lacks /live")
	}
	skiff(t, "exec", run, "cat", "/live").OK(t).StdoutIs(t, "live\n")
	skiff(t, "export", "nosuchcontainer").ErrorLine(t, errExit, "nosuchcontainer")
}

// waitFile waits until the running container has made path.
func waitFile(t *testing.T, ctr, path string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if skiff(t, "exec", ctr, "test", "-e", path).ExitCode == 0 {
			return
		}
	}
	t.Fatalf("container %s never made %s", ctr, path)
}

func TestCommit(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := "commit-" + harness.UniqueSuffix()
	skiff(t, "run", "--name", name, bb, "sh", "-c", "echo committed > /committed-file").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", name) })
	img := "committed-" + harness.UniqueSuffix() + ":v1"
	r := skiff(t, "commit", "-m", "the message", "-a", "Jane <jane@example.com>", "-c", `CMD ["cat","/committed-file"]`, "-c", "ENV COMMITTED=yes", name, img).OK(t)
	if !fullID.MatchString(r.Stdout) {
		t.Errorf("commit should print sha256:<64 hex>\n%s", r.Output())
	}
	id := strings.TrimSpace(r.Stdout)
	ii := inspectImage(t, harness.E2E, []string{"image", "inspect"}, img)
	base := harness.Images["busybox"]
	if ii.Id != id || !slices.Equal(ii.Config.Cmd, []string{"cat", "/committed-file"}) || !contains(ii.Config.Env, "COMMITTED=yes") {
		t.Errorf("committed image %s Cmd %q Env %q", ii.Id, ii.Config.Cmd, ii.Config.Env)
	}
	if len(ii.RootFS.Layers) != len(base.DiffIDs)+1 || !slices.Equal(ii.RootFS.Layers[:len(base.DiffIDs)], base.DiffIDs) {
		t.Errorf("committed layers %v, want busybox's %v plus one", ii.RootFS.Layers, base.DiffIDs)
	}
	skiff(t, "run", "--rm", "--pull", "never", img).OK(t).StdoutIs(t, "committed\n")
	skiff(t, "run", "--rm", "--pull", "never", img, "sh", "-c", "echo $COMMITTED; test -e /etc/hosts && echo hosts").OK(t).StdoutIs(t, "yes\nhosts\n")
	h := skiff(t, "history", "--format", "{{.CreatedBy}}|{{.Comment}}", img).OK(t).Lines()
	if len(h) < 2 || !strings.Contains(h[0], "echo committed") || !strings.HasSuffix(h[0], "|the message") {
		t.Errorf("history's top entry should be the commit (command and message):\n%s", strings.Join(h, "\n"))
	}

	// A running container, without a name for the image.
	run := "commit-run-" + harness.UniqueSuffix()
	skiff(t, "run", "-d", "--name", run, bb, "sh", "-c", "echo live > /live; sleep 300").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", run) })
	waitFile(t, run, "/live")
	r = skiff(t, "commit", run).OK(t)
	live := strings.TrimSpace(r.Stdout)
	skiff(t, "run", "--rm", "--pull", "never", live, "cat", "/live").OK(t).StdoutIs(t, "live\n")
	skiff(t, "exec", run, "true").OK(t) // still running (and not paused)

	skiff(t, "commit", "-c", "FROM scratch", name).ErrorLine(t, errExit, "FROM")
	skiff(t, "commit", "nosuchcontainer").ErrorLine(t, errExit, "nosuchcontainer")
}

func TestDiff(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := "diff-" + harness.UniqueSuffix()
	skiff(t, "run", "--name", name, bb, "sh", "-c", "echo a > /added; mkdir /newdir; echo b > /newdir/f; echo x >> /etc/group; rm /etc/owned-by-1000").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", name) })
	got := skiff(t, "diff", name).OK(t).Lines()
	want := []string{"A /added", "C /etc", "D /etc/owned-by-1000", "C /etc/group", "A /newdir", "A /newdir/f"}
	slices.Sort(want)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(sorted, want) {
		t.Errorf("diff printed\n%s\nwant (in any order)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A container that changed nothing shows nothing (not the runtime's mount points).
	quiet := "diff-quiet-" + harness.UniqueSuffix()
	skiff(t, "run", "--name", quiet, bb, "true").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", quiet) })
	skiff(t, "diff", quiet).OK(t).StdoutIs(t, "")
	skiff(t, "container", "diff", quiet).OK(t).StdoutIs(t, "")
	skiff(t, "diff", "nosuchcontainer").ErrorLine(t, errExit, "nosuchcontainer")
}

func TestHistory(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	want := harness.Images["busybox"]
	r := skiff(t, "history", bb).OK(t)
	lines := r.Lines()
	if len(lines) != 2 {
		t.Fatalf("history of busybox (one layer): want a header and one row\n%s", r.Output())
	}
	if h := strings.Join(strings.Fields(lines[0]), " "); h != "IMAGE CREATED CREATED BY SIZE COMMENT" {
		t.Errorf("history header %q, want Docker's", h)
	}
	if !strings.HasPrefix(lines[1], want.ShortID()+" ") || !strings.Contains(lines[1], "skiff e2e harness: busybox-static rootfs") {
		t.Errorf("history row %q: want the short ID and CREATED BY (40 characters: not truncated)", lines[1])
	}
	skiff(t, "history", "-q", bb).OK(t).StdoutIs(t, want.ShortID()+"\n")
	skiff(t, "image", "history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", bb).OK(t).
		StdoutIs(t, want.ID+" skiff e2e harness: busybox-static rootfs\n")
	skiff(t, "history", ref("nosuchimage")).ErrorLine(t, errExit, "nosuchimage")
}

// tarNames lists the cleaned entry names of a tar.
func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Clean(h.Name), "./"), "/"))
	}
}

// untar extracts a trusted tar of regular files and directories.
func untar(t *testing.T, data []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		must(t, err)
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir {
			must(t, os.MkdirAll(p, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		b, err := io.ReadAll(tr)
		must(t, err)
		must(t, os.WriteFile(p, b, 0o644))
	}
}
