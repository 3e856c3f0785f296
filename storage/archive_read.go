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
	goruntime "runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/registry/reference"
)

// LoadOptions describe `skiff load`: exactly one of Reader (a
// docker-archive or an OCI layout in a tar, plain or compressed) and Dir
// (an OCI layout directory) is set.
type LoadOptions struct {
	Reader io.Reader
	Dir    string
	// Platform, when set, loads only the images of that platform (load
	// --platform); by default an index gives this host's image.
	Platform *v1.Platform
}

// LoadedImage is one image `skiff load` stored.
type LoadedImage struct {
	ID    string   // hex of the config digest
	Names []string // full references, empty for an untagged image
}

// Load stores every image of an archive. It is all or nothing: on any
// problem (a missing blob, a digest that does not match, a layer entry
// that would escape the root) no image, name or layer of the archive is
// left in the store.
func (s *Store) Load(ctx context.Context, o LoadOptions) ([]LoadedImage, error) {
	root, cleanup, err := s.openArchive(o)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	want := v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	if o.Platform != nil {
		want = *o.Platform
	}
	imgs, err := readArchive(root, want)
	if err != nil {
		return nil, err
	}
	if o.Platform != nil {
		if imgs = onlyPlatform(imgs, want); len(imgs) == 0 {
			return nil, errdefs.NotFound("loading the archive: it holds no image for %s", PlatformString(want))
		}
	}
	return s.putArchiveImages(ctx, root, imgs)
}

// openArchive gives the archive's files as a directory: the given one, or
// the tar extracted to a temporary directory on the store's file system.
func (s *Store) openArchive(o LoadOptions) (*os.Root, func(), error) {
	if o.Dir != "" {
		root, err := os.OpenRoot(o.Dir)
		if err != nil {
			return nil, nil, errdefs.Invalid("loading %s: %v", o.Dir, unwrapPath(err))
		}
		return root, func() { root.Close() }, nil
	}
	dir, err := os.MkdirTemp(s.TempDir(), "load-")
	if err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cleanup := func() { root.Close(); os.RemoveAll(dir) }
	if err := extractArchive(o.Reader, root); err != nil {
		cleanup()
		return nil, nil, err
	}
	return root, cleanup, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// extractArchive unpacks the outer archive (not a layer) into root. Only
// directories, regular files and links that stay inside are allowed, and
// each path at most once.
func extractArchive(r io.Reader, root *os.Root) error {
	bad := func(format string, args ...any) error {
		return errdefs.Invalid("loading the archive: "+format, args...)
	}
	dr, err := archive.DecompressStream(r)
	if err != nil {
		return bad("%v", err)
	}
	defer dr.Close()
	return extractTar(dr, root)
}

// extractTar is extractArchive after decompression.
func extractTar(r io.Reader, root *os.Root) error {
	bad := func(format string, args ...any) error {
		return errdefs.Invalid("loading the archive: "+format, args...)
	}
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	entries := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad("%v: is it a complete tar archive (docker-archive or oci-archive)?", err)
		}
		entries++
		if sparse(h) {
			return bad("entry %q is a sparse file, which image archives never hold (it could unpack to any size)", h.Name)
		}
		name, ok := archivePath(h.Name)
		if !ok {
			return bad("entry %q points outside the archive", h.Name)
		}
		if name == "." {
			continue
		}
		if seen[name] && h.Typeflag != tar.TypeDir {
			return bad("entry %q appears twice", h.Name)
		}
		seen[name] = true
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return bad("entry %q: %v", h.Name, unwrapPath(err))
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return bad("entry %q: %v", h.Name, unwrapPath(err))
			}
		case tar.TypeReg, tar.TypeRegA:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return bad("entry %q: %v", h.Name, unwrapPath(err))
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return bad("entry %q: %v: is the archive truncated?", h.Name, err)
			}
		case tar.TypeSymlink:
			if path.IsAbs(h.Linkname) || escapes(name, h.Linkname) {
				return bad("symbolic link %q -> %q points outside the archive", h.Name, h.Linkname)
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return bad("entry %q: %v", h.Name, unwrapPath(err))
			}
		case tar.TypeLink:
			target, ok := archivePath(h.Linkname)
			if !ok || path.IsAbs(h.Linkname) {
				return bad("hard link %q -> %q points outside the archive", h.Name, h.Linkname)
			}
			if err := root.Link(target, name); err != nil {
				return bad("hard link %q -> %q: %v", h.Name, h.Linkname, unwrapPath(err))
			}
		case tar.TypeXGlobalHeader:
		default:
			return bad("entry %q has type %q: an image archive holds only files and directories", h.Name, string(h.Typeflag))
		}
	}
	if entries == 0 {
		return bad("no tar entries: the input is empty or not an image archive")
	}
	return nil
}

