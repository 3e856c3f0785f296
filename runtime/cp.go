package runtime

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
)

// CopyOptions are `cp`'s flags.
type CopyOptions struct {
	Archive    bool // -a: keep uid/gid of what is copied into a container
	FollowLink bool // -L: follow a symlink given as the source
}

// containerRoot returns a path where the container's files are seen with
// everything mounted in it (a running container's /proc/PID/root), or its
// mounted root file system when it is stopped; done releases it.
func containerRoot(st *storage.Store, c *container.Container) (root string, done func(), err error) {
	if c.State.Running && c.State.Pid > 0 {
		return fmt.Sprintf("/proc/%d/root", c.State.Pid), func() {}, nil
	}
	root, err = st.Raw().Mount(c.ID, "")
	if err != nil {
		return "", nil, fmt.Errorf("mounting the file system of %s: %w", c.Name, err)
	}
	return root, func() { _, _ = st.Raw().Unmount(c.ID, false) }, nil
}

// contentsOnly is Docker's SRC/. : copy what is in the directory, not it.
func contentsOnly(p string) bool { return strings.HasSuffix(p, "/.") || p == "." }

// CopyFrom copies ctrPath out of a container to hostDest, or as a tar
// stream to w when hostDest is "-". Symlinks are resolved inside the
// container's root, never on the host.
func CopyFrom(st *storage.Store, ref, ctrPath, hostDest string, w io.Writer, o CopyOptions) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	root, done, err := containerRoot(st, c)
	if err != nil {
		return err
	}
	defer done()
	root, inner, _ := locate(c, root, ctrPath)
	src, err := resolveIn(root, inner, o.FollowLink)
	if err != nil {
		return err
	}
	st1, err := os.Lstat(src)
	if err != nil {
		return errdefs.NotFound("could not find the file %s in container %s", ctrPath, c.Name)
	}
	opts := &archive.TarOptions{IncludeFiles: []string{filepath.Base(src)}}
	if hostDest == "-" {
		rc, err := tarOf(filepath.Dir(src), opts, st1, src)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, rc)
		return err
	}
	// As with Docker's CLI, files copied out belong to whoever runs cp,
	// with or without -a: -a only keeps the owners of files copied in
	// (and a tar stream on "-" always carries them).
	return copyTree(src, c.Name+":"+ctrPath, st1, contentsOnly(ctrPath), hostDest, "", false, "")
}

// PathStat describes a path in a container, as Docker's archive API
// reports it (the X-Docker-Container-Path-Stat header).
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// StatPath describes ctrPath in a container; a symlink is not followed
// (LinkTarget is where it leads, resolved inside the container).
func StatPath(st *storage.Store, ref, ctrPath string) (*PathStat, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	root, done, err := containerRoot(st, c)
	if err != nil {
		return nil, err
	}
	defer done()
	root, inner, _ := locate(c, root, ctrPath)
	p, err := resolveIn(root, inner, false)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, errdefs.NotFound("could not find the file %s in container %s", ctrPath, c.Name)
	}
	ps := &PathStat{Name: filepath.Base(path.Clean("/" + ctrPath)), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&os.ModeSymlink != 0 {
		if t, err := resolveIn(root, inner, true); err == nil {
			ps.LinkTarget = "/" + strings.TrimPrefix(strings.TrimPrefix(t, root), "/")
		}
	}
	return ps, nil
}

