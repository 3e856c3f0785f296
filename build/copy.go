package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

// COPY, ADD and WORKDIR: the instructions that write a layer from outside
// a container. What they write follows BuildKit (Docker's builder):
//
//   - a destination ending in / (or ".", relative to WORKDIR) is a
//     directory; so is one that exists as a directory in the image;
//   - the directories they create are 0755 (the --chmod mode if given)
//     and belong to --chown's user (root by default); existing ones keep
//     their mode and owner;
//   - a directory source copies its contents; a symlink named as a
//     source is followed, symlinks inside directories are kept; hard
//     links within one instruction stay hard links;
//   - ADD unpacks a local tar archive (plain, gzip, bzip2, xz, zstd),
//     recognised by its contents, into the destination directory.

// copySpec is one COPY or ADD, its words expanded.
type copySpec struct {
	instructions.SourcesAndDest
	add                bool
	from, chown, chmod string
	checksum           string
	excludes           []string
	unpack             *bool
	parents            bool
}

// copyAttrs are the owner and mode a COPY gives what it writes.
type copyAttrs struct {
	uid, gid int
	mode     *int64 // --chmod (tar mode bits), else each source's own
}

func (a copyAttrs) dirMode() int64 {
	if a.mode != nil {
		return *a.mode
	}
	return 0o755
}

func (a copyAttrs) String() string {
	m := "-"
	if a.mode != nil {
		m = fmt.Sprintf("%o", *a.mode)
	}
	return fmt.Sprintf("%d:%d:%s", a.uid, a.gid, m)
}

// copySource is one thing a COPY takes: a file or directory found under
// the source root, or data (a heredoc, a download).
type copySource struct {
	source
	data     []byte // set for a heredoc or a download
	dataMode int64
	mtime    time.Time
	unpack   bool // an ADD of a local archive
}

func (b *builder) copy(s *stage, n *parser.Node, cs copySpec) error {
	name := strings.ToUpper(n.Value)
	if cs.parents {
		return errdefs.Invalid("%s --parents is not supported by skiff; give each source its own destination", name)
	}
	attrs, err := b.copyAttrs(s, cs)
	if err != nil {
		return err
	}
	dest := destPath(s.cfg.Config.WorkingDir, cs.DestPath)
	if len(cs.SourcePaths)+len(cs.SourceContents) > 1 && !strings.HasSuffix(dest, "/") {
		return errdefs.Invalid("When using %s with more than one source file, the destination must be a directory and end with a /", name)
	}
	root, release, err := b.copyRoot(s, cs.from)
	if err != nil {
		return err
	}
	defer release()
	excl, err := excludeMatcher(cs.excludes)
	if err != nil {
		return err
	}
	srcs, err := b.copySources(name, cs, root)
	if err != nil {
		return err
	}
	w := copyWriter{b: b, root: root, fromContext: cs.from == "", attrs: attrs, excl: excl}
	// The cache key: the layer as it would be on an empty file system.
	key, err := w.layer(io.Discard, &destView{}, srcs, dest)
	if err != nil {
		return err
	}
	s.chain += "\n" + strings.TrimSpace(n.Original) + "\x00" + dest + "\x00" + attrs.String() + "\x00" + key
	// The history names the contents, so --cache-from matches them too.
	createdBy := "/bin/sh -c #(nop) " + strings.TrimSpace(n.Original) + " # sha256:" + key
	if b.cached(s, createdBy) {
		return nil
	}
	view, done, err := b.view(s)
	if err != nil {
		return err
	}
	defer done()
	var buf bytes.Buffer
	if _, err := w.layer(&buf, view, srcs, dest); err != nil {
		return err
	}
	return b.commitLayer(s, buf.Bytes(), createdBy)
}

// commitLayer stores the stage's image with one more layer and remembers
// it as the result of the stage's chain.
func (b *builder) commitLayer(s *stage, layer []byte, createdBy string) error {
	img, err := b.store(s, layer, createdBy)
	if err != nil {
		return err
	}
	s.img = img
	s.cfg = *img.Config.DeepCopy()
	b.st.RememberStep(s.chain, img.ID)
	return nil
}

// destPath is a COPY destination made absolute against WORKDIR, with a
// trailing / when it names a directory ("." too).
func destPath(workdir, dest string) string {
	dir := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "." || dest == ""
	if !path.IsAbs(dest) {
		dest = path.Join(firstNonEmpty(workdir, "/"), dest)
	}
	dest = path.Clean(dest)
	if dir && dest != "/" {
		dest += "/"
	}
	return dest
}

