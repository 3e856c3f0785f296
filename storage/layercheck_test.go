package storage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func mkTar(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestCheckedTar(t *testing.T) {
	reg := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	sym := func(n, to string) *tar.Header {
		return &tar.Header{Name: n, Linkname: to, Typeflag: tar.TypeSymlink, Mode: 0o777}
	}
	hard := func(n, to string) *tar.Header {
		return &tar.Header{Name: n, Linkname: to, Typeflag: tar.TypeLink, Mode: 0o644}
	}
	tests := []struct {
		name string
		hdrs []*tar.Header
		bad  bool
	}{
		{"plain", []*tar.Header{reg("bin/busybox"), sym("bin/sh", "/bin/busybox"), sym("bin/ls", "busybox")}, false},
		{"dotdot", []*tar.Header{reg("../../etc/evil")}, true},
		{"dotdot-inside", []*tar.Header{reg("a/../b")}, false},
		{"through-abs-symlink", []*tar.Header{sym("escape", "/tmp"), reg("escape/pwned")}, true},
		{"through-rel-symlink-out", []*tar.Header{sym("d/up", "../../.."), reg("d/up/pwned")}, true},
		{"through-rel-symlink-in", []*tar.Header{sym("lib", "usr/lib"), reg("lib/x")}, false},
		{"symlink-replaced", []*tar.Header{sym("escape", "/tmp"), {Name: "escape", Typeflag: tar.TypeDir, Mode: 0o755}, reg("escape/ok")}, false},
		{"hardlink-out", []*tar.Header{hard("x", "../../../etc/passwd")}, true},
		{"hardlink-in", []*tar.Header{reg("a"), hard("b", "a")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mkTar(t, tt.hdrs...)
			sum := sha256.Sum256(data)
			r, wait := CheckedTar(bytes.NewReader(data), "sha256:"+hex.EncodeToString(sum[:]))
			got, _ := io.ReadAll(r)
			err := wait()
			if tt.bad {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("want invalid argument, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("stream changed on the way through")
			}
		})
	}
}

func TestCheckedTarDigestMismatch(t *testing.T) {
	data := mkTar(t, &tar.Header{Name: "a", Typeflag: tar.TypeReg})
	r, wait := CheckedTar(bytes.NewReader(data), "sha256:"+hex.EncodeToString(make([]byte, 32)))
	io.ReadAll(r)
	if err := wait(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("want digest mismatch, got %v", err)
	}
}

func TestCheckedTarHoldsBadHeader(t *testing.T) {
	good := mkTar(t, &tar.Header{Name: "ok", Typeflag: tar.TypeReg})
	data := mkTar(t, &tar.Header{Name: "ok", Typeflag: tar.TypeReg}, &tar.Header{Name: "../evil", Typeflag: tar.TypeReg})
	r, wait := CheckedTar(bytes.NewReader(data), "")
	got, _ := io.ReadAll(r)
	wait()
	// Only the first entry (header + data + padding) may have passed.
	if len(got) > len(good)-1024 || bytes.Contains(got, []byte("evil")) {
		t.Fatalf("passed %d bytes including the bad header", len(got))
	}
}
