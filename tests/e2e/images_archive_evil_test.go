package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// The crafted archives `skiff load` must refuse. They are generated here
// (the corpus is this code): every case fails with one error line, exit
// 1, no image, name or layer left behind and nothing written on the host.

// archEntry is one entry of a hand-made tar.
type archEntry struct {
	name, link string
	typ        byte
	body       []byte
}

func reg(name string, body []byte) archEntry {
	return archEntry{name: name, typ: tar.TypeReg, body: body}
}

func tarOf(t testing.TB, entries ...archEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write(e.body)
			must(t, err)
		}
	}
	must(t, tw.Close())
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// archImage is an image of a crafted docker-archive.
type archImage struct {
	tags    []string
	layers  [][]byte
	diffIDs []string // default: the layers' digests
}

// dockerArchive builds a docker-archive of imgs, plus extra entries.
func dockerArchive(t testing.TB, imgs []archImage, extra ...archEntry) []byte {
	t.Helper()
	var entries []archEntry
	var manifest []map[string]any
	for i, img := range imgs {
		diffIDs := img.diffIDs
		var paths []string
		for j, l := range img.layers {
			if img.diffIDs == nil {
				diffIDs = append(diffIDs, "sha256:"+sha(l))
			}
			p := fmt.Sprintf("img%d-layer%d/layer.tar", i, j)
			entries = append(entries, reg(p, l))
			paths = append(paths, p)
		}
		cfg, err := json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
			"config": map[string]any{"Cmd": []string{"sh"}, "Labels": map[string]string{"n": fmt.Sprint(i), "u": harness.UniqueSuffix()}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
		must(t, err)
		name := sha(cfg) + ".json"
		entries = append(entries, reg(name, cfg))
		manifest = append(manifest, map[string]any{"Config": name, "RepoTags": img.tags, "Layers": paths})
	}
	m, err := json.Marshal(manifest)
	must(t, err)
	entries = append(entries, reg("manifest.json", m))
	return tarOf(t, append(entries, extra...)...)
}

// ociArchive builds an OCI layout tar of one image whose layer blob can be
// given other content than its digest says, or left out.
func ociArchive(t testing.TB, layer []byte, blobContent []byte, dropLayer bool) []byte {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sha(layer)}},
	})
	must(t, err)
	man, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + sha(layer), "size": len(layer)}},
	})
	must(t, err)
	idx, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(man), "size": len(man),
			"annotations": map[string]string{"io.containerd.image.name": "docker.io/library/evil-oci:latest"},
		}},
	})
	must(t, err)
	entries := []archEntry{
		reg("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		reg("blobs/sha256/"+sha(cfg), cfg),
		reg("blobs/sha256/"+sha(man), man),
	}
	if !dropLayer {
		entries = append(entries, reg("blobs/sha256/"+sha(layer), blobContent))
	}
	return tarOf(t, append(entries, reg("index.json", idx))...)
}

// storeLayers counts the layers in the user's store.
func storeLayers(t *testing.T, u *harness.User) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(u.DataDir(), "storage", "overlay-layers", "layers.json"))
	if err != nil {
		return 0
	}
	var layers []json.RawMessage
	must(t, json.Unmarshal(data, &layers))
	return len(layers)
}