// copyAttrs reads --chown (names from the stage's /etc/passwd and
// /etc/group) and --chmod (octal).
func (b *builder) copyAttrs(s *stage, cs copySpec) (copyAttrs, error) {
	var a copyAttrs
	if cs.chown != "" {
		var err error
		if a.uid, a.gid, err = b.owner(s, cs.chown); err != nil {
			return a, err
		}
	}
	if cs.chmod != "" {
		m, err := strconv.ParseInt(cs.chmod, 8, 32)
		if err != nil || m < 0 || m > 0o7777 {
			return a, errdefs.Invalid("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", cs.chmod)
		}
		a.mode = &m
	}
	return a, nil
}

// copyRoot is where the sources are: the context, or the files of a
// stage or an image for --from.
func (b *builder) copyRoot(s *stage, from string) (string, func(), error) {
	if from == "" {
		return b.o.ContextDir, func() {}, nil
	}
	from, err := b.expand(s, from)
	if err != nil {
		return "", nil, err
	}
	return b.fromRoot(from)
}

func excludeMatcher(patterns []string) (*patternmatcher.PatternMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, errdefs.Invalid("--exclude: %v", err)
	}
	return m, nil
}

// copySources finds what each source names. A pattern may match nothing
// (as in Docker); a plain path must exist, and not be left out by
// .dockerignore.
func (b *builder) copySources(name string, cs copySpec, root string) ([]copySource, error) {
	var out []copySource
	for _, src := range cs.SourcePaths {
		if isURL(src) {
			if !cs.add {
				return nil, errdefs.Invalid("COPY takes no URLs (%s); use ADD to download", src)
			}
			d, err := b.download(src, cs.checksum)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			continue
		}
		if cs.checksum != "" {
			return nil, errdefs.Invalid("ADD --checksum is for URLs; %s is a local file", src)
		}
		found, err := sources(root, src)
		if err != nil {
			return nil, err
		}
		kept := found[:0]
		for _, f := range found {
			if cs.from != "" || !b.ignored(f.path) || (b.ignore.Exclusions() && isDir(f.path)) {
				kept = append(kept, f) // a left-out directory may hold exceptions
			}
		}
		if len(kept) == 0 && !hasMeta(src) {
			where := "the build context"
			if cs.from != "" {
				where = cs.from
			}
			return nil, errdefs.NotFound("%s %s: no such file or directory in %s (symlinks are followed only inside it; .dockerignore applies)", name, src, where)
		}
		for _, f := range kept {
			unpack := false
			if cs.add && (cs.unpack == nil || *cs.unpack) {
				unpack = isArchive(f.path)
			}
			out = append(out, copySource{source: f, unpack: unpack})
		}
	}
	for _, c := range cs.SourceContents {
		out = append(out, copySource{source: source{name: c.Path}, data: []byte(c.Data), dataMode: 0o644, mtime: time.Unix(0, 0)})
	}
	return out, nil
}

// ignored says whether .dockerignore leaves a context path out.
func (b *builder) ignored(p string) bool {
	if b.ignore == nil {
		return false
	}
	rel, err := filepath.Rel(b.o.ContextDir, p)
	if err != nil || rel == "." {
		return false
	}
	ok, _ := b.ignore.MatchesOrParentMatches(filepath.ToSlash(rel))
	return ok
}

// destView is what the image has so far, for deciding where a COPY
// writes: the stage's files mounted at root ("" when it has none), and
// the directories the layer being written makes.
type destView struct {
	root string
	made map[string]bool
}

// view mounts the stage's files; done unmounts them.
func (b *builder) view(s *stage) (*destView, func(), error) {
	if s.img == nil {
		return &destView{}, func() {}, nil
	}
	root, done, err := b.st.MountImage(s.img.ID)
	if err != nil {
		return nil, nil, err
	}
	return &destView{root: root}, done, nil
}

// resolve is p with the symlinks of the image's existing directories
// followed (within the image), as the files would land.
func (v *destView) resolve(p string) string {
	if v.root == "" {
		return path.Clean("/" + p)
	}
	full, err := securejoin.SecureJoin(v.root, p)
	if err != nil {
		return path.Clean("/" + p)
	}
	rel, err := filepath.Rel(v.root, full)
	if err != nil {
		return path.Clean("/" + p)
	}
	return path.Clean("/" + filepath.ToSlash(rel))
}

