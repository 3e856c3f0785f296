package registry

// Manifest lists, as `docker manifest` makes them: a list is assembled
// locally from images already in a registry (their manifests and
// platforms are read from there), annotated, then pushed to the same
// registry. Like Docker's CLI this talks to the registry directly (no
// mirrors: the list is pushed to the registry, so its images must be the
// registry's own) with skiff's registry configuration (insecure hosts,
// certs.d, credentials).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/registry/reference"
)

// ManifestPart is one image's manifest as Docker's CLI keeps and shows it
// (docker manifest inspect -v): its reference, its descriptor with the
// platform, and the manifest's bytes; SchemaV2Manifest or OCIManifest
// is the manifest decoded, filled for inspection only.
type ManifestPart struct {
	Ref              string
	Descriptor       ocispec.Descriptor
	Raw              []byte       `json:",omitempty"`
	SchemaV2Manifest *v1.Manifest `json:",omitempty"`
	OCIManifest      *v1.Manifest `json:",omitempty"`
}

// ManifestList is a local manifest list: its name and its images in the
// order they were added.
type ManifestList struct {
	Name  string
	Parts []ManifestPart
}

// ManifestCreateOptions are `manifest create`'s.
type ManifestCreateOptions struct {
	// Amend adds to (or keeps) an existing list instead of refusing it.
	Amend bool
	// TLSVerify false allows plain HTTP and unverified TLS (--insecure).
	TLSVerify *bool
}

// ManifestAnnotateOptions are `manifest annotate`'s: the platform fields
// to set on one image of a list; empty ones are left as they are, and
// OSFeatures are added to those it has.
type ManifestAnnotateOptions struct {
	OS, Arch, OSVersion, Variant string
	OSFeatures                   []string
}

// ManifestInspectOptions are `manifest inspect`'s.
type ManifestInspectOptions struct {
	TLSVerify *bool
	// Verbose reads each image of a registry's list too, for its
	// manifest (docker manifest inspect -v).
	Verbose bool
}

// ManifestPushOptions are `manifest push`'s.
type ManifestPushOptions struct {
	TLSVerify *bool
	// Purge deletes the local list once it is pushed.
	Purge bool
	// Progress gets Docker's "Pushed ref" line for each image copied
	// into the list's repository; nil is quiet.
	Progress func(string)
}

// ManifestInspection is what `manifest inspect` found: a list (local, or
// the registry's) with its images, or one image's manifest.
type ManifestInspection struct {
	List  bool
	Parts []ManifestPart
	Image ManifestPart
}

// ManifestCreate makes the local list named list from images in its
// registry and returns the list's full name. An existing list is refused
// without Amend; with it, the list keeps its images (and their
// annotations) and gains the new ones. Nothing is written unless every
// image was found.
func ManifestCreate(ctx context.Context, list string, images []string, o ManifestCreateOptions) (string, error) {
	ln, err := listName(list)
	if err != nil {
		return "", err
	}
	cfg, err := LoadConfig()
	if err != nil {
		return "", err
	}
	err = withManifestLock(func() error {
		l, err := readManifestList(ln)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			l = &ManifestList{Name: ln.String()}
		case err != nil:
			return err
		case !o.Amend:
			return fmt.Errorf("refusing to amend an existing manifest list with no --amend flag: %s exists: add --amend to add images to it, or remove it first (skiff manifest rm %s): %w", ln, list, errdefs.ErrAlreadyExists)
		}
		for _, image := range images {
			if err := cfg.addPart(ctx, l, ln, image, o.TLSVerify); err != nil {
				return err
			}
		}
		return writeManifestList(l)
	})
	return ln.String(), err
}

// addPart adds image to l, read from the registry unless l has it.
func (c *Config) addPart(ctx context.Context, l *ManifestList, ln reference.Named, image string, tlsVerify *bool) error {
	n, err := reference.Parse(image)
	if err != nil {
		return err
	}
	if n.Domain != ln.Domain {
		return errdefs.Invalid("cannot use source images from a different registry than the target image: %s is in %s, the list %s in %s: push the image to %s first", n, n.Domain, ln, ln.Domain, ln.Domain)
	}
	if l.find(n.String()) >= 0 {
		return nil
	}
	p, err := c.fetchPart(ctx, n, tlsVerify)
	if err != nil {
		return err
	}
	l.Parts = append(l.Parts, p)
	return nil
}

