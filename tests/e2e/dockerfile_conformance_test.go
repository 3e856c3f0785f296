package e2e

// The Dockerfile corpus: testdata/dockerfiles/NN-name/ each hold a
// Dockerfile exercising one rule of Docker's Dockerfile reference, its
// context files, an optional case.setup (what git cannot hold: symlinks,
// hard links, modes, archives, build args) and podman.json, what Podman
// built from it (see dockerfile_golden_test.go, `make dockerfile-golden`).
// TestDockerfileConformance builds each with skiff and holds the result
// against podman.json, after the corrections listed in podmanDiffers:
// the places where Podman, not skiff, departs from Docker's documented
// behaviour. A case Podman 4.3.1 cannot build at all says so in its
// case.setup (podman-skip REASON) and holds docker.json instead: the
// result Docker's documentation gives, written by hand.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
	"github.com/skiff-project/skiff/tests/imagetree"
)

const corpusDir = "testdata/dockerfiles"

// corpusCase is one directory of the corpus.
type corpusCase struct {
	name       string
	dir        string   // in the source tree
	buildArgs  []string // --build-arg values from case.setup
	podmanSkip string   // why Podman cannot build it ("" when it can)
}

// Files of a case directory that are not part of its build context.
const (
	caseSetup  = "case.setup"
	caseGolden = "podman.json"
	caseDocker = "docker.json"
)

// golden is the file holding the case's expected result.
func (c corpusCase) golden() string {
	if c.podmanSkip != "" {
		return filepath.Join(c.dir, caseDocker)
	}
	return filepath.Join(c.dir, caseGolden)
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	must(t, err)
	var out []corpusCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := corpusCase{name: e.Name(), dir: filepath.Join(corpusDir, e.Name())}
		for _, l := range setupLines(t, c) {
			if v, ok := strings.CutPrefix(l, "buildarg "); ok {
				c.buildArgs = append(c.buildArgs, "--build-arg", v)
			}
			if v, ok := strings.CutPrefix(l, "podman-skip "); ok {
				c.podmanSkip = v
			}
		}
		out = append(out, c)
	}
	if len(out) < 40 {
		t.Fatalf("the corpus in %s has %d cases, want at least 40", corpusDir, len(out))
	}
	return out
}

func setupLines(t *testing.T, c corpusCase) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(c.dir, caseSetup))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// corpusContext copies a case's context into a fresh directory of u and
// applies its case.setup: symlink TARGET NAME, hardlink OLD NEW, chmod
// MODE PATH, tar ARCHIVE DIR (.tar, .tar.gz or .tgz of DIR's contents).
func corpusContext(t *testing.T, u *harness.User, c corpusCase) string {
	t.Helper()
	dst := harness.UserDir(t, u)
	must(t, filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.dir, p)
		if rel == "." || rel == caseSetup || rel == caseGolden || rel == caseDocker {
			return nil
		}
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	}))
	for _, l := range setupLines(t, c) {
		f := strings.Fields(l)
		at := func(i int) string { return filepath.Join(dst, f[i]) }
		var err error
		switch f[0] {
		case "symlink":
			err = os.Symlink(f[1], at(2))
		case "hardlink": // NEW's directory may be one git cannot hold: empty
			if err = os.MkdirAll(filepath.Dir(at(2)), 0o755); err == nil {
				err = os.Chown(filepath.Dir(at(2)), u.UID, u.GID)
			}
			if err == nil {
				err = os.Link(at(1), at(2))
			}
		case "chmod":
			var m uint32
			if _, err = fmt.Sscanf(f[1], "%o", &m); err == nil {
				err = os.Chmod(at(2), os.FileMode(m))
			}
		case "tar":
			err = writeTarOf(at(1), at(2))
		case "buildarg", "podman-skip":
		default:
			t.Fatalf("%s/%s: unknown line %q", c.name, caseSetup, l)
		}
		must(t, err)
	}
	must(t, filepath.Walk(dst, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.UID, u.GID)
	}))
	return dst
}

// writeTarOf writes the contents of dir as a tar archive, gzipped when the
// name says so, with fixed owners and times.
func writeTarOf(archive, dir string) error {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if strings.HasSuffix(archive, "gz") {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime = filepath.ToSlash(rel), 0, 0, "", "", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil {
		return err
	}
	return os.WriteFile(archive, buf.Bytes(), 0o644)
}

// corpusBases are the base images the corpus names, as the image store of
// an engine has them: busybox (the harness's, with PATH and CMD) and bare
// (the same files imported, with no config at all).
type corpusBases struct {
	layers [][]string // their diff IDs
}

// skiffBases tags the harness's busybox as busybox and imports its files
// as bare, for the e2e user; the tags go when the test ends.
func skiffBases(t *testing.T) corpusBases {
	t.Helper()
	skiff(t, "tag", busybox(t), "busybox").OK(t)
	rootfs, err := harness.RootfsTar()
	must(t, err)
	skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(rootfs)}, "import", "-", "bare").OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "busybox", "bare") })
	var b corpusBases
	for _, name := range []string{"busybox", "bare"} {
		var layers []string
		out := skiff(t, "image", "inspect", "-f", "{{json .RootFS.Layers}}", name).OK(t).Stdout
		must(t, json.Unmarshal([]byte(out), &layers))
		b.layers = append(b.layers, layers)
	}
	return b
}