// archivePath cleans a name of the outer archive; ok is false when it is
// absolute or climbs out.
func archivePath(name string) (string, bool) {
	if path.IsAbs(name) {
		return "", false
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// archiveImage is one image read from an archive, not yet stored.
type archiveImage struct {
	Config   []byte
	DiffIDs  []string
	Layers   []string // paths in the archive, from the base up
	Names    []string // full references
	Manifest []byte   // OCI: the manifest blob
	Digest   string   // OCI: the manifest digest
}

// Files of the two archive formats.
const (
	dockerManifestFile = "manifest.json"
	dockerReposFile    = "repositories"
	ociLayoutFile      = "oci-layout"
	ociIndexFile       = "index.json"
	// maxMetadata bounds manifests and configs read into memory.
	maxMetadata = 32 << 20
)

// readArchive finds the images of a docker-archive (manifest.json) or an
// OCI layout (oci-layout, index.json) and checks what can be checked
// before anything is stored: every referenced file exists, the OCI blobs
// match their digests and sizes, the configs parse and list as many diff
// IDs as there are layers.
func readArchive(root *os.Root, want v1.Platform) ([]archiveImage, error) {
	var imgs []archiveImage
	var err error
	switch {
	case exists(root, dockerManifestFile):
		imgs, err = readDockerArchive(root)
	case exists(root, ociIndexFile):
		imgs, err = readOCILayout(root, want)
	default:
		return nil, errdefs.Invalid("loading the archive: it has neither %s (docker-archive) nor %s (OCI layout): is it an image archive made by skiff save or docker save?", dockerManifestFile, ociIndexFile)
	}
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errdefs.Invalid("loading the archive: it lists no image")
	}
	return imgs, nil
}

func exists(root *os.Root, name string) bool {
	_, err := root.Stat(name)
	return err == nil
}

func readSmall(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, errdefs.Invalid("loading the archive: %s is missing or unreadable: %v", name, unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err != nil {
		return nil, errdefs.Invalid("loading the archive: reading %s: %v", name, err)
	}
	if len(b) > maxMetadata {
		return nil, errdefs.Invalid("loading the archive: %s is larger than %d bytes", name, maxMetadata)
	}
	return b, nil
}

// dockerManifestEntry is one element of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func readDockerArchive(root *os.Root) ([]archiveImage, error) {
	raw, err := readSmall(root, dockerManifestFile)
	if err != nil {
		return nil, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, errdefs.Invalid("loading the archive: %s: %v", dockerManifestFile, err)
	}
	var out []archiveImage
	for i, e := range entries {
		what := fmt.Sprintf("image %d of %s", i+1, dockerManifestFile)
		cfgPath, ok := archivePath(e.Config)
		if !ok || e.Config == "" {
			return nil, errdefs.Invalid("loading the archive: %s: invalid config path %q", what, e.Config)
		}
		cfg, err := readSmall(root, cfgPath)
		if err != nil {
			return nil, err
		}
		img := archiveImage{Config: cfg}
		if img.DiffIDs, err = configDiffIDs(cfg, len(e.Layers), what); err != nil {
			return nil, err
		}
		for _, l := range e.Layers {
			p, ok := archivePath(l)
			if !ok {
				return nil, errdefs.Invalid("loading the archive: %s: layer path %q points outside the archive", what, l)
			}
			if fi, err := root.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil, errdefs.Invalid("loading the archive: %s names layer %s, which the archive does not hold", what, l)
			}
			img.Layers = append(img.Layers, p)
		}
		for _, t := range e.RepoTags {
			n, err := reference.Parse(t)
			if err != nil {
				return nil, errdefs.Invalid("loading the archive: %s: invalid tag %q: %v", what, t, err)
			}
			img.Names = append(img.Names, n.String())
		}
		out = append(out, img)
	}
	return out, nil
}