// fetchPart reads one image's manifest and platform (from its config, as
// Docker does) from the registry.
func (c *Config) fetchPart(ctx context.Context, n reference.Named, tlsVerify *bool) (ManifestPart, error) {
	desc, err := c.getManifest(ctx, n, tlsVerify, fmt.Sprintf("the registry has no such image: push it first (skiff push %s)", n))
	if err != nil {
		return ManifestPart{}, err
	}
	return c.partOf(n, desc)
}

// partOf is the image manifest desc as a list's entry.
func (c *Config) partOf(n reference.Named, desc *remote.Descriptor) (ManifestPart, error) {
	if desc.MediaType.IsIndex() {
		return ManifestPart{}, errdefs.Invalid("%s is a manifest list: name one of its images by digest (skiff manifest inspect %s lists them)", n, n)
	}
	if !desc.MediaType.IsImage() {
		return ManifestPart{}, errdefs.Invalid("%s is a %s manifest: a list can hold only Docker schema 2 and OCI image manifests", n, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return ManifestPart{}, c.remoteError("reading "+n.String(), n.Domain, err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return ManifestPart{}, c.remoteError("reading the config of "+n.String(), n.Domain, err)
	}
	platform := &ocispec.Platform{}
	if err := json.Unmarshal(config, platform); err != nil {
		return ManifestPart{}, errdefs.Invalid("reading the config of %s: %v", n, err)
	}
	return ManifestPart{Ref: n.String(), Descriptor: descriptorOf(desc.Descriptor, platform), Raw: desc.Manifest}, nil
}

// getManifest fetches the manifest (or list) n names from its registry;
// fix says what to do when the registry has none.
func (c *Config) getManifest(ctx context.Context, n reference.Named, tlsVerify *bool, fix string) (*remote.Descriptor, error) {
	rref, ropts, err := c.manifestRef(n, tlsVerify)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(rref, append(ropts, remote.WithContext(ctx))...)
	if err != nil {
		err = c.remoteError("reading "+n.String(), n.Domain, err)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.NotFound("no such manifest: %s: %s", n, fix)
		}
		return nil, err
	}
	return desc, nil
}

// manifestRef is n at its own registry (never a mirror), with the options
// to reach it.
func (c *Config) manifestRef(n reference.Named, tlsVerify *bool) (name.Reference, []remote.Option, error) {
	if err := c.blocked(n); err != nil {
		return nil, nil, err
	}
	return c.remoteRef(endpoint{named: n, insecure: c.Insecure(n.Domain)}, tlsVerify, nil)
}

func descriptorOf(d v1.Descriptor, p *ocispec.Platform) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size, Platform: p}
}

// ManifestAnnotate sets platform fields of image's entry in the local list.
func ManifestAnnotate(list, image string, o ManifestAnnotateOptions) error {
	ln, err := listName(list)
	if err != nil {
		return err
	}
	n, err := reference.Parse(image)
	if err != nil {
		return err
	}
	return withManifestLock(func() error {
		l, err := readManifestList(ln)
		if err != nil {
			return err
		}
		i := l.find(n.String())
		if i < 0 {
			return errdefs.NotFound("manifest for image %s does not exist in %s: skiff manifest inspect %s lists its images", image, list, list)
		}
		d := &l.Parts[i].Descriptor
		if d.Platform == nil {
			d.Platform = &ocispec.Platform{}
		}
		annotate(d.Platform, o)
		if !validOSArch[d.Platform.OS+"/"+d.Platform.Architecture] {
			return errdefs.Invalid("manifest entry for image has unsupported os/arch combination: %s/%s: set --os and --arch to a pair Go builds for, e.g. linux/arm64", d.Platform.OS, d.Platform.Architecture)
		}
		return writeManifestList(l)
	})
}