// summarize reads a saved image (a docker-archive written by u) into its
// summary over the bases.
func summarize(t *testing.T, file string, b corpusBases) *imagetree.Summary {
	t.Helper()
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	s, err := imagetree.Read(f, b.layers...)
	must(t, err)
	return s
}

func TestDockerfileConformance(t *testing.T) {
	parallel(t)
	cases := loadCorpus(t)
	bases := skiffBases(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			golden, err := os.ReadFile(c.golden())
			if err != nil {
				t.Fatalf("%v: run `make dockerfile-golden` to record Podman's build of this case", err)
			}
			var want imagetree.Summary
			must(t, json.Unmarshal(golden, &want))
			if c.podmanSkip == "" {
				asDocker(c.name, &want)
			}
			got := skiffBuildCase(t, c, bases)
			asDocker("", got)
			if w, g := summaryText(&want), summaryText(got); w != g {
				t.Errorf("skiff's build differs from %s:\n%s", c.golden(), lineDiff(w, g))
			}
		})
	}
}

// skiffBuildCase builds a case with skiff as the e2e user and summarises
// the image it made.
func skiffBuildCase(t *testing.T, c corpusCase, b corpusBases) *imagetree.Summary {
	t.Helper()
	ctx := corpusContext(t, harness.E2E, c)
	tag := "conformance-" + strings.ToLower(c.name) + ":" + harness.UniqueSuffix()
	args := append([]string{"build", "-q", "-t", tag}, c.buildArgs...)
	skiff(t, append(args, ctx)...).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", tag) })
	out := filepath.Join(harness.UserDir(t, harness.E2E), "image.tar")
	skiff(t, "save", "-o", out, tag).OK(t)
	return summarize(t, out, b)
}

