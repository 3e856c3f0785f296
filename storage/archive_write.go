package storage

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
)

// Archive formats of `skiff save`.
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIArchive    = "oci-archive"
	FormatOCIDir        = "oci-dir"
)

// SaveOptions describe `skiff save`.
type SaveOptions struct {
	Format string   // FormatDockerArchive (default), FormatOCIArchive or FormatOCIDir
	Refs   []string // images by name or ID
	// Writer receives the tar of docker-archive and oci-archive.
	Writer io.Writer
	// Dir is the directory oci-dir creates; it must not exist or be empty.
	Dir string
}

// savedImage is one image to save with the names it is saved under.
type savedImage struct {
	img    *Image
	names  []string // full references
	layers []string // layer IDs, from the base up
}

// Save writes images to an archive. Layers are the store's own bytes,
// checked against the config's diff IDs as they are written.
func (s *Store) Save(ctx context.Context, o SaveOptions) error {
	switch o.Format {
	case "":
		o.Format = FormatDockerArchive
	case FormatDockerArchive, FormatOCIArchive, FormatOCIDir:
	default:
		return errdefs.Invalid("saving: unknown format %q: want docker-archive, oci-archive or oci-dir", o.Format)
	}
	imgs, err := s.resolveSave(o.Refs)
	if err != nil {
		return err
	}
	if o.Format == FormatOCIDir {
		return s.saveDir(ctx, o.Dir, imgs)
	}
	tw := tar.NewWriter(o.Writer)
	sink := &tarSink{tw: tw}
	if o.Format == FormatDockerArchive {
		err = s.writeDockerArchive(ctx, sink, imgs)
	} else {
		err = s.writeOCILayout(ctx, sink, imgs)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// resolveSave finds the images; an image named twice is saved once with
// both names. A reference by ID saves the image without a name.
func (s *Store) resolveSave(refs []string) ([]*savedImage, error) {
	if len(refs) == 0 {
		return nil, errdefs.Invalid("saving: name at least one image")
	}
	var out []*savedImage
	byID := map[string]*savedImage{}
	for _, ref := range refs {
		img, err := s.LookupImage(ref)
		if err != nil {
			return nil, fmt.Errorf("saving %s: %w", ref, err)
		}
		si := byID[img.ID]
		if si == nil {
			si = &savedImage{img: img}
			if si.layers, err = s.layerChain(img); err != nil {
				return nil, err
			}
			byID[img.ID] = si
			out = append(out, si)
		}
		if name := savedName(img, ref); name != "" && !contains(si.names, name) {
			si.names = append(si.names, name)
		}
	}
	return out, nil
}

// savedName is the tagged name ref gives img, or "" for an ID or digest.
func savedName(img *Image, ref string) string {
	n, err := reference.Parse(ref)
	if err != nil || n.Tag == "" || n.Digest != "" {
		return ""
	}
	if contains(img.Names, n.String()) {
		return n.String()
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// layerChain lists the image's layers from the base up and checks them
// against its config's diff IDs.
func (s *Store) layerChain(img *Image) ([]string, error) {
	var chain []string
	for id := img.TopLayer; id != ""; {
		l, err := s.s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", short(img.ID), short(id), err)
		}
		chain = append([]string{l.ID}, chain...)
		id = l.Parent
	}
	diffIDs := img.Config.RootFS.DiffIDs
	if len(chain) != len(diffIDs) {
		return nil, fmt.Errorf("image %s has %d layers in the store but %d diff IDs in its config: the store is damaged, pull or load the image again: %w", short(img.ID), len(chain), len(diffIDs), errdefs.ErrConflict)
	}
	return chain, nil
}

// blobSink receives the files of an archive.
type blobSink interface {
	put(name string, size int64, r io.Reader) error
}

type tarSink struct {
	tw   *tar.Writer
	dirs map[string]bool
}

// archiveTime is the modification time of every entry (reproducible output).
var archiveTime = time.Unix(0, 0).UTC()

func (t *tarSink) put(name string, size int64, r io.Reader) error {
	if t.dirs == nil {
		t.dirs = map[string]bool{}
	}
	var parents []string
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		parents = append([]string{d}, parents...)
	}
	for _, d := range parents {
		if !t.dirs[d] {
			t.dirs[d] = true
			if err := t.tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: archiveTime}); err != nil {
				return err
			}
		}
	}
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: archiveTime}); err != nil {
		return err
	}
	_, err := io.CopyN(t.tw, r, size)
	return err
}

type dirSink struct{ root *os.Root }

