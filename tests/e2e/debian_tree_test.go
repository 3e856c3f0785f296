package e2e

// Helpers for the Debian image tests (debian_test.go): a container's file
// tree as stat shows it, an image's tree as its layers' tar headers say,
// and comparisons of the two that report the first differences.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// treeScript prints, in a Debian container, its mount points, then
// `stat -c '%u %g %a %f %i %n'` of every path on its root file system,
// then the files under /usr, /srv and /home with file capabilities.
const treeScript = `awk '{print $5}' /proc/self/mountinfo; echo ===; ` +
	`find / -xdev -exec stat -c '%u %g %a %f %i %n' {} +; echo ===; getcap -r /usr /srv /home 2>/dev/null | sort`

// fileStat is what a tree knows of one path.
type fileStat struct {
	uid, gid int
	perm     int64  // permission bits with setuid, setgid and sticky
	typ      uint32 // the S_IFMT bits
	ino      uint64 // 0 in trees made from tar headers
	link     string // tar trees: the hard link's target
}

// fileTree is a file system's paths (absolute, clean) and the files in it
// that carry a file capability ("path cap_net_raw=ep" as getcap prints).
type fileTree struct {
	files  map[string]fileStat
	caps   []string
	mounts map[string]bool // a container's mount points other than /
}

const (
	typeDir     = 0o040000
	typeReg     = 0o100000
	typeSymlink = 0o120000
)

// containerTree runs treeScript with skiff args (a `run --rm IMAGE` or an
// `exec CONTAINER`, the script is appended) as u and parses its output.
// Mount points (other than /) and what lies below them are left out.
func containerTree(t *testing.T, u *harness.User, args ...string) *fileTree {
	t.Helper()
	r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 2 * time.Minute}, append(args, "sh", "-c", treeScript)...).OK(t)
	return parseTree(t, r.Cmdline(), r.Stdout)
}

