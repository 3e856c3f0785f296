package storage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"hash"
	"io"
	"path"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
)

// CheckedTar passes an uncompressed layer tar through unchanged, byte for
// byte, but holds back each entry's header until the entry is checked:
// nothing that would land outside the root (a `../` name, a hard link to
// outside, a write through a symlink this layer made to outside) ever
// reaches the reader. wantDiffID, when set, must match the stream's digest.
// The reader fails with the problem; wait, called once the reader is
// done with the stream (not while it still reads), returns it too.
func CheckedTar(src io.Reader, wantDiffID string) (r io.Reader, wait func() error) {
	return CheckedTarWith(src, wantDiffID, LayerChecks{})
}

// LayerChecks are checks beyond CheckedTar's own, for layers that come
// from files (`skiff load`) rather than from a registry.
type LayerChecks struct {
	// NoDevices refuses block and character devices (a rootless store
	// cannot create them and would drop them silently).
	NoDevices bool
	// NoDuplicates refuses a second entry for the same non-directory path.
	NoDuplicates bool
}

// CheckedTarWith is CheckedTar with extra checks.
func CheckedTarWith(src io.Reader, wantDiffID string, checks LayerChecks) (r io.Reader, wait func() error) {
	r, waitInfo := checkedTarInfo(src, wantDiffID, checks)
	return r, func() error {
		_, err := waitInfo()
		return err
	}
}

// tarInfo is what the checker learns of a layer tar on the way: what the
// store records of a layer.
type tarInfo struct {
	size     int64               // bytes of the tar stream
	uids     map[uint32]struct{} // owners, whiteouts aside
	gids     map[uint32]struct{}
	rootMode *int64 // the mode of a "./" entry, when there is one
}

// checkedTarInfo is CheckedTarWith that also tells what it saw. The
// checker runs in the reader's goroutine, as it reads: entry content goes
// from src straight into the reader's buffer (only headers are held and
// copied), with no goroutine and pipe between them.
func checkedTarInfo(src io.Reader, wantDiffID string, checks LayerChecks) (r io.Reader, wait func() (*tarInfo, error)) {
	c := &checker{
		src: src, want: wantDiffID, checks: checks,
		held:  &heldBytes{sum: sha256.New()},
		links: map[string]string{}, seen: map[string]bool{},
		info: &tarInfo{uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}},
	}
	c.tr = tar.NewReader(io.TeeReader(src, c.held))
	return c, func() (*tarInfo, error) {
		if c.err == nil {
			// The reader stopped before the end: its own error is
			// the one that matters.
			c.err = errReaderClosed
		}
		if c.err == io.EOF {
			return c.info, nil
		}
		return c.info, c.err
	}
}

// note records an entry's owners and the root directory's mode.
func (t *tarInfo) note(h *tar.Header) {
	if !strings.HasPrefix(path.Base(h.Name), ".wh.") {
		t.uids[uint32(h.Uid)] = struct{}{}
		t.gids[uint32(h.Gid)] = struct{}{}
	}
	if h.Typeflag == tar.TypeDir && path.Clean("/"+h.Name) == "/" {
		mode := h.Mode
		t.rootMode = &mode
	}
}

// errReaderClosed is what wait returns when the reader stopped early
// (the reader's own error is the one that matters then).
var errReaderClosed = errors.New("layer reader closed")

// heldBytes sees every byte the tar reader reads. It keeps an entry's
// header until the entry is checked; an entry's content, read once its
// header is out, only goes into the digest (passing): it is in the
// reader's buffer already.
type heldBytes struct {
	buf     bytes.Buffer
	sum     hash.Hash
	n       int64
	passing bool
}