func summaryText(s *imagetree.Summary) string {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[strings.TrimSpace(l)]++
		}
		return m
	}
	w, g := count(want), count(got)
	var out []string
	for l, n := range w {
		if g[l] < n {
			out = append(out, "- "+l)
		}
	}
	for l, n := range g {
		if w[l] < n {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n") + "\n\nwant (Podman, corrected):\n" + want + "\n\ngot (skiff):\n" + got
}

// podmanDiffer is one place where Podman's build of a case is not what
// Docker's documentation says, and how Docker's result differs.
type podmanDiffer struct {
	why string
	doc string // the section of Docker's documentation
	fix func(*imagetree.Summary)
}

// podmanDiffers lists, by case, the corrections that turn Podman 4.3.1's
// (Buildah 1.28's) result into Docker's. "Docker" is Docker's default
// builder, BuildKit, where the reference tells the two builders apart.
var podmanDiffers = map[string][]podmanDiffer{
	"12-copy-chmod": {{
		why: "the directories COPY --chmod creates for the destination get the --chmod mode in BuildKit; Buildah makes them 0755",
		doc: "https://docs.docker.com/reference/dockerfile/#copy---chmod (BuildKit: fsutil copy.MkdirAll takes the --chmod mode for created directories, https://github.com/tonistiigi/fsutil/blob/master/copy/copy.go)",
		fix: func(s *imagetree.Summary) { setModes(s, "0750", "/m/dir") },
	}},
	"15-user-workdir": {{
		why: "WORKDIR creates its directory, with parents, owned by the USER in force; Buildah creates it only when a later RUN or COPY needs it",
		doc: "https://docs.docker.com/reference/dockerfile/#workdir (ownership: BuildKit's dispatchWorkdir mkdirs with llb.WithUser(USER))",
		fix: func(s *imagetree.Summary) {
			addDirs(s, 0, 0, "/created", "/created/by", "/created/by/root")
			addDirs(s, 1000, 1000, "/data", "/data2")
		},
	}},
	"16-workdir-unused": {{
		why: "WORKDIR creates its directory even when nothing uses it; Buildah does not",
		doc: "https://docs.docker.com/reference/dockerfile/#workdir",
		fix: func(s *imagetree.Summary) { addDirs(s, 0, 0, "/a", "/a/b", "/a/b/c") },
	}},
	"22-env-user-workdir-volume": {{
		why: "WORKDIR creates its directory even when nothing uses it; Buildah does not",
		doc: "https://docs.docker.com/reference/dockerfile/#workdir",
		fix: func(s *imagetree.Summary) { addDirs(s, 0, 0, "/work") },
	}},
	"28-shell": {{
		why: "SHELL applies to the shell forms of CMD and ENTRYPOINT too; Buildah keeps /bin/sh -c for them",
		doc: "https://docs.docker.com/reference/dockerfile/#shell",
		fix: func(s *imagetree.Summary) {
			s.Config.Cmd = []string{"/bin/sh", "-ec", "echo cmd"}
			s.Config.Entrypoint = []string{"/bin/sh", "-ec", "echo entry"}
		},
	}},
	"29-escape-directive": {{
		why: "with escape=` a backslash is an ordinary character and `$ a literal $; Buildah still drops backslashes and expands `$NOT",
		doc: "https://docs.docker.com/reference/dockerfile/#escape",
		fix: func(s *imagetree.Summary) {
			setEnv(s, "PATHLIKE=C:\\Windows", "Q=$NOT")
			renamePrefix(s, "/dirwithbackslashes", "/dir\\with\\backslashes")
		},
	}},
	"40-expose": {{
		why: "EXPOSE of a range stores each port of it (8000/tcp, 8001/tcp, 8002/tcp); Buildah stores the range as one key",
		doc: "https://docs.docker.com/reference/dockerfile/#expose (BuildKit's dispatchExpose parses ranges into ports)",
		fix: func(s *imagetree.Summary) {
			s.Config.ExposedPorts = []string{"443/tcp", "53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"}
		},
	}},
	"41-volume": {{
		why: "BuildKit keeps what a RUN writes into a declared volume and mounts no volumes in RUN; Buildah (like Docker's legacy builder) discards the write and commits the volumes' mount points",
		doc: "https://docs.docker.com/reference/dockerfile/#notes-about-specifying-volumes",
		fix: func(s *imagetree.Summary) {
			s.Files = slices.DeleteFunc(s.Files, func(f imagetree.File) bool { return f.Path == "/other" || f.Path == "/json-form" })
			s.Files = append(s.Files, imagetree.File{Path: "/data/after", Type: "file", Mode: "0644", Content: "text:after\n"})
			sortFiles(s)
		},
	}},
}

func sortFiles(s *imagetree.Summary) {
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
}

func addDirs(s *imagetree.Summary, uid, gid int, paths ...string) {
	for _, p := range paths {
		s.Files = append(s.Files, imagetree.File{Path: p, Type: "dir", Mode: "0755", UID: uid, GID: gid})
	}
	sortFiles(s)
}

func setModes(s *imagetree.Summary, mode string, paths ...string) {
	for i := range s.Files {
		if slices.Contains(paths, s.Files[i].Path) {
			s.Files[i].Mode = mode
		}
	}
}

// setEnv replaces Env entries by key.
func setEnv(s *imagetree.Summary, kvs ...string) {
	for _, kv := range kvs {
		k, _, _ := strings.Cut(kv, "=")
		for i, e := range s.Config.Env {
			if strings.HasPrefix(e, k+"=") {
				s.Config.Env[i] = kv
			}
		}
	}
}

func renamePrefix(s *imagetree.Summary, from, to string) {
	for i, f := range s.Files {
		if f.Path == from || strings.HasPrefix(f.Path, from+"/") {
			s.Files[i].Path = to + strings.TrimPrefix(f.Path, from)
		}
	}
	sortFiles(s)
}

// asDocker removes what is engine-specific from a summary (Buildah's
// version label) and applies the case's corrections (none for "").
func asDocker(name string, s *imagetree.Summary) {
	delete(s.Config.Labels, "io.buildah.version")
	if len(s.Config.Labels) == 0 {
		s.Config.Labels = nil
	}
	if name != "" {
		for _, d := range append(podmanDiffersAll, podmanDiffers[name]...) {
			d.fix(s)
		}
	}
}

// podmanDiffersAll apply to every case.
var podmanDiffersAll = []podmanDiffer{{
	why: "Buildah's RUN leaves the empty mount points of /etc/hosts, /etc/hostname, /etc/resolv.conf (and /run) in the layer it commits; Docker's RUN commits only what the command changed",
	doc: "https://docs.docker.com/reference/dockerfile/#run (and https://github.com/containers/buildah/issues/4242)",
	fix: func(s *imagetree.Summary) {
		s.Files = slices.DeleteFunc(s.Files, func(f imagetree.File) bool {
			switch f.Path {
			case "/etc/hosts", "/etc/hostname", "/etc/resolv.conf":
				return f.Type == "file" && f.Content == "text:"
			case "/run":
				return f.Type == "dir" && !slices.ContainsFunc(s.Files, func(g imagetree.File) bool { return strings.HasPrefix(g.Path, "/run/") })
			}
			return false
		})
	},
}}

// TestBuildInspectConfigShape: a built image whose Dockerfile sets no
// WORKDIR and no ONBUILD still answers {{.Config.WorkingDir}} and
// {{.Config.OnBuild}} with zero values (Docker always sends those keys),
// and a base without Env gives the image Docker's default PATH.
func TestBuildInspectConfigShape(t *testing.T) {
	parallel(t)
	rootfs, err := harness.RootfsTar()
	must(t, err)
	base := "inspect-bare:" + harness.UniqueSuffix()
	skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(rootfs)}, "import", "-", base).OK(t)
	tag := "inspect-shape:" + harness.UniqueSuffix()
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nLABEL a=b\n"})
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", tag, base) })
	skiff(t, "image", "inspect", "-f", "[{{.Config.WorkingDir}}] {{.Config.OnBuild}} {{json .Config.OnBuild}} {{json .Config.Env}}", tag).OK(t).
		StdoutIs(t, `[] [] null ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]`+"\n")
}