// stat says whether a resolved path exists and is a directory.
func (v *destView) stat(p string) (exists, dir bool) {
	if v.made[p] || p == "/" {
		return true, true
	}
	if v.root == "" {
		return false, false
	}
	fi, err := os.Stat(filepath.Join(v.root, p))
	if err != nil {
		return false, false
	}
	return true, fi.IsDir()
}

// copyWriter writes the layer of one COPY or ADD.
type copyWriter struct {
	b           *builder
	root        string // of the sources
	fromContext bool
	attrs       copyAttrs
	excl        *patternmatcher.PatternMatcher
	lw          *layerWriter
	view        *destView
	links       map[[2]uint64]string // hard links: device and inode -> first name
}

// layer writes the layer to out and returns its content key.
func (w copyWriter) layer(out io.Writer, view *destView, srcs []copySource, dest string) (string, error) {
	w.lw, w.view, w.links = newLayerWriter(out), view, map[[2]uint64]string{}
	if view.made == nil {
		view.made = map[string]bool{}
	}
	ensure := dest
	if !strings.HasSuffix(dest, "/") {
		ensure = path.Dir(dest)
	}
	if err := w.mkdirAll(ensure); err != nil {
		return "", err
	}
	for _, src := range srcs {
		if err := w.source(src, dest); err != nil {
			return "", err
		}
	}
	return w.lw.close()
}

// mkdirAll writes the directories of p the image lacks.
func (w *copyWriter) mkdirAll(p string) error {
	p = w.view.resolve(p)
	cur := "/"
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		exists, dir := w.view.stat(cur)
		if exists && !dir {
			return errdefs.Invalid("mkdir %s: not a directory", cur)
		}
		if exists {
			continue
		}
		h := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(cur, "/") + "/", Mode: w.attrs.dirMode(),
			Uid: w.attrs.uid, Gid: w.attrs.gid, ModTime: time.Now().UTC()}
		if err := w.lw.add(h, nil); err != nil {
			return err
		}
		w.view.made[cur] = true
	}
	return nil
}

// source writes one source at dest.
func (w *copyWriter) source(src copySource, dest string) error {
	if src.data != nil {
		t := w.target(dest, src.name)
		if exists, dir := w.view.stat(t); src.name == "" && (exists && dir || strings.HasSuffix(dest, "/")) {
			return errdefs.Invalid("ADD: the URL names no file; give a destination file name, not a directory")
		}
		return w.data(src, t)
	}
	fi, err := os.Stat(src.path)
	if err != nil {
		return err
	}
	switch {
	case src.unpack:
		if err := w.mkdirAll(dest); err != nil {
			return err
		}
		if err := w.b.addArchive(w.lw, src.path, strings.TrimPrefix(w.view.resolve(dest), "/")); err != nil {
			return fmt.Errorf("ADD %s: %w", src.name, err)
		}
		return nil
	case fi.IsDir():
		if err := w.mkdirAll(dest); err != nil {
			return err
		}
		return w.tree(src.path, w.view.resolve(dest))
	default:
		return w.entry(w.target(dest, src.name), fi, src.path)
	}
}

// target is where a file named name lands: in dest when dest is (or will
// be) a directory, else at dest.
func (w *copyWriter) target(dest, name string) string {
	if strings.HasSuffix(dest, "/") {
		return w.view.resolve(path.Join(dest, name))
	}
	if exists, dir := w.view.stat(w.view.resolve(dest)); exists && dir {
		return w.view.resolve(path.Join(dest, name))
	}
	return w.view.resolve(dest)
}

func (w *copyWriter) data(src copySource, target string) error {
	mode := src.dataMode
	if w.attrs.mode != nil {
		mode = *w.attrs.mode
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(target, "/"), Mode: mode,
		Size: int64(len(src.data)), Uid: w.attrs.uid, Gid: w.attrs.gid, ModTime: src.mtime}
	return w.lw.add(h, bytes.NewReader(src.data))
}

// tree writes the contents of the directory src under dir (resolved).
// Directories the image has already keep their mode and owner.
func (w *copyWriter) tree(src, dir string) error {
	return w.b.walk(w.root, src, w.fromContext, w.excl, func(rel string, fi os.FileInfo, full string) error {
		if rel == "" {
			return nil
		}
		target := path.Join(dir, rel)
		if fi.IsDir() {
			if exists, isDir := w.view.stat(target); exists && isDir {
				return nil
			}
			w.view.made[target] = true
		}
		return w.entry(target, fi, full)
	})
}

