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
// wait returns the first problem once the reader is done with the stream.
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

// checkedTarInfo is CheckedTarWith that also tells what it saw.
func checkedTarInfo(src io.Reader, wantDiffID string, checks LayerChecks) (r io.Reader, wait func() (*tarInfo, error)) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	info := &tarInfo{uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
	go func() {
		err := checkTar(src, pw, wantDiffID, checks, info)
		pw.CloseWithError(err)
		done <- err
	}()
	var result error
	var waited bool
	return pr, func() (*tarInfo, error) {
		if !waited {
			// Unblock the checker if the reader stopped early.
			pr.CloseWithError(errReaderClosed)
			result = <-done
			waited = true
		}
		return info, result
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

// errReaderClosed is what the checker sees when its reader stopped early
// (the reader's own error is the one that matters then).
var errReaderClosed = errors.New("layer reader closed")

// heldBytes keeps what the tar reader read of an entry's header until
// the entry is checked. An entry's content, read once its header is
// out, goes straight through (passing): holding it would only add a copy.
type heldBytes struct {
	buf     bytes.Buffer
	out     io.Writer
	sum     hash.Hash
	n       int64
	passing bool
	err     error // the out's failure while passing
}

func (h *heldBytes) Write(p []byte) (int, error) {
	if !h.passing {
		return h.buf.Write(p)
	}
	h.sum.Write(p)
	h.n += int64(len(p))
	if _, err := h.out.Write(p); err != nil {
		h.err = err
		return 0, err
	}
	return len(p), nil
}

func (h *heldBytes) release() error {
	h.sum.Write(h.buf.Bytes())
	h.n += int64(h.buf.Len())
	_, err := h.buf.WriteTo(h.out)
	return err
}

// checkChunk is how much of an entry's content the checker reads at
// once: each read is one hand-over to the next stage (a goroutine, and
// at the end of the chain the unpacking thread), so large reads make
// few of them.
const checkChunk = 1 << 20

func checkTar(src io.Reader, out io.Writer, wantDiffID string, checks LayerChecks, info *tarInfo) error {
	held := &heldBytes{out: out, sum: sha256.New()}
	tr := tar.NewReader(io.TeeReader(src, held))
	links := map[string]string{} // symlinks made by this layer: name -> target
	seen := map[string]bool{}    // non-directory entries, with NoDuplicates
	chunk := make([]byte, checkChunk)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.Invalid("reading layer tar: %v", err)
		}
		if err := checkEntry(h, links); err != nil {
			return err
		}
		if err := checks.check(h, seen); err != nil {
			return err
		}
		info.note(h)
		if err := held.release(); err != nil {
			return err
		}
		if err := passContent(tr, held, chunk); err != nil {
			return err
		}
	}
	// Keep whatever follows the end-of-archive blocks: it is part of the digest.
	if _, err := io.Copy(io.Discard, io.TeeReader(src, held)); err != nil {
		return err
	}
	if err := held.release(); err != nil {
		return err
	}
	info.size = held.n
	if wantDiffID != "" {
		got := "sha256:" + hex.EncodeToString(held.sum.Sum(nil))
		if got != wantDiffID {
			return errdefs.Invalid("layer content digest %s does not match the image config's %s", got, wantDiffID)
		}
	}
	return nil
}

// passContent passes the current entry's content through held, whose
// header bytes are out already. The next header is held again.
func passContent(tr *tar.Reader, held *heldBytes, chunk []byte) error {
	held.passing = true
	defer func() { held.passing = false }()
	for {
		_, err := tr.Read(chunk)
		if held.err != nil {
			return held.err
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.Invalid("reading layer tar: %v", err)
		}
	}
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