func (h *heldBytes) Write(p []byte) (int, error) {
	if !h.passing {
		return h.buf.Write(p)
	}
	h.sum.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// release lets the held bytes out: counted, and returned to be read.
func (h *heldBytes) release() []byte {
	b := h.buf.Bytes()
	h.sum.Write(b)
	h.n += int64(len(b))
	return b
}

// checker is the reader checkedTarInfo returns.
type checker struct {
	src    io.Reader
	tr     *tar.Reader
	held   *heldBytes
	want   string
	checks LayerChecks
	links  map[string]string // symlinks made by this layer: name -> target
	seen   map[string]bool   // non-directory entries, with NoDuplicates
	info   *tarInfo

	out     []byte // released header bytes not read yet
	content bool   // reading an entry's content
	ended   bool   // past the end-of-archive blocks
	err     error  // io.EOF once all is read and checked, or the problem
}

func (c *checker) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			if len(c.out) == 0 {
				c.held.buf.Reset()
			}
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.step(p)
		if err != nil {
			c.err = err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// step reads some content into p, or the next header into out; an
// error ends the stream (io.EOF when it is whole and checked).
func (c *checker) step(p []byte) (int, error) {
	switch {
	case c.content:
		c.held.passing = true
		n, err := c.tr.Read(p)
		c.held.passing = false
		if err == io.EOF {
			c.content = false
			err = nil
		} else if err != nil {
			err = errdefs.Invalid("reading layer tar: %v", err)
		}
		return n, err
	case c.ended:
		// Whatever follows the end-of-archive blocks is part of the
		// digest.
		c.held.passing = true
		n, err := io.TeeReader(c.src, c.held).Read(p)
		c.held.passing = false
		if err == io.EOF {
			err = c.finish()
		}
		return n, err
	}
	h, err := c.tr.Next()
	if err == io.EOF {
		c.ended = true
		c.out = c.held.release()
		return 0, nil
	}
	if err != nil {
		return 0, errdefs.Invalid("reading layer tar: %v", err)
	}
	if err := checkEntry(h, c.links); err != nil {
		return 0, err
	}
	if err := c.checks.check(h, c.seen); err != nil {
		return 0, err
	}
	c.info.note(h)
	c.out = c.held.release()
	c.content = true
	return 0, nil
}

// finish checks the digest at the end of the stream.
func (c *checker) finish() error {
	c.info.size = c.held.n
	if c.want != "" {
		got := "sha256:" + hex.EncodeToString(c.held.sum.Sum(nil))
		if got != c.want {
			return errdefs.Invalid("layer content digest %s does not match the image config's %s", got, c.want)
		}
	}
	return io.EOF
}

// sparse reports whether a tar entry is a GNU sparse file: a few bytes of
// archive that read back as up to 2^63 bytes of file.
func sparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// inside cleans a tar name relative to the root; ok is false when it
// climbs out of it.
func inside(name string) (clean string, ok bool) {
	c := path.Clean("/" + name)
	// path.Clean of an absolute path never keeps "..", so compare the
	// relative form too.
	rel := path.Clean(strings.TrimPrefix(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return c, false
	}
	return c, true
}

func checkEntry(h *tar.Header, links map[string]string) error {
	name, ok := inside(h.Name)
	if !ok {
		return errdefs.Invalid("layer entry %q points outside the root filesystem", h.Name)
	}
	if sparse(h) {
		return errdefs.Invalid("layer entry %q is a sparse file, which image layers never hold (it could unpack to any size)", h.Name)
	}
	// A write below a symlink this layer created, when that symlink leads
	// out of the root, would land on the host if extracted naively.
	for dir := path.Dir(name); dir != "/"; dir = path.Dir(dir) {
		if target, isLink := links[dir]; isLink && escapes(dir, target) {
			return errdefs.Invalid("layer entry %q is written through symlink %q -> %q", h.Name, dir, target)
		}
	}
	switch h.Typeflag {
	case tar.TypeLink:
		if _, ok := inside(h.Linkname); !ok {
			return errdefs.Invalid("layer hard link %q -> %q points outside the root filesystem", h.Name, h.Linkname)
		}
	case tar.TypeSymlink:
		links[name] = h.Linkname
	default:
		delete(links, name)
	}
	return nil
}

// escapes reports whether a symlink at link with target leads out of the
// root when followed on the host (an absolute target always does).
func escapes(link, target string) bool {
	if path.IsAbs(target) {
		return true
	}
	j := path.Join(path.Dir(strings.TrimPrefix(link, "/")), target)
	return j == ".." || strings.HasPrefix(j, "../")
}

func (c LayerChecks) check(h *tar.Header, seen map[string]bool) error {
	if c.NoDevices && (h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock) {
		return errdefs.Invalid("layer entry %q is a device node, which a rootless store cannot create: load the image as root or remove the device from the layer", h.Name)
	}
	if c.NoDuplicates && h.Typeflag != tar.TypeDir {
		name, _ := inside(h.Name)
		if seen[name] {
			return errdefs.Invalid("layer entry %q appears twice", h.Name)
		}
		seen[name] = true
	}
	return nil
}