// entry writes one file, directory or link found at full as target.
func (w *copyWriter) entry(target string, fi os.FileInfo, full string) error {
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(full); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name, h.Uid, h.Gid, h.Uname, h.Gname = strings.TrimPrefix(target, "/"), w.attrs.uid, w.attrs.gid, "", ""
	if fi.IsDir() {
		h.Name += "/"
	}
	if w.attrs.mode != nil && fi.Mode()&os.ModeSymlink == 0 {
		h.Mode = *w.attrs.mode
	}
	if !fi.Mode().IsRegular() {
		return w.lw.add(h, nil)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := w.links[id]; ok {
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			return w.lw.add(h, nil)
		}
		w.links[id] = h.Name
	}
	f, err := os.Open(full)
	if err != nil {
		return err
	}
	defer f.Close()
	return w.lw.add(h, f)
}

// walk calls fn for src and everything under it (rel "" is src itself),
// parents first, leaving out what .dockerignore (for the context) and
// the --exclude patterns leave out. A left-out directory is still
// entered when an exception (!pattern) could bring back something in
// it; it is then reported just before the first thing it holds.
func (b *builder) walk(root, src string, fromContext bool, excl *patternmatcher.PatternMatcher, fn func(rel string, fi os.FileInfo, full string) error) error {
	type dir struct {
		rel  string
		fi   os.FileInfo
		full string
	}
	var pending []dir
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return fn("", fi, p)
		}
		for len(pending) > 0 && !strings.HasPrefix(rel, pending[len(pending)-1].rel+"/") {
			pending = pending[:len(pending)-1]
		}
		out, exceptions := false, false
		if fromContext && b.ignored(p) {
			out, exceptions = true, b.ignore.Exclusions()
		}
		if excl != nil {
			if ok, _ := excl.MatchesOrParentMatches(rel); ok {
				out, exceptions = true, exceptions || excl.Exclusions()
			}
		}
		if out {
			switch {
			case fi.IsDir() && exceptions:
				pending = append(pending, dir{rel, fi, p})
				return nil
			case fi.IsDir():
				return filepath.SkipDir
			}
			return nil
		}
		for _, d := range pending {
			if err := fn(d.rel, d.fi, d.full); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return fn(rel, fi, p)
	})
}

// workdir sets WORKDIR and, as BuildKit does, creates the directory
// (with its parents, owned by the stage's USER) when the image lacks it.
func (b *builder) workdir(s *stage, n *parser.Node, p string) error {
	if !path.IsAbs(p) {
		p = path.Join(firstNonEmpty(s.cfg.Config.WorkingDir, "/"), p)
	}
	p = path.Clean(p)
	s.cfg.Config.WorkingDir = p
	s.chain += "\n" + strings.TrimSpace(n.Original) + "\x00" + p + "\x00" + s.cfg.Config.User
	if p == "/" || b.cached(s, "") {
		return nil
	}
	view, done, err := b.view(s)
	if err != nil {
		return err
	}
	defer done()
	if exists, dir := view.stat(view.resolve(p)); exists && dir {
		// Nothing to write: the config changes only.
		s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: "WORKDIR " + p, EmptyLayer: true})
		return nil
	}
	w := copyWriter{b: b}
	if u := s.cfg.Config.User; u != "" {
		eu, err := resolveUser(view.root, u)
		if err != nil {
			return fmt.Errorf("WORKDIR %s: USER %s: %w", p, u, err)
		}
		w.attrs.uid, w.attrs.gid = eu.UID, eu.GID
	}
	var buf bytes.Buffer
	w.lw, w.view = newLayerWriter(&buf), view
	view.made = map[string]bool{}
	if err := w.mkdirAll(p); err != nil {
		return fmt.Errorf("WORKDIR %s: %w", p, err)
	}
	if _, err := w.lw.close(); err != nil {
		return err
	}
	return b.commitLayer(s, buf.Bytes(), "WORKDIR "+p)
}

// resolveUser is a USER (user[:group]) as ids, looked up in the files at
// root; a stage without files has numbers only.
func resolveUser(root, spec string) (runtime.ExecUser, error) {
	if root != "" {
		return runtime.ResolveUser(root, spec)
	}
	u, g, hasG := strings.Cut(spec, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || (hasG && err2 != nil) {
		return runtime.ExecUser{}, errdefs.Invalid("user %q: names need a base image with /etc/passwd; give numbers", spec)
	}
	return runtime.ExecUser{UID: uid, GID: gid}, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
