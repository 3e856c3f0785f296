package storage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

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

// sparseTar is an old-GNU sparse entry of 4 GiB that takes two
// blocks of archive: Go's tar reader expands it to zeros.
func sparseTar(t testing.TB) []byte {
	t.Helper()
	hdr := make([]byte, 512)
	copy(hdr[0:], "big")
	copy(hdr[100:], "0000644\x00")
	copy(hdr[108:], "0000000\x00")
	copy(hdr[116:], "0000000\x00")
	copy(hdr[124:], "00000000000\x00")
	copy(hdr[136:], "00000000000\x00")
	hdr[156] = 'S'
	copy(hdr[257:], "ustar  \x00")
	copy(hdr[483:], fmt.Sprintf("%011o\x00", int64(1)<<32))
	copy(hdr[148:], "        ")
	sum := 0
	for _, b := range hdr {
		sum += int(b)
	}
	copy(hdr[148:], fmt.Sprintf("%06o\x00 ", sum))
	return append(hdr, make([]byte, 1024)...)
}

// A sparse entry would unpack to any size from a few bytes: refused at
// once, in layers and in image archives.
func TestSparseRefused(t *testing.T) {
	data := sparseTar(t)
	tr := tar.NewReader(bytes.NewReader(data))
	if h, err := tr.Next(); err != nil || h.Size != 1<<32 {
		t.Fatalf("the crafted entry does not read as 4 GiB: %+v %v", h, err)
	}
	done := make(chan error, 2)
	go func() {
		r, wait := CheckedTar(bytes.NewReader(data), "")
		_, _ = io.Copy(io.Discard, r)
		done <- wait()
	}()
	go func() {
		root, err := os.OpenRoot(t.TempDir())
		if err != nil {
			done <- err
			return
		}
		defer root.Close()
		done <- extractTar(bytes.NewReader(data), root)
	}()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "sparse") {
				t.Errorf("err = %v, want a refusal naming the sparse entry", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a sparse entry was expanded instead of refused")
		}
	}
}

// The checker records what the store keeps of a layer: its size, its
// owners (whiteouts aside) and a root entry's mode.
func TestCheckedTarInfo(t *testing.T) {
	data := mkTar(t,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o700},
		&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 50},
		&tar.Header{Name: ".wh.b", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 7, Gid: 7},
	)
	r, wait := checkedTarInfo(bytes.NewReader(data), "", LayerChecks{})
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	info, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.size != int64(len(data)) {
		t.Errorf("size %d, want %d", info.size, len(data))
	}
	if got := fmt.Sprint(sortedIDs(info.uids), sortedIDs(info.gids)); got != "[0 1000] [0 50]" {
		t.Errorf("uids gids %s, want [0 1000] [0 50]", got)
	}
	if info.rootMode == nil || *info.rootMode != 0o700 {
		t.Errorf("root mode %v, want 0700", info.rootMode)
	}
	plain := mkTar(t, &tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644})
	r, wait = checkedTarInfo(bytes.NewReader(plain), "", LayerChecks{})
	io.Copy(io.Discard, r)
	if info, _ := wait(); info.rootMode != nil {
		t.Errorf("a tar without a root entry: root mode %o", *info.rootMode)
	}
}
