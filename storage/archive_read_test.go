package storage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiff-project/skiff/errdefs"
)

// hostPlatform is what load picks from an index by default.
var hostPlatform = v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}

func tempRoot(t testing.TB) (*os.Root, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

func TestExtractArchive(t *testing.T) {
	reg := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	link := func(typ byte, n, to string) *tar.Header {
		return &tar.Header{Name: n, Linkname: to, Typeflag: typ, Mode: 0o644}
	}
	good := mkTar(t, reg("manifest.json"), reg("a/layer.tar"), link(tar.TypeSymlink, "b/layer.tar", "../a/layer.tar"), link(tar.TypeLink, "c", "a/layer.tar"))
	tests := []struct {
		name string
		data []byte
		bad  bool
	}{
		{"good", good, false},
		{"dotdot", mkTar(t, reg("../evil")), true},
		{"absolute", mkTar(t, reg("/etc/evil")), true},
		{"abs-symlink", mkTar(t, link(tar.TypeSymlink, "l", "/etc")), true},
		{"rel-symlink-out", mkTar(t, link(tar.TypeSymlink, "a/l", "../../etc")), true},
		{"through-symlink", mkTar(t, link(tar.TypeSymlink, "l", "."), reg("l/../../x")), true},
		{"hardlink-out", mkTar(t, link(tar.TypeLink, "h", "../../etc/passwd")), true},
		{"duplicate", mkTar(t, reg("manifest.json"), reg("manifest.json")), true},
		{"device", mkTar(t, &tar.Header{Name: "d", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}), true},
		{"fifo", mkTar(t, &tar.Header{Name: "p", Typeflag: tar.TypeFifo}), true},
		{"not-tar", []byte("hello, this is not a tar archive at all, but long enough to look at: " + string(make([]byte, 600))), true},
		{"empty", nil, true},
		{"truncated", good[:520], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := tempRoot(t)
			err := extractArchive(bytes.NewReader(tc.data), root)
			if tc.bad != (err != nil) {
				t.Fatalf("bad=%v, err=%v", tc.bad, err)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not an invalid-argument error", err)
			}
		})
	}
}

func diffIDsOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

// checkLayers opens each layer as Load would and compares its digest.
func checkLayers(t *testing.T, root *os.Root, ai archiveImage) {
	t.Helper()
	if len(ai.Layers) != len(ai.DiffIDs) {
		t.Fatalf("%d layers, %d diff IDs", len(ai.Layers), len(ai.DiffIDs))
	}
	for i, p := range ai.Layers {
		rc, err := layerOpener(root, p)()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != ai.DiffIDs[i] {
			t.Errorf("layer %d: %s, want %s", i, got, ai.DiffIDs[i])
		}
	}
}

// TestReadDockerArchive reads a docker-archive written by
// go-containerregistry (gzip layers, as `docker save` of old did not).
func TestReadDockerArchive(t *testing.T) {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/app:v1")
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	root, _ := tempRoot(t)
	if err := extractArchive(&buf, root); err != nil {
		t.Fatal(err)
	}
	imgs, err := readArchive(root, hostPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || len(imgs[0].Names) != 1 || imgs[0].Names[0] != "example.com/app:v1" {
		t.Fatalf("images %+v", imgs)
	}
	want := diffIDsOf(t, img)
	if len(imgs[0].DiffIDs) != 2 || imgs[0].DiffIDs[0] != want[0] || imgs[0].DiffIDs[1] != want[1] {
		t.Errorf("diff IDs %v, want %v", imgs[0].DiffIDs, want)
	}
	checkLayers(t, root, imgs[0])
}

// TestReadOCILayout reads an OCI layout directory written by
// go-containerregistry, and refuses it when a blob is changed.
func TestReadOCILayout(t *testing.T) {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, dir := tempRoot(t)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "example.com/app:v2"})); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	imgs, err := readArchive(root, hostPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || len(imgs[0].Names) != 1 || imgs[0].Names[0] != "example.com/app:v2" || imgs[0].Digest == "" {
		t.Fatalf("images %+v", imgs)
	}
	checkLayers(t, root, imgs[0])

	layers, _ := img.Layers()
	d, _ := layers[1].Digest()
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readArchive(root, hostPlatform); err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a changed blob: err %v, want an invalid-argument error", err)
	}
}

