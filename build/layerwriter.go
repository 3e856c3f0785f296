package build

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// layerWriter writes the tar of a COPY/ADD layer and, beside it, the
// step's content key: each entry's name, mode, owner, size and link
// target, and its bytes; not its times, so touching a file keeps the cache.
type layerWriter struct {
	tw  *tar.Writer
	key hash.Hash
}

func newLayerWriter(w io.Writer) *layerWriter {
	return &layerWriter{tw: tar.NewWriter(w), key: sha256.New()}
}

// add writes one entry; body is nil for entries without data.
func (l *layerWriter) add(h *tar.Header, body io.Reader) error {
	fmt.Fprintf(l.key, "%s %o %d %d %d %s\n", h.Name, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname)
	if err := l.tw.WriteHeader(h); err != nil {
		return err
	}
	if body == nil {
		return nil
	}
	_, err := io.Copy(io.MultiWriter(l.tw, l.key), body)
	return err
}

// close ends the tar and gives the content key.
func (l *layerWriter) close() (string, error) {
	if err := l.tw.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(l.key.Sum(nil)), nil
}