func annotate(p *ocispec.Platform, o ManifestAnnotateOptions) {
	set := func(field *string, v string) {
		if v != "" {
			*field = v
		}
	}
	set(&p.OS, o.OS)
	set(&p.Architecture, o.Arch)
	set(&p.OSVersion, o.OSVersion)
	set(&p.Variant, o.Variant)
	for _, f := range o.OSFeatures {
		if !slices.Contains(p.OSFeatures, f) {
			p.OSFeatures = append(p.OSFeatures, f)
		}
	}
}

// validOSArch are the os/arch pairs Docker's CLI accepts in a list.
var validOSArch = map[string]bool{}

func init() {
	for os, arches := range map[string][]string{
		"darwin": {"386", "amd64", "arm", "arm64"}, "dragonfly": {"amd64"}, "freebsd": {"386", "amd64", "arm"},
		"linux":  {"386", "amd64", "arm", "arm64", "ppc64le", "mips64", "mips64le", "riscv64", "s390x"},
		"netbsd": {"386", "amd64", "arm"}, "openbsd": {"386", "amd64", "arm"}, "plan9": {"386", "amd64"},
		"solaris": {"amd64"}, "windows": {"386", "amd64"},
	} {
		for _, a := range arches {
			validOSArch[os+"/"+a] = true
		}
	}
}

// ManifestInspect finds ref as Docker's CLI does: a local list, else a
// manifest in the registry, an image's or a list's. With list set, it is
// the entry ref of that local list.
func ManifestInspect(ctx context.Context, list, ref string, o ManifestInspectOptions) (ManifestInspection, error) {
	n, err := reference.Parse(ref)
	if err != nil {
		return ManifestInspection{}, err
	}
	if list != "" {
		return localPart(list, n)
	}
	if l, err := readManifestList(n); err == nil {
		return ManifestInspection{List: true, Parts: parsedParts(l.Parts)}, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return ManifestInspection{}, err
	}
	cfg, err := LoadConfig()
	if err != nil {
		return ManifestInspection{}, err
	}
	desc, err := cfg.getManifest(ctx, n, o.TLSVerify, "neither a local manifest list (skiff manifest create makes one) nor in the registry: check the name")
	if err != nil {
		return ManifestInspection{}, err
	}
	if desc.MediaType.IsIndex() {
		parts, err := cfg.remoteParts(ctx, n, desc, o)
		return ManifestInspection{List: true, Parts: parts}, err
	}
	p, err := cfg.partOf(n, desc)
	return ManifestInspection{Image: parsed(p)}, err
}

// localPart is the entry n of the local list.
func localPart(list string, n reference.Named) (ManifestInspection, error) {
	ln, err := listName(list)
	if err != nil {
		return ManifestInspection{}, err
	}
	l, err := readManifestList(ln)
	if err != nil {
		return ManifestInspection{}, err
	}
	i := l.find(n.String())
	if i < 0 {
		return ManifestInspection{}, errdefs.NotFound("no such manifest: %s is not in the list %s: skiff manifest inspect %s lists its images", n, ln, list)
	}
	return ManifestInspection{Image: parsed(l.Parts[i])}, nil
}

// remoteParts are the entries of a registry's list, with the platform the
// list gives each; verbose reads each entry's manifest as well.
func (c *Config) remoteParts(ctx context.Context, n reference.Named, desc *remote.Descriptor, o ManifestInspectOptions) ([]ManifestPart, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, errdefs.Invalid("reading %s: %v", n, err)
	}
	parts := make([]ManifestPart, 0, len(idx.Manifests))
	for _, d := range idx.Manifests {
		// Docker names each entry by the list's reference and the digest.
		en := n
		en.Digest = d.Digest.String()
		p := ManifestPart{Ref: en.String(), Descriptor: descriptorOf(d, ociPlatform(d.Platform))}
		if o.Verbose {
			child, err := c.getManifest(ctx, n.WithDigest(d.Digest.String()), o.TLSVerify, "the list names an image the registry does not have")
			if err != nil {
				return nil, err
			}
			p.Raw = child.Manifest
		}
		parts = append(parts, parsed(p))
	}
	return parts, nil
}