// CopyTo copies hostSrc (or a tar stream from r when hostSrc is "-")
// into a container at ctrPath. Writes happen chrooted into the
// container's root, so its symlinks cannot lead outside.
func CopyTo(st *storage.Store, ref, hostSrc string, r io.Reader, ctrPath string, o CopyOptions) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	root, done, err := containerRoot(st, c)
	if err != nil {
		return err
	}
	defer done()
	root, inner, ro := locate(c, root, ctrPath)
	if ro {
		return errdefs.Invalid("cannot copy into %s of container %s: it is on a read-only mount", ctrPath, c.Name)
	}
	if hostSrc == "-" {
		dest, err := securejoin.SecureJoin(root, inner)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(dest); err != nil || !fi.IsDir() {
			return errdefs.Invalid("destination %s in container %s must be an existing directory when copying a tar stream", ctrPath, c.Name)
		}
		return untarIn(r, dest, root, o.Archive)
	}
	if o.FollowLink {
		if p, err := filepath.EvalSymlinks(hostSrc); err == nil {
			hostSrc = p
		}
	}
	fi, err := os.Lstat(hostSrc)
	if err != nil {
		return errdefs.NotFound("could not find %s on the host: %v", hostSrc, err)
	}
	dest, err := securejoin.SecureJoin(root, inner)
	if err != nil {
		return err
	}
	return copyTree(hostSrc, hostSrc, fi, contentsOnly(hostSrc), dest, c.Name+":"+ctrPath, o.Archive, root)
}

// resolveIn joins a container path to root, resolving symlinks inside
// root; the last element stays unresolved unless follow is set.
func resolveIn(root, p string, follow bool) (string, error) {
	clean := path.Clean("/" + p)
	if follow || clean == "/" {
		return securejoin.SecureJoin(root, clean)
	}
	dir, err := securejoin.SecureJoin(root, path.Dir(clean))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(clean)), nil
}

// copyTree applies Docker's cp rules for one source (a file, link or
// directory) and a destination. root, when set, is the container's root
// the destination lies in (extraction is chrooted there, keeping the
// owners with keepOwner); srcShown and shown name the source and the
// destination in messages.
func copyTree(src, srcShown string, fi os.FileInfo, contents bool, dest, shown string, keepOwner bool, root string) error {
	if shown == "" {
		shown = dest
	}
	if contents {
		src = strings.TrimSuffix(src, "/.")
	}
	trailingSlash := strings.HasSuffix(shown, "/")
	di, derr := os.Stat(dest)
	exists := derr == nil
	if !exists && !errors.Is(derr, os.ErrNotExist) {
		return derr
	}
	parent := filepath.Dir(strings.TrimSuffix(dest, "/"))
	if !exists {
		if pi, err := os.Stat(parent); err != nil || !pi.IsDir() {
			return errdefs.NotFound("destination directory %s does not exist", filepath.Dir(strings.TrimSuffix(shown, "/")))
		}
	}
	base := filepath.Base(src)
	opts := &archive.TarOptions{IncludeFiles: []string{base}}
	from := filepath.Dir(src)
	var into string
	switch {
	case fi.IsDir() && exists && !di.IsDir():
		return errdefs.Invalid("cannot copy a directory to a file: %s", shown)
	case fi.IsDir() && exists && contents:
		from, opts, into = src, &archive.TarOptions{}, dest
	case fi.IsDir() && exists:
		into = dest
	case fi.IsDir():
		// A new directory named like the destination, with src's content.
		opts.RebaseNames = map[string]string{base: filepath.Base(dest)}
		into = parent
	case trailingSlash && !exists:
		return errdefs.NotFound("destination directory %s does not exist", shown)
	case exists && di.IsDir():
		into = dest
	default:
		opts.RebaseNames = map[string]string{base: filepath.Base(dest)}
		into = parent
	}
	if err := checkOverwrite(srcShown, fi, into, opts, shown); err != nil {
		return err
	}
	rc, err := tarOf(from, opts, fi, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	if root != "" {
		return untarIn(rc, into, root, keepOwner)
	}
	// Docker's rule, at every depth: a file never replaces a directory,
	// nor a directory a file. On the host the files are the caller's.
	uopts := &archive.TarOptions{NoLchown: true, NoOverwriteDirNonDir: true}
	if err := archive.Untar(rc, into, uopts); err != nil {
		return fmt.Errorf("copying %s to %s: %w", srcShown, shown, err)
	}
	return nil
}

// checkOverwrite refuses, before anything is written, a copy whose
// top-level entry would replace a directory with a file or a file with
// a directory, naming both.
func checkOverwrite(src string, fi os.FileInfo, into string, opts *archive.TarOptions, shown string) error {
	if len(opts.IncludeFiles) != 1 {
		return nil // the contents of a directory go into an existing one
	}
	name := opts.IncludeFiles[0]
	if r, ok := opts.RebaseNames[name]; ok {
		name = r
	}
	target := filepath.Join(into, name)
	ti, err := os.Lstat(target)
	if err != nil {
		return nil
	}
	shownTarget := shown
	if filepath.Base(strings.TrimSuffix(shown, "/")) != name {
		shownTarget = path.Join(shown, name)
	}
	switch {
	case ti.IsDir() && !fi.IsDir():
		return fmt.Errorf("cannot overwrite directory %s with non-directory %s: %w", shownTarget, src, errdefs.ErrConflict)
	case !ti.IsDir() && fi.IsDir():
		return fmt.Errorf("cannot overwrite non-directory %s with directory %s: %w", shownTarget, src, errdefs.ErrConflict)
	}
	return nil
}

// untarIn extracts a tar into dest chrooted at root; without keepOwner
// the files belong to the container's root, as Docker's cp makes them.
func untarIn(r io.Reader, dest, root string, keepOwner bool) error {
	opts := &archive.TarOptions{NoOverwriteDirNonDir: true}
	if !keepOwner {
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	}
	if err := chrootarchive.UntarWithRoot(r, dest, opts, root); err != nil {
		return fmt.Errorf("copying into the container: %w", err)
	}
	return nil
}

// tarBase makes a directory given through a link (a running container's
// /proc/PID/root) read as the directory it leads to.
func tarBase(dir string) string {
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return dir + "/."
	}
	return dir
}

