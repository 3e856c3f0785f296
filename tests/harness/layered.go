package harness

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TarEntry is one entry of a hand-written layer (LayerTar): a directory,
// a regular file, a symlink or a hard link (Type), with its owner, mode
// and PAX records (SCHILY.xattr.* for extended attributes).
type TarEntry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Body     string
	Link     string
	PAX      map[string]string
}

// LayerTar writes entries as an uncompressed layer tar.
func LayerTar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var es []tarEntry
	for _, e := range entries {
		es = append(es, tarEntry{name: e.Name, typ: e.Type, mode: e.Mode, uid: e.UID, gid: e.GID, body: []byte(e.Body), link: e.Link, pax: e.PAX})
	}
	b, err := writeTar(es)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PushLayered pushes the busybox layer plus layers (uncompressed tars,
// gzip'ed as usual) as Registry/repo:tag.
func PushLayered(t testing.TB, repo, tag string, layers ...[]byte) *Image {
	t.Helper()
	return pushBuilt(t, repo, tag, imageSpec{config: busyboxConfig(), extra: layers}.build)
}

// PushWrongDiffID pushes PushLayered's image with the config's diff ID of
// layer n (1 is the busybox layer) replaced by another digest: the blob
// is intact, the config says its content is something else.
func PushWrongDiffID(t testing.TB, repo, tag string, n int, layers ...[]byte) *Image {
	t.Helper()
	return pushBuilt(t, repo, tag, func() (v1.Image, error) {
		img, err := imageSpec{config: busyboxConfig(), extra: layers}.build()
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[n-1] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
		return mutate.ConfigFile(img, cf)
	})
}

// pushBuilt builds an image and pushes it as Registry/repo:tag.
func pushBuilt(t testing.TB, repo, tag string, build func() (v1.Image, error)) *Image {
	t.Helper()
	skipIfUnavailable(t)
	img, err := build()
	if err != nil {
		t.Fatal(err)
	}
	pi, err := pushImage(repo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return pi
}

// StoredGzip is a layer blob as the registry stores it: the tar gzip'ed
// without compression, so two tars of one size give blobs of one size.
func StoredGzip(t testing.TB, tarBytes []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	if err == nil {
		_, err = zw.Write(tarBytes)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ReplaceBlob overwrites the content of a blob in the harness's registry
// behind its back (the registry serves it under the old digest), as a
// corrupted registry or a tampering proxy would.
func ReplaceBlob(t testing.TB, digest string, data []byte) {
	t.Helper()
	hex := strings.TrimPrefix(digest, "sha256:")
	p := filepath.Join(reg.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("blob %s is not in the registry's storage: %v", digest, err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// PushStoredLayers is PushLayered with the added layers' blobs written
// by StoredGzip, so ReplaceBlob can swap one for another of equal size.
func PushStoredLayers(t testing.TB, repo, tag string, layers ...[]byte) *Image {
	t.Helper()
	return pushBuilt(t, repo, tag, func() (v1.Image, error) {
		img, err := imageSpec{config: busyboxConfig()}.build()
		for i, l := range layers {
			var layer v1.Layer
			if err == nil {
				layer, err = layerFromBytes(StoredGzip(t, l), types.DockerLayer)
			}
			if err == nil {
				img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: fixedTime}, CreatedBy: fmt.Sprintf("skiff e2e harness: stored layer %d", i+2)}})
			}
		}
		return img, err
	})
}