func ociPlatform(p *v1.Platform) *ocispec.Platform {
	if p == nil {
		return &ocispec.Platform{}
	}
	return &ocispec.Platform{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant}
}

func parsedParts(parts []ManifestPart) []ManifestPart {
	out := make([]ManifestPart, len(parts))
	for i, p := range parts {
		out[i] = parsed(p)
	}
	return out
}

// parsed is p with its manifest decoded into SchemaV2Manifest or
// OCIManifest, as Docker's verbose inspect shows it.
func parsed(p ManifestPart) ManifestPart {
	if len(p.Raw) == 0 {
		return p
	}
	m, err := v1.ParseManifest(bytes.NewReader(p.Raw))
	if err != nil {
		return p
	}
	if p.Descriptor.MediaType == string(types.OCIManifestSchema1) {
		p.OCIManifest = m
	} else {
		p.SchemaV2Manifest = m
	}
	return p
}

// ManifestListJSON is the list of parts as Docker's CLI writes and pushes
// it: an OCI index when the first image is an OCI manifest, else a Docker
// manifest list v2, indented by three spaces.
func ManifestListJSON(parts []ManifestPart) ([]byte, types.MediaType, error) {
	mt := types.DockerManifestList
	if len(parts) > 0 && parts[0].Descriptor.MediaType == string(types.OCIManifestSchema1) {
		mt = types.OCIImageIndex
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: mt, Manifests: make([]v1.Descriptor, 0, len(parts))}
	for _, p := range parts {
		h, err := v1.NewHash(p.Descriptor.Digest.String())
		if err != nil {
			return nil, "", errdefs.Invalid("digest of %s: %v", p.Ref, err)
		}
		platform := v1.Platform{}
		if q := p.Descriptor.Platform; q != nil {
			platform = v1.Platform{Architecture: q.Architecture, OS: q.OS, OSVersion: q.OSVersion, OSFeatures: q.OSFeatures, Variant: q.Variant}
		}
		idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: types.MediaType(p.Descriptor.MediaType), Size: p.Descriptor.Size, Digest: h, Platform: &platform})
	}
	data, err := json.MarshalIndent(idx, "", "   ")
	return data, mt, err
}

// ManifestPush pushes the local list to its registry and returns its
// digest. Every image must be in the registry already; those of another
// repository are copied into the list's (their blobs mounted across
// repositories where the registry allows it).
func ManifestPush(ctx context.Context, list string, o ManifestPushOptions) (string, error) {
	ln, err := listName(list)
	if err != nil {
		return "", err
	}
	if ln.Digest != "" {
		return "", errdefs.Invalid("pushing %s: push a list by tag, not by digest", list)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	l, err := readManifestList(ln)
	if err != nil {
		return "", err
	}
	raw, mt, err := pushableList(l)
	if err != nil {
		return "", err
	}
	cfg, err := LoadConfig()
	if err != nil {
		return "", err
	}
	rref, ropts, err := cfg.manifestRef(ln, o.TLSVerify)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ln, err)
	}
	ropts = append(ropts, remote.WithContext(ctx))
	for _, p := range l.Parts {
		if err := cfg.placePart(ln, rref.Context(), p, ropts, o.Progress); err != nil {
			return "", err
		}
	}
	if err := remote.Put(rref, rawManifest{data: raw, mediaType: mt}, ropts...); err != nil {
		return "", cfg.remoteError("pushing "+ln.String(), ln.Domain, err)
	}
	sum := sha256.Sum256(raw)
	d := "sha256:" + hex.EncodeToString(sum[:])
	if o.Purge {
		return d, ManifestRemove(list)
	}
	return d, nil
}