// TestReadArchiveErrors covers manifests that do not add up.
func TestReadArchiveErrors(t *testing.T) {
	img, _ := random.Image(256, 1)
	img2, _ := mutate.Config(img, v1.Config{Cmd: []string{"x"}})
	cfg, _ := img2.RawConfigFile()
	tests := map[string]map[string]string{
		"nothing":         {"x": "y"},
		"bad-json":        {"manifest.json": "{"},
		"missing-config":  {"manifest.json": `[{"Config":"c.json","Layers":[]}]`},
		"escaping-config": {"manifest.json": `[{"Config":"../c.json","Layers":[]}]`},
		"missing-layer":   {"manifest.json": `[{"Config":"c.json","Layers":["l.tar"]}]`, "c.json": string(cfg)},
		"count":           {"manifest.json": `[{"Config":"c.json","Layers":[]}]`, "c.json": string(cfg)},
		"bad-tag":         {"manifest.json": `[{"Config":"c.json","RepoTags":["Bad::Tag"],"Layers":["l.tar"]}]`, "c.json": string(cfg), "l.tar": ""},
		"empty-list":      {"manifest.json": `[]`},
		"oci-no-layout":   {"index.json": `{"schemaVersion":2,"manifests":[]}`},
		"oci-missing":     {"index.json": `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + hex.EncodeToString(make([]byte, 32)) + `","size":2}]}`, "oci-layout": `{"imageLayoutVersion":"1.0.0"}`},
		"oci-bad-digest":  {"index.json": `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":2}]}`, "oci-layout": `{"imageLayoutVersion":"1.0.0"}`},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			root, dir := tempRoot(t)
			for f, body := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := readArchive(root, hostPlatform); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// FuzzExtractArchive feeds arbitrary bytes to the outer archive reader and
// the manifest parsers: they must not panic and must never write outside
// their directory.
func FuzzExtractArchive(f *testing.F) {
	f.Add(mkTar(f, &tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(mkTar(f, &tar.Header{Name: "l", Linkname: "/etc", Typeflag: tar.TypeSymlink}, &tar.Header{Name: "l/x", Typeflag: tar.TypeReg}))
	f.Add(mkTar(f, &tar.Header{Name: "a", Linkname: "..", Typeflag: tar.TypeSymlink}, &tar.Header{Name: "a/x", Typeflag: tar.TypeReg}))
	f.Add(mkTar(f, &tar.Header{Name: "h", Linkname: "../x", Typeflag: tar.TypeLink}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "root")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if extractTar(bytes.NewReader(data), root) == nil {
			_, _ = readArchive(root, hostPlatform)
		}
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 {
			t.Fatalf("extraction wrote outside its directory: %v", ents)
		}
	})
}

// FuzzCheckedTar feeds arbitrary layers to CheckedTar with every check on:
// it must not panic, and what it lets through is the input, byte for byte,
// with no entry outside the root.
func FuzzCheckedTar(f *testing.F) {
	f.Add(mkTar(f, &tar.Header{Name: "bin/sh", Linkname: "busybox", Typeflag: tar.TypeSymlink}, &tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg}))
	f.Add(mkTar(f, &tar.Header{Name: "../../x", Typeflag: tar.TypeReg}))
	f.Add(mkTar(f, &tar.Header{Name: "e", Linkname: "/tmp", Typeflag: tar.TypeSymlink}, &tar.Header{Name: "e/x", Typeflag: tar.TypeReg}))
	f.Add(mkTar(f, &tar.Header{Name: "d", Typeflag: tar.TypeChar}))
	f.Add(mkTar(f, &tar.Header{Name: "f", Typeflag: tar.TypeReg}, &tar.Header{Name: "f", Typeflag: tar.TypeReg}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, wait := CheckedTarWith(bytes.NewReader(data), "", LayerChecks{NoDevices: true, NoDuplicates: true})
		out, rerr := io.ReadAll(r)
		err := wait()
		if err == nil && rerr == nil {
			if !bytes.Equal(out, data) {
				t.Fatalf("accepted layer changed: %d bytes in, %d out", len(data), len(out))
			}
			tr := tar.NewReader(bytes.NewReader(out))
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				if _, ok := inside(h.Name); !ok {
					t.Fatalf("accepted entry %q outside the root", h.Name)
				}
				if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
					t.Fatalf("accepted device %q", h.Name)
				}
			}
		}
	})
}