func (d *dirSink) put(name string, size int64, r io.Reader) error {
	if err := d.root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.CopyN(f, r, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func putBytes(sink blobSink, name string, b []byte) error {
	return sink.put(name, int64(len(b)), strings.NewReader(string(b)))
}

// writeLayer writes the store's tar of a layer, checking its digest and
// size as it goes.
func (s *Store) writeLayer(ctx context.Context, sink blobSink, name, layerID, diffID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := s.s.Layer(layerID)
	if err != nil {
		return err
	}
	unc := archive.Uncompressed
	open := func() (io.ReadCloser, error) {
		return s.s.Diff("", layerID, &cstorage.DiffOptions{Compression: &unc})
	}
	size := l.UncompressedSize
	if size <= 0 || l.UncompressedDigest.String() != diffID {
		// Unknown size: measure the stream first.
		rc, err := open()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", diffID, err)
		}
		size, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", diffID, err)
		}
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	if err := sink.put(name, size, io.TeeReader(rc, h)); err != nil {
		return fmt.Errorf("writing layer %s: %w", diffID, err)
	}
	extra, _ := io.Copy(io.Discard, rc)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID || extra != 0 {
		return fmt.Errorf("layer %s: the store gave back different content (%s, %d bytes more than expected): the store is damaged, pull or load the image again: %w", diffID, got, extra, errdefs.ErrConflict)
	}
	return nil
}

func (s *Store) writeDockerArchive(ctx context.Context, sink blobSink, imgs []*savedImage) error {
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	repos := map[string]map[string]string{}
	written := map[string]bool{}
	for _, si := range imgs {
		e := entry{Config: si.img.ID + ".json", RepoTags: []string{}}
		for i, lid := range si.layers {
			diffID := si.img.Config.RootFS.DiffIDs[i].String()
			name := strings.TrimPrefix(diffID, "sha256:") + "/layer.tar"
			if !written[name] {
				if err := s.writeLayer(ctx, sink, name, lid, diffID); err != nil {
					return fmt.Errorf("saving image %s: %w", short(si.img.ID), err)
				}
				written[name] = true
			}
			e.Layers = append(e.Layers, name)
		}
		if err := putBytes(sink, e.Config, si.img.RawConfig); err != nil {
			return err
		}
		top := ""
		if len(e.Layers) > 0 {
			top = path.Dir(e.Layers[len(e.Layers)-1])
		}
		for _, n := range si.names {
			r := reference.MustParse(n)
			e.RepoTags = append(e.RepoTags, r.Familiar())
			repo := r.FamiliarRepository()
			if repos[repo] == nil {
				repos[repo] = map[string]string{}
			}
			repos[repo][r.Tag] = top
		}
		manifest = append(manifest, e)
	}
	b, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := putBytes(sink, dockerManifestFile, b); err != nil {
		return err
	}
	if len(repos) > 0 {
		if b, err = json.Marshal(repos); err != nil {
			return err
		}
		return putBytes(sink, dockerReposFile, b)
	}
	return nil
}

func (s *Store) writeOCILayout(ctx context.Context, sink blobSink, imgs []*savedImage) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	written := map[string]bool{}
	blob := func(d v1.Hash) string { return path.Join("blobs", d.Algorithm, d.Hex) }
	for _, si := range imgs {
		m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
		cfgHash, err := v1.NewHash("sha256:" + si.img.ID)
		if err != nil {
			return err
		}
		m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgHash, Size: int64(len(si.img.RawConfig))}
		for i, lid := range si.layers {
			d := si.img.Config.RootFS.DiffIDs[i]
			l, err := s.s.Layer(lid)
			if err != nil {
				return err
			}
			if !written[d.String()] {
				if err := s.writeLayer(ctx, sink, blob(d), lid, d.String()); err != nil {
					return fmt.Errorf("saving image %s: %w", short(si.img.ID), err)
				}
				written[d.String()] = true
			}
			size := l.UncompressedSize
			if size <= 0 {
				if size, err = s.s.DiffSize("", lid); err != nil {
					return err
				}
			}
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: d, Size: size})
		}
		if !written[cfgHash.String()] {
			if err := putBytes(sink, blob(cfgHash), si.img.RawConfig); err != nil {
				return err
			}
			written[cfgHash.String()] = true
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		mHash := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
		if err := putBytes(sink, blob(mHash), raw); err != nil {
			return err
		}
		desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mHash, Size: int64(len(raw))}
		if len(si.names) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, n := range si.names {
			d := desc
			d.Annotations = map[string]string{annotationContainerdName: n, annotationRefName: reference.MustParse(n).Tag}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	if err := putBytes(sink, ociLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return putBytes(sink, ociIndexFile, b)
}

// saveDir writes an OCI layout directory: into a temporary sibling, then
// renamed into place, so a failure leaves nothing behind.
func (s *Store) saveDir(ctx context.Context, dir string, imgs []*savedImage) error {
	if dir == "" {
		return errdefs.Invalid("saving: oci-dir needs -o DIRECTORY")
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("saving to %s: the directory exists and is not empty: remove it or name another: %w", dir, errdefs.ErrAlreadyExists)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".skiff-save-")
	if err != nil {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	err = s.writeOCILayout(ctx, &dirSink{root: root}, imgs)
	root.Close()
	if err != nil {
		return err
	}
	_ = os.Remove(dir) // an empty directory is replaced
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	ok = true
	return nil
}