// parseTree reads treeScript's output.
func parseTree(t *testing.T, what, out string) *fileTree {
	t.Helper()
	parts := strings.Split(out, "===\n")
	if len(parts) != 3 {
		t.Fatalf("%s: want three sections separated by ===, got %d:\n%.2000s", what, len(parts), out)
	}
	tr := &fileTree{files: map[string]fileStat{}, mounts: map[string]bool{}}
	for _, m := range strings.Fields(parts[0]) {
		if m != "/" {
			tr.mounts[m] = true
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(parts[1], "\n"), "\n") {
		f := strings.SplitN(l, " ", 6)
		if len(f) != 6 {
			t.Fatalf("%s: bad stat line %q", what, l)
		}
		var fs fileStat
		var err [5]error
		fs.uid, err[0] = strconv.Atoi(f[0])
		fs.gid, err[1] = strconv.Atoi(f[1])
		fs.perm, err[2] = strconv.ParseInt(f[2], 8, 64)
		raw, e := strconv.ParseUint(f[3], 16, 32)
		err[3] = e
		fs.typ = uint32(raw) & 0o170000
		fs.ino, err[4] = strconv.ParseUint(f[4], 10, 64)
		if e := errors.Join(err[:]...); e != nil {
			t.Fatalf("%s: bad stat line %q: %v", what, l, e)
		}
		if !tr.underMount(f[5]) {
			tr.files[f[5]] = fs
		}
	}
	tr.caps = strings.Split(strings.TrimSuffix(parts[2], "\n"), "\n")
	if len(tr.caps) == 1 && tr.caps[0] == "" {
		tr.caps = nil
	}
	return tr
}

// underMount reports whether p is one of the tree's mount points or below one.
func (tr *fileTree) underMount(p string) bool {
	for q := p; q != "/" && q != "."; q = path.Dir(q) {
		if tr.mounts[q] {
			return true
		}
	}
	return false
}

// layersTree applies image layers (tar headers with clean absolute names,
// bottom first), whiteouts included, into the tree they make.
func layersTree(t *testing.T, layers [][]*tar.Header) *fileTree {
	t.Helper()
	tr := &fileTree{files: map[string]fileStat{}, mounts: map[string]bool{}}
	for _, hdrs := range layers {
		for _, h := range hdrs {
			tr.apply(t, h)
		}
	}
	for p, fs := range tr.files {
		if fs.link != "" {
			target, ok := tr.files[fs.link]
			if !ok {
				t.Fatalf("hard link %s -> %s: no such file in the layers", p, fs.link)
			}
			target.link = fs.link
			tr.files[p] = target
		}
	}
	sort.Strings(tr.caps)
	return tr
}

// apply adds one tar entry to the tree.
func (tr *fileTree) apply(t *testing.T, h *tar.Header) {
	dir, base := path.Split(h.Name)
	switch {
	case base == ".wh..wh..opq":
		tr.remove(path.Clean(dir), false)
		return
	case strings.HasPrefix(base, ".wh."):
		tr.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
		return
	}
	fs := fileStat{uid: h.Uid, gid: h.Gid, perm: h.Mode & 0o7777}
	switch h.Typeflag {
	case tar.TypeDir:
		fs.typ = typeDir
	case tar.TypeReg, tar.TypeRegA:
		fs.typ = typeReg
	case tar.TypeSymlink:
		fs.typ, fs.perm = typeSymlink, 0o777
	case tar.TypeLink:
		fs.link = h.Linkname
	default:
		t.Fatalf("layer entry %s has type %q, which these tests do not expect", h.Name, h.Typeflag)
	}
	tr.files[h.Name] = fs
	tr.caps = removeCap(tr.caps, h.Name)
	if c, ok := h.PAXRecords["SCHILY.xattr.security.capability"]; ok {
		tr.caps = append(tr.caps, h.Name+" "+capText(t, h.Name, c))
	}
}

// remove deletes p's children, and p itself when self is set.
func (tr *fileTree) remove(p string, self bool) {
	for q := range tr.files {
		if (self && q == p) || strings.HasPrefix(q, p+"/") {
			delete(tr.files, q)
			tr.caps = removeCap(tr.caps, q)
		}
	}
}

func removeCap(caps []string, p string) []string {
	out := caps[:0]
	for _, c := range caps {
		if !strings.HasPrefix(c, p+" ") {
			out = append(out, c)
		}
	}
	return out
}

// capText turns a security.capability value into getcap's words. The
// tests only meet cap_net_raw=ep, which must be stored as revision 2.
func capText(t *testing.T, name, v string) string {
	if v == harness.NetRawCapability {
		return "cap_net_raw=ep"
	}
	t.Errorf("%s: security.capability %q in a tar, want cap_net_raw=ep as revision 2 %q", name, v, harness.NetRawCapability)
	return fmt.Sprintf("%q", v)
}

// compareTrees reports where got differs from want: paths missing or extra,
// owners (after owner maps want's ids: nil keeps them), permissions, file
// types, hard links (paths sharing an inode in got must be the paths
// linked in want, or sharing one there too) and file capabilities. Paths
// that are mount points of either tree are skipped.
func compareTrees(t *testing.T, what string, got, want *fileTree, owner func(uid, gid int) (int, int)) {
	t.Helper()
	var diffs []string
	for p, w := range want.files {
		if got.underMount(p) || want.underMount(p) {
			continue
		}
		g, ok := got.files[p]
		if !ok && p == "/" {
			continue // a tar need not have an entry for its root
		}
		if !ok {
			diffs = append(diffs, "missing "+p)
			continue
		}
		wu, wg := w.uid, w.gid
		if owner != nil {
			wu, wg = owner(wu, wg)
		}
		if g.uid != wu || g.gid != wg || g.perm != w.perm || g.typ != w.typ {
			diffs = append(diffs, fmt.Sprintf("%s: %d:%d %o type %o, want %d:%d %o type %o", p, g.uid, g.gid, g.perm, g.typ, wu, wg, w.perm, w.typ))
		}
	}
	for p := range got.files {
		if _, ok := want.files[p]; !ok && !want.underMount(p) {
			diffs = append(diffs, "unexpected "+p)
		}
	}
	diffs = append(diffs, linkDiffs(got, want)...)
	if strings.Join(got.caps, "\n") != strings.Join(want.caps, "\n") {
		diffs = append(diffs, fmt.Sprintf("file capabilities %q, want %q", got.caps, want.caps))
	}
	if len(diffs) == 0 {
		return
	}
	sort.Strings(diffs)
	n := len(diffs)
	if n > 25 {
		diffs = append(diffs[:25], "…")
	}
	t.Errorf("%s: %d differences:\n  %s", what, n, strings.Join(diffs, "\n  "))
}

// useLinksOf takes tr's hard links from o, a tree of the same files.
func (tr *fileTree) useLinksOf(o *fileTree) {
	for p, fs := range tr.files {
		fs.ino, fs.link = 0, o.files[p].link
		tr.files[p] = fs
	}
}

// linkGroups names, for every path that is one of several names of a
// file, the first of those names: by inode for a container's tree, by
// link target for a tree from tar headers.
func linkGroups(tr *fileTree) map[string]string {
	byKey := map[string][]string{}
	for p, fs := range tr.files {
		if fs.typ == typeDir {
			continue
		}
		switch {
		case fs.ino != 0:
			k := strconv.FormatUint(fs.ino, 10)
			byKey[k] = append(byKey[k], p)
		case fs.link != "":
			byKey[fs.link] = append(byKey[fs.link], p)
		default:
			byKey[p] = append(byKey[p], p)
		}
	}
	out := map[string]string{}
	for _, names := range byKey {
		if len(names) < 2 {
			continue
		}
		sort.Strings(names)
		for _, n := range names {
			out[n] = names[0]
		}
	}
	return out
}

// linkDiffs compares the hard links of two trees.
func linkDiffs(got, want *fileTree) []string {
	g, w := linkGroups(got), linkGroups(want)
	var diffs []string
	for p, first := range w {
		if g[p] != first {
			diffs = append(diffs, fmt.Sprintf("%s should be a hard link of %s", p, first))
		}
	}
	for p, first := range g {
		if _, ok := w[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s is a hard link of %s, which it is not in the image", p, first))
		}
	}
	return diffs
}

// tarTree reads a tar stream (export, a saved layer) into a tree.
func tarTree(t *testing.T, what string, r io.Reader) *fileTree {
	t.Helper()
	hdrs, err := harness.TarHeaders(r)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return layersTree(t, [][]*tar.Header{hdrs})
}