// TestLoadEvilArchives is not parallel: it compares the whole store
// before and after each refused load.
func TestLoadEvilArchives(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	hostDir := filepath.Join(os.TempDir(), "skiff-evil-load-"+harness.UniqueSuffix())
	must(t, os.Mkdir(hostDir, 0o777))
	must(t, os.Chmod(hostDir, 0o777))
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	hostFile := hostDir + "-target"
	harness.WriteUserFile(t, harness.E2E, hostFile, []byte("original\n"))
	t.Cleanup(func() { os.Remove(hostFile) })
	up := strings.Repeat("../", 24)

	good := tarOf(t, reg("good", []byte("good\n")))
	goodArchive := dockerArchive(t, []archImage{{tags: []string{"evil-load-good:v1"}, layers: [][]byte{good}}})
	cases := []struct {
		name  string
		data  []byte
		words []string
	}{
		{"not-tar", []byte("this is not an image archive, just text\n"), []string{"archive"}},
		{"empty", nil, []string{"empty|no tar entries"}},
		{"truncated", goodArchive[:len(goodArchive)/2], []string{"EOF|truncated|missing"}},
		{"manifest-names-missing-blob", func() []byte {
			a := tarOf(t, reg("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:`+sha(good)+`"]}}`)),
				reg("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["evil-load:missing"],"Layers":["nosuchdir/layer.tar"]}]`)))
			return a
		}(), []string{"nosuchdir/layer.tar"}},
		{"diffid-mismatch", dockerArchive(t, []archImage{{tags: []string{"evil-load:mismatch"}, layers: [][]byte{good}, diffIDs: []string{"sha256:" + sha([]byte("other"))}}}), []string{"digest"}},
		{"diffid-count", dockerArchive(t, []archImage{{tags: []string{"evil-load:count"}, layers: [][]byte{good}, diffIDs: []string{"sha256:" + sha(good), "sha256:" + sha(good)}}}), []string{"diff IDs"}},
		{"oci-blob-mismatch", ociArchive(t, good, tarOf(t, reg("other", []byte("other\n"))), false), []string{"digest"}},
		{"oci-missing-blob", ociArchive(t, good, nil, true), []string{"missing"}},
		{"outer-dotdot", dockerArchive(t, []archImage{{tags: []string{"evil-load:outer"}, layers: [][]byte{good}}}, reg("../../escape", []byte("x"))), []string{"outside"}},
		{"outer-abs-symlink", func() []byte {
			return tarOf(t, archEntry{name: "l", typ: tar.TypeSymlink, link: "/etc"},
				reg("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:`+sha(good)+`"]}}`)),
				reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/passwd"]}]`)))
		}(), []string{"symbolic link", "outside"}},
		{"outer-hardlink", dockerArchive(t, []archImage{{layers: [][]byte{good}}}, archEntry{name: "h", typ: tar.TypeLink, link: up + "etc/passwd"}), []string{"hard link", "outside"}},
		{"outer-duplicate", dockerArchive(t, []archImage{{tags: []string{"evil-load:dup"}, layers: [][]byte{good}}}, reg("manifest.json", []byte("[]"))), []string{"manifest.json", "twice"}},
		{"outer-device", dockerArchive(t, []archImage{{layers: [][]byte{good}}}, archEntry{name: "dev", typ: tar.TypeChar}), []string{"dev"}},
		{"layer-dotdot", dockerArchive(t, []archImage{{tags: []string{"evil-load:dotdot"}, layers: [][]byte{tarOf(t, reg(up+strings.TrimPrefix(hostDir, "/")+"/dotdot", []byte("pwned\n")))}}}), []string{"layer", "outside"}},
		{"layer-abs-symlink", dockerArchive(t, []archImage{{tags: []string{"evil-load:symlink"}, layers: [][]byte{tarOf(t,
			archEntry{name: "escape", typ: tar.TypeSymlink, link: hostDir}, reg("escape/pwned", []byte("pwned\n")))}}}), []string{"layer", "symlink"}},
		{"layer-hardlink", dockerArchive(t, []archImage{{tags: []string{"evil-load:hardlink"}, layers: [][]byte{tarOf(t,
			archEntry{name: "pwned-link", typ: tar.TypeLink, link: up + strings.TrimPrefix(hostFile, "/")})}}}), []string{"layer", "hard link"}},
		{"layer-duplicate", dockerArchive(t, []archImage{{tags: []string{"evil-load:laydup"}, layers: [][]byte{tarOf(t, reg("f", []byte("1")), reg("f", []byte("2")))}}}), []string{"layer", "twice"}},
		{"layer-device", dockerArchive(t, []archImage{{tags: []string{"evil-load:device"}, layers: [][]byte{tarOf(t, archEntry{name: "dev/mem", typ: tar.TypeChar})}}}), []string{"device"}},
		{"second-image-bad", dockerArchive(t, []archImage{
			{tags: []string{"evil-load:first"}, layers: [][]byte{tarOf(t, reg("first", []byte("first\n")))}},
			{tags: []string{"evil-load:second"}, layers: [][]byte{good}, diffIDs: []string{"sha256:" + sha([]byte("nope"))}},
		}), []string{"image 2", "digest"}},
	}
	beforeIDs := imageIDs(t, harness.E2E)
	beforeNames := skiff(t, "images", "--format", "{{.Repository}}:{{.Tag}}").OK(t).Lines()
	beforeLayers := storeLayers(t, harness.E2E)
	dir := harness.UserDir(t, harness.E2E)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".tar")
			harness.WriteUserFile(t, harness.E2E, file, c.data)
			skiff(t, "load", "-i", file).ErrorLine(t, errExit, c.words...)
			if ids := imageIDs(t, harness.E2E); !slices.Equal(ids, beforeIDs) {
				t.Errorf("the refused load changed the images: %v, before %v", ids, beforeIDs)
			}
			if names := skiff(t, "images", "--format", "{{.Repository}}:{{.Tag}}").OK(t).Lines(); !slices.Equal(names, beforeNames) {
				t.Errorf("the refused load changed the names: %v, before %v", names, beforeNames)
			}
			if n := storeLayers(t, harness.E2E); n != beforeLayers {
				t.Errorf("the refused load left %d layers in the store, before %d", n, beforeLayers)
			}
			if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
				t.Errorf("SECURITY: loading %s wrote %v on the host", c.name, ents)
			}
			if data, _ := os.ReadFile(hostFile); string(data) != "original\n" {
				t.Errorf("SECURITY: loading %s changed %s", c.name, hostFile)
			}
		})
	}
	// From stdin too, and the good archive still loads.
	skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(goodArchive[:len(goodArchive)/3])}, "load").ErrorLine(t, errExit)
	skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(goodArchive)}, "load").OK(t).StdoutIs(t, "Loaded image: evil-load-good:v1\n")
	skiff(t, "rmi", "evil-load-good:v1").OK(t)
	// The store is still usable.
	skiff(t, "pull", bb).OK(t)
	skiff(t, "run", "--rm", bb, "echo", "still-works").OK(t).StdoutIs(t, "still-works\n")
}