// configDiffIDs parses an image config and returns its diff IDs, which
// must be as many as the layers.
func configDiffIDs(raw []byte, layers int, what string) ([]string, error) {
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, errdefs.Invalid("loading the archive: %s: config is not valid JSON: %v", what, err)
	}
	if cfg.RootFS.Type != "layers" {
		return nil, errdefs.Invalid("loading the archive: %s: config rootfs type is %q, want \"layers\"", what, cfg.RootFS.Type)
	}
	if len(cfg.RootFS.DiffIDs) != layers {
		return nil, errdefs.Invalid("loading the archive: %s has %d layers but its config lists %d diff IDs", what, layers, len(cfg.RootFS.DiffIDs))
	}
	out := make([]string, len(cfg.RootFS.DiffIDs))
	for i, d := range cfg.RootFS.DiffIDs {
		if d.Algorithm != "sha256" || len(d.Hex) != 64 {
			return nil, errdefs.Invalid("loading the archive: %s: invalid diff ID %q", what, d.String())
		}
		out[i] = d.String()
	}
	return out, nil
}

// Annotations naming an image in an OCI index.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

func readOCILayout(root *os.Root, want v1.Platform) ([]archiveImage, error) {
	layout, err := readSmall(root, ociLayoutFile)
	if err != nil {
		return nil, err
	}
	var lv struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(layout, &lv); err != nil || lv.ImageLayoutVersion == "" {
		return nil, errdefs.Invalid("loading the archive: %s is not a valid OCI layout marker", ociLayoutFile)
	}
	raw, err := readSmall(root, ociIndexFile)
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, errdefs.Invalid("loading the archive: %s: %v", ociIndexFile, err)
	}
	var out []archiveImage
	for _, d := range idx.Manifests {
		names := ociNames(d.Annotations)
		desc, err := resolvePlatform(root, d, 0, want)
		if err != nil {
			return nil, err
		}
		// Several index entries may name one image.
		merged := false
		for i := range out {
			if out[i].Digest == desc.Digest.String() {
				out[i].Names = append(out[i].Names, names...)
				merged = true
			}
		}
		if merged {
			continue
		}
		img, err := readOCIImage(root, desc)
		if err != nil {
			return nil, err
		}
		img.Names = names
		out = append(out, img)
	}
	return out, nil
}

// ociNames gives the full reference an index entry names, if any.
func ociNames(ann map[string]string) []string {
	for _, s := range []string{ann[annotationContainerdName], ann[annotationRefName]} {
		// A bare tag ("latest") in ref.name names no repository.
		if s == "" || !strings.ContainsAny(s, ":/@") {
			continue
		}
		if n, err := reference.Parse(s); err == nil {
			return []string{n.String()}
		}
	}
	return nil
}

// resolvePlatform follows nested indexes to the manifest for want.
func resolvePlatform(root *os.Root, d v1.Descriptor, depth int, want v1.Platform) (v1.Descriptor, error) {
	if !d.MediaType.IsIndex() {
		return d, nil
	}
	if depth > 4 {
		return d, errdefs.Invalid("loading the archive: indexes nested too deep")
	}
	raw, err := readBlob(root, d)
	if err != nil {
		return d, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return d, errdefs.Invalid("loading the archive: index %s: %v", d.Digest, err)
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil || PlatformMatches(want, *m.Platform) {
			return resolvePlatform(root, m, depth+1, want)
		}
	}
	return d, errdefs.NotFound("loading the archive: index %s has no image for %s", d.Digest, PlatformString(want))
}

// onlyPlatform keeps the images whose config is of platform want.
func onlyPlatform(imgs []archiveImage, want v1.Platform) []archiveImage {
	var out []archiveImage
	for _, img := range imgs {
		var cfg v1.ConfigFile
		if json.Unmarshal(img.Config, &cfg) == nil && PlatformMatches(want, v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}) {
			out = append(out, img)
		}
	}
	return out
}

// PlatformMatches reports whether have is the platform want names; a
// want without a variant takes any variant.
func PlatformMatches(want, have v1.Platform) bool {
	return want.OS == have.OS && want.Architecture == have.Architecture && (want.Variant == "" || want.Variant == have.Variant)
}

// PlatformString is os/arch[/variant].
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// blobPath is where an OCI layout keeps the blob of d.
func blobPath(d v1.Descriptor) (string, error) {
	dg, err := digest.Parse(d.Digest.String())
	if err != nil {
		return "", errdefs.Invalid("loading the archive: invalid digest %q: %v", d.Digest.String(), err)
	}
	return path.Join("blobs", dg.Algorithm().String(), dg.Encoded()), nil
}

