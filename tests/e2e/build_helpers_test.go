package e2e

import (
	"archive/tar"
	"strings"
	"testing"
)

// tarWriter builds small tar archives for build contexts.
type tarWriter struct {
	sb *strings.Builder
	tw *tar.Writer
}

func newTarWriter(sb *strings.Builder) *tarWriter { return &tarWriter{sb: sb, tw: tar.NewWriter(sb)} }

func (w *tarWriter) file(name, body string) {
	_ = w.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = w.tw.Write([]byte(body))
}

func (w *tarWriter) close(t *testing.T) string {
	must(t, w.tw.Close())
	return w.sb.String()
}
