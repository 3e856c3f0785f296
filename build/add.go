package build

import (
	"archive/tar"
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

// isArchive says whether a local file is a tar archive, plain or
// compressed, by its contents (as Docker does, whatever its name).
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	dr, err := archive.DecompressStream(f)
	if err != nil {
		return false
	}
	defer dr.Close()
	_, err = tar.NewReader(dr).Next()
	return err == nil
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

// download fetches an ADD URL as Docker's ADD does: not unpacked, mode
// 0600 unless --chmod, named after the URL's last path element when the
// destination is a directory, checked against --checksum if given.
func (b *builder) download(src, checksum string) (copySource, error) {
	var out copySource
	u, err := url.Parse(src)
	if err != nil {
		return out, errdefs.Invalid("ADD %s: %v", src, err)
	}
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, src, nil)
	if err != nil {
		return out, errdefs.Invalid("ADD %s: %v", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, fmt.Errorf("ADD %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("ADD %s: the server answered %s", src, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxADDDownload+1))
	if err != nil {
		return out, fmt.Errorf("ADD %s: %w", src, err)
	}
	if len(body) > maxADDDownload {
		return out, errdefs.Invalid("ADD %s: larger than %d bytes; download it in a RUN step instead", src, maxADDDownload)
	}
	if checksum != "" {
		want, ok := strings.CutPrefix(checksum, "sha256:")
		got := sha256.Sum256(body)
		if !ok {
			return out, errdefs.Invalid("ADD --checksum=%s: want sha256:HEX", checksum)
		}
		if hex.EncodeToString(got[:]) != want {
			return out, errdefs.Invalid("ADD %s: checksum mismatch: got sha256:%x, want %s", src, got, checksum)
		}
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "" // only a file destination will do
	}
	out = copySource{source: source{name: name}, data: body, dataMode: 0o600, mtime: time.Unix(0, 0)}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		out.mtime = lm
	}
	return out, nil
}
