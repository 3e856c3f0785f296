package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
)

// What ADD does beyond COPY: unpack local tar archives, download URLs.

func isArchive(p string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// addArchive copies the entries of a (possibly compressed) tar archive
// into tw under dir. Names are cleaned, so nothing climbs out of dir.
func (b *builder) addArchive(lw *layerWriter, file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	dr, err := archive.DecompressStream(f)
	if err != nil {
		return errdefs.Invalid("reading the archive: %v", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	under := func(name string) string { return strings.TrimPrefix(path.Join(dir, path.Clean("/"+name)), "/") }
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.Invalid("reading the archive: %v", err)
		}
		h.Name = under(h.Name)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = under(h.Linkname)
		}
		if err := lw.add(h, tr); err != nil {
			return err
		}
	}
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// maxADDDownload bounds what ADD URL holds in memory for one file.
const maxADDDownload = 1 << 30

// addURL downloads src into the layer as Docker's ADD does: not unpacked,
// mode 0600 unless --chmod, named after the URL's last path element when
// the destination is a directory, checked against --checksum if given.
func (b *builder) addURL(lw *layerWriter, src, dest string, destIsDir bool, uid, gid int, mode *os.FileMode, checksum string) error {
	u, err := url.Parse(src)
	if err != nil {
		return errdefs.Invalid("ADD %s: %v", src, err)
	}
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, src, nil)
	if err != nil {
		return errdefs.Invalid("ADD %s: %v", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ADD %s: the server answered %s", src, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxADDDownload+1))
	if err != nil {
		return fmt.Errorf("ADD %s: %w", src, err)
	}
	if len(body) > maxADDDownload {
		return errdefs.Invalid("ADD %s: larger than %d bytes; download it in a RUN step instead", src, maxADDDownload)
	}
	if checksum != "" {
		want, ok := strings.CutPrefix(checksum, "sha256:")
		got := sha256.Sum256(body)
		if !ok {
			return errdefs.Invalid("ADD --checksum=%s: want sha256:HEX", checksum)
		}
		if hex.EncodeToString(got[:]) != want {
			return errdefs.Invalid("ADD %s: checksum mismatch: got sha256:%x, want %s", src, got, checksum)
		}
	}
	target := dest
	if destIsDir || strings.HasSuffix(dest, "/") {
		name := path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			return errdefs.Invalid("ADD %s: the URL names no file; give a destination file name, not a directory", src)
		}
		target = path.Join(dest, name)
	}
	fm := os.FileMode(0o600)
	if mode != nil {
		fm = *mode
	}
	mtime := time.Unix(0, 0)
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	hdr := &tar.Header{Name: strings.TrimPrefix(path.Clean(target), "/"), Mode: int64(fm), Size: int64(len(body)), Uid: uid, Gid: gid, Typeflag: tar.TypeReg, ModTime: mtime}
	return lw.add(hdr, bytes.NewReader(body))
}