// tarOf tars from with opts; a symlink given as the source is written as
// one entry by hand (the archive library refuses to look at a link whose
// target lies outside the directory it tars).
func tarOf(from string, opts *archive.TarOptions, fi os.FileInfo, src string) (io.ReadCloser, error) {
	if fi.Mode()&os.ModeSymlink == 0 || len(opts.IncludeFiles) != 1 {
		return archive.TarWithOptions(tarBase(from), opts)
	}
	target, err := os.Readlink(src)
	if err != nil {
		return nil, err
	}
	name := opts.IncludeFiles[0]
	if r, ok := opts.RebaseNames[name]; ok {
		name = r
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}

// locate finds where a container path lives: for a stopped container,
// paths under its volumes and bind mounts are in those directories, not
// in its root file system (a running one shows them through
// /proc/PID/root already). It returns the root to resolve in, the path
// inside it and whether that mount is read-only.
func locate(c *container.Container, root, ctrPath string) (string, string, bool) {
	clean := path.Clean("/" + ctrPath)
	if c.State.Running {
		return root, ctrPath, false
	}
	best, bestRoot, ro := "", "", false
	for _, m := range c.HostConfig.Mounts {
		if m.Type == container.MountTmpfs {
			continue
		}
		d := m.Destination
		if clean != d && !strings.HasPrefix(clean, strings.TrimSuffix(d, "/")+"/") || len(d) <= len(best) {
			continue
		}
		src := m.Source
		if m.Type == container.MountVolume {
			v, err := storage.GetVolume(m.Source)
			if err != nil {
				continue
			}
			src = v.Mountpoint
		}
		best, bestRoot, ro = d, src, m.ReadOnly
	}
	if best == "" {
		return root, ctrPath, false
	}
	rest := strings.TrimPrefix(clean, best)
	if rest == "" {
		rest = "/"
	}
	if strings.HasSuffix(ctrPath, "/") && !strings.HasSuffix(rest, "/") {
		rest += "/"
	}
	if strings.HasSuffix(ctrPath, "/.") {
		rest = strings.TrimSuffix(rest, "/") + "/."
	}
	return bestRoot, rest, ro
}