// readBlob reads a small blob and checks its digest and size.
func readBlob(root *os.Root, d v1.Descriptor) ([]byte, error) {
	p, err := blobPath(d)
	if err != nil {
		return nil, err
	}
	b, err := readSmall(root, p)
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(b); got.String() != d.Digest.String() || (d.Size != 0 && int64(len(b)) != d.Size) {
		return nil, errdefs.Invalid("loading the archive: blob %s does not match its digest or size (got %s, %d bytes)", d.Digest, got, len(b))
	}
	return b, nil
}

// verifyBlob checks a layer blob's digest and size without keeping it.
func verifyBlob(root *os.Root, d v1.Descriptor) (string, error) {
	p, err := blobPath(d)
	if err != nil {
		return "", err
	}
	f, err := root.Open(p)
	if err != nil {
		return "", errdefs.Invalid("loading the archive: layer blob %s is missing: %v", d.Digest, unwrapPath(err))
	}
	defer f.Close()
	if d.Digest.Algorithm != "sha256" {
		return "", errdefs.Invalid("loading the archive: layer blob %s: only sha256 digests are supported", d.Digest)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", errdefs.Invalid("loading the archive: reading layer blob %s: %v", d.Digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex || n != d.Size {
		return "", errdefs.Invalid("loading the archive: layer blob %s does not match its digest or size (got sha256:%s, %d bytes)", d.Digest, got, n)
	}
	return p, nil
}

func readOCIImage(root *os.Root, d v1.Descriptor) (archiveImage, error) {
	raw, err := readBlob(root, d)
	if err != nil {
		return archiveImage{}, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return archiveImage{}, errdefs.Invalid("loading the archive: manifest %s: %v", d.Digest, err)
	}
	cfg, err := readBlob(root, m.Config)
	if err != nil {
		return archiveImage{}, err
	}
	img := archiveImage{Config: cfg, Manifest: raw, Digest: d.Digest.String()}
	what := "manifest " + d.Digest.String()
	if img.DiffIDs, err = configDiffIDs(cfg, len(m.Layers), what); err != nil {
		return archiveImage{}, err
	}
	for _, l := range m.Layers {
		p, err := verifyBlob(root, l)
		if err != nil {
			return archiveImage{}, err
		}
		img.Layers = append(img.Layers, p)
	}
	return img, nil
}

// putArchiveImages stores the images without names, then names them; on
// a failure it deletes the images this call created (and with them their
// new layers).
func (s *Store) putArchiveImages(ctx context.Context, root *os.Root, imgs []archiveImage) (_ []LoadedImage, retErr error) {
	var created []string
	defer func() {
		if retErr != nil {
			for i := len(created) - 1; i >= 0; i-- {
				_, _ = s.s.DeleteImage(created[i], true)
			}
		}
	}()
	checks := LayerChecks{NoDevices: paths.Rootless(), NoDuplicates: true}
	out := make([]LoadedImage, 0, len(imgs))
	for i, ai := range imgs {
		sum := sha256.Sum256(ai.Config)
		id := hex.EncodeToString(sum[:])
		_, errBefore := s.s.Image(id)
		ni := NewImage{Config: ai.Config, Manifest: ai.Manifest}
		if ai.Digest != "" {
			ni.Digests = []string{ai.Digest}
		}
		missing := s.MissingLayers(ai.DiffIDs)
		for j, p := range ai.Layers {
			ls := LayerSource{DiffID: ai.DiffIDs[j], Checks: checks}
			if missing[j] {
				ls.Open = layerOpener(root, p)
			}
			ni.Layers = append(ni.Layers, ls)
		}
		img, err := s.PutImage(ctx, ni)
		if err != nil {
			return nil, fmt.Errorf("loading image %d (%s) of the archive: %w", i+1, short(id), err)
		}
		if errBefore != nil {
			created = append(created, img.ID)
		}
		out = append(out, LoadedImage{ID: img.ID, Names: ai.Names})
	}
	for _, li := range out {
		if len(li.Names) > 0 {
			if err := s.s.AddNames(li.ID, li.Names); err != nil {
				return nil, fmt.Errorf("naming image %s: %w", short(li.ID), err)
			}
		}
	}
	return out, nil
}

// layerOpener opens a layer file of the archive, decompressing it.
func layerOpener(root *os.Root, p string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := root.Open(p)
		if err != nil {
			return nil, errdefs.Invalid("opening layer %s: %v", p, unwrapPath(err))
		}
		dr, err := archive.DecompressStream(f)
		if err != nil {
			f.Close()
			return nil, errdefs.Invalid("decompressing layer %s: %v", p, err)
		}
		return readCloser{Reader: dr, close: func() error { dr.Close(); return f.Close() }}, nil
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