// pushableList is the list's JSON, once every image has a platform.
func pushableList(l *ManifestList) ([]byte, types.MediaType, error) {
	for _, p := range l.Parts {
		if q := p.Descriptor.Platform; q == nil || q.OS == "" || q.Architecture == "" {
			return nil, "", errdefs.Invalid("manifest %s must have an OS and Architecture to be pushed to a registry: set them with skiff manifest annotate --os OS --arch ARCH %s %s", p.Ref, l.Name, p.Ref)
		}
	}
	return ManifestListJSON(l.Parts)
}

// placePart makes sure the registry has p's manifest in the list's
// repository: there already, or copied there from its own repository.
func (c *Config) placePart(ln reference.Named, repo name.Repository, p ManifestPart, ropts []remote.Option, progress func(string)) error {
	pn, err := reference.Parse(p.Ref)
	if err != nil {
		return err
	}
	d := p.Descriptor.Digest.String()
	missing := func(err error) error {
		err = c.remoteError("pushing "+ln.String(), ln.Domain, err)
		if errors.Is(err, errdefs.ErrNotFound) {
			return errdefs.NotFound("pushing %s: the registry no longer has %s (%s): push that image again (skiff push %s), then skiff manifest create --amend", ln, p.Ref, d, p.Ref)
		}
		return err
	}
	if pn.Repository() == ln.Repository() {
		_, err := remote.Head(repo.Digest(d), ropts...)
		if err != nil {
			return missing(err)
		}
		return nil
	}
	// The same registry as the list's: the same options reach it.
	src := repo.Registry.Repo(pn.Path).Digest(d)
	img, err := remote.Image(src, ropts...)
	if err != nil {
		return missing(err)
	}
	if err := remote.Write(repo.Digest(d), img, ropts...); err != nil {
		return c.remoteError("pushing "+ln.String(), ln.Domain, err)
	}
	progress(fmt.Sprintf("Pushed ref %s@%s with digest: %s", ln.Repository(), d, d))
	return nil
}

// rawManifest is a manifest to put byte for byte.
type rawManifest struct {
	data      []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.data, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }

// ManifestRemove deletes a local list.
func ManifestRemove(list string) error {
	ln, err := listName(list)
	if err != nil {
		return err
	}
	return withManifestLock(func() error {
		if _, err := readManifestList(ln); err != nil {
			return err
		}
		return os.Remove(manifestListPath(ln))
	})
}

// listName is a list's reference as Docker normalises it (tag latest
// unless a tag or digest is given).
func listName(list string) (reference.Named, error) {
	return reference.Parse(list)
}

func (l *ManifestList) find(ref string) int {
	return slices.IndexFunc(l.Parts, func(p ManifestPart) bool { return p.Ref == ref })
}

// manifestsDir holds the local lists, one JSON file each (Docker keeps
// them in ~/.docker/manifests).
func manifestsDir() string { return filepath.Join(paths.DataDir(), "manifests") }

// manifestListPath is the list's file: its name with / escaped, or the
// name's SHA-256 where that would be too long for a file name.
func manifestListPath(n reference.Named) string {
	base := url.PathEscape(n.String())
	if len(base) > 200 {
		sum := sha256.Sum256([]byte(n.String()))
		base = hex.EncodeToString(sum[:])
	}
	return filepath.Join(manifestsDir(), base+".json")
}

func readManifestList(n reference.Named) (*ManifestList, error) {
	var l ManifestList
	msg := fmt.Sprintf("no such manifest list: %s: create it with skiff manifest create %s IMAGE...", n, n.Familiar())
	if err := ondisk.ReadJSON(manifestListPath(n), &l, msg); err != nil {
		return nil, err
	}
	return &l, nil
}

func writeManifestList(l *ManifestList) error {
	return ondisk.WriteJSON(manifestListPath(reference.MustParse(l.Name)), l, 0o644)
}

// withManifestLock runs fn holding the lock of the local lists.
func withManifestLock(fn func() error) error {
	if err := os.MkdirAll(manifestsDir(), 0o755); err != nil {
		return err
	}
	unlock, err := ondisk.Lock(filepath.Join(manifestsDir(), ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}
