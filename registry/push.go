package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

// PushOptions are the choices of one push.
type PushOptions struct {
	TLSVerify *bool
	// Progress receives the lines Docker prints; nil is quiet. It is
	// called from one goroutine at a time.
	Progress func(string)
	// Bytes, when set, is told how much of the upload is done.
	Bytes func(done, total int64)
	// Auth, when set, is used instead of the stored credentials.
	Auth *Credentials
	// Platform, os/arch[/variant], is the platform the pushed image must
	// be for: skiff keeps one platform's image per name, so it is
	// checked rather than picked from a list.
	Platform string
	// AllTags pushes every local tag of the repository ref names.
	AllTags bool
}

// Push uploads the image named ref to its registry (or to dest when
// given) and returns the manifest digest (the last one with AllTags).
// The config is sent byte for byte, so the image keeps its ID; layers are
// gzip-compressed from the store, and blobs the registry already has are
// not sent again. Mirrors are never pushed to.
func Push(ctx context.Context, st *storage.Store, ref, dest string, o PushOptions) (string, error) {
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return "", err
	}
	if !o.AllTags {
		return pushOne(ctx, cfg, st, ref, dest, o, true)
	}
	if dest != "" {
		return "", errdefs.Invalid("pushing %s: --all-tags pushes to the repository's own registry: give no destination", ref)
	}
	refs, err := localTags(st, ref)
	if err != nil {
		return "", err
	}
	var d string
	for i, r := range refs {
		if d, err = pushOne(ctx, cfg, st, r, "", o, i == 0); err != nil {
			return "", err
		}
	}
	return d, nil
}

// localTags are the names of every local image tagged in ref's
// repository, sorted.
func localTags(st *storage.Store, ref string) ([]string, error) {
	n, err := reference.ParseNoTag(ref)
	if err != nil {
		return nil, err
	}
	if n.Tag != "" || n.Digest != "" {
		return nil, errdefs.Invalid("tag can't be used with --all-tags/-a")
	}
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, img := range imgs {
		for _, name := range img.RepoTags() {
			if r, err := reference.ParseNoTag(name); err == nil && r.Repository() == n.Repository() {
				refs = append(refs, r.String())
			}
		}
	}
	if len(refs) == 0 {
		return nil, errdefs.NotFound("An image does not exist locally with the tag: %s", n.Familiar())
	}
	sort.Strings(refs)
	return refs, nil
}

// pushOne pushes one local image; header says whether to print Docker's
// "The push refers to repository" line.
func pushOne(ctx context.Context, cfg *Config, st *storage.Store, ref, dest string, o PushOptions, header bool) (string, error) {
	img, err := st.LookupImage(ref)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return "", errdefs.NotFound("pushing %s: no such image in the local store: tag one with that name first (skiff tag IMAGE %s)", ref, ref)
		}
		return "", err
	}
	target := ref
	if dest != "" {
		target = dest
	}
	n, err := reference.Parse(target)
	if err != nil {
		return "", err
	}
	if n.Digest != "" {
		return "", errdefs.Invalid("pushing %s: push a tag, not a digest", target)
	}
	if err := checkPlatform(img, o.Platform, n); err != nil {
		return "", err
	}
	if err := cfg.blocked(n); err != nil {
		return "", fmt.Errorf("pushing %s: %w", n.String(), err)
	}
	vimg, err := storeV1Image(st, img, n)
	if err != nil {
		return "", err
	}
	ep := endpoint{named: n, insecure: cfg.Insecure(n.Domain)}
	rref, ropts, err := cfg.remoteRef(ep, o.TLSVerify, o.Auth)
	if err != nil {
		return "", err
	}
	ropts = append(ropts, remote.WithContext(ctx))
	if header {
		o.Progress(fmt.Sprintf("The push refers to repository [%s]", n.Repository()))
	}
	if err := pushLayers(rref.Context(), vimg, ropts, o); err != nil {
		return "", cfg.remoteError("pushing "+n.String(), n.Domain, err)
	}
	if err := remote.Write(rref, vimg, ropts...); err != nil {
		return "", cfg.remoteError("pushing "+n.String(), n.Domain, err)
	}
	d, err := vimg.Digest()
	if err != nil {
		return "", err
	}
	m, _ := vimg.RawManifest()
	o.Progress(fmt.Sprintf("%s: digest: %s size: %d", n.Tag, d, len(m)))
	// The image is now known as repository@digest there, as Docker
	// records it.
	_ = st.AddRepoDigests(img.ID, n.Repository()+"@"+d.String())
	return d.String(), nil
}

// checkPlatform refuses to push an image that is not for the platform
// asked for.
func checkPlatform(img *storage.Image, platform string, n reference.Named) error {
	if platform == "" {
		return nil
	}
	want, err := ParsePlatform(platform)
	if err != nil {
		return err
	}
	have := v1.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
	if have.OS != want.OS || have.Architecture != want.Architecture || (want.Variant != "" && have.Variant != want.Variant) {
		return errdefs.NotFound("pushing %s: the local image is for %s, not %s: skiff keeps one platform's image per name: pull or build it with --platform %s first",
			n.String(), platformString(have), platformString(want), platformString(want))
	}
	return nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// storeV1Image is a stored image as go-containerregistry pushes it.
func storeV1Image(st *storage.Store, img *storage.Image, n reference.Named) (v1.Image, error) {
	layers, err := st.LayerStack(img)
	if err != nil {
		return nil, err
	}
	if len(layers) != len(img.Config.RootFS.DiffIDs) {
		return nil, fmt.Errorf("pushing %s: the store has %d layers for %d diff IDs in its config: %w", n.String(), len(layers), len(img.Config.RootFS.DiffIDs), errdefs.ErrConflict)
	}
	byDiff := map[v1.Hash]string{}
	for i, d := range img.Config.RootFS.DiffIDs {
		byDiff[d] = layers[i]
	}
	return partial.UncompressedToImage(&storeImage{st: st, config: img.RawConfig, layers: byDiff})
}

// pushLayers uploads the layers the registry lacks, three at a time, and
// prints Docker's line for each: Preparing, then Pushed or Layer already
// exists, under the short diff ID as Docker shows it.
func pushLayers(repo name.Repository, img v1.Image, ropts []remote.Option, o PushOptions) error {
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(s string) { mu.Lock(); defer mu.Unlock(); o.Progress(s) }
	ids := make([]string, len(ls))
	for i, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			return err
		}
		ids[i] = shortHex(d.Hex)
		say(ids[i] + ": Preparing")
	}
	bytes := newUploadBytes(o.Bytes)
	sem := make(chan struct{}, 3)
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			existed, err := pushLayer(repo, l, ropts, bytes)
			switch {
			case err != nil:
				errs[i] = err
			case existed:
				say(ids[i] + ": Layer already exists")
			default:
				say(ids[i] + ": Pushed")
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pushLayer uploads one layer unless the registry has it, and says which.
func pushLayer(repo name.Repository, l v1.Layer, ropts []remote.Option, bytes *uploadBytes) (existed bool, err error) {
	h, err := l.Digest() // compresses the layer once to know it
	if err != nil {
		return false, err
	}
	size, err := l.Size()
	if err != nil {
		return false, err
	}
	rl, err := remote.Layer(repo.Digest(h.String()), ropts...)
	if err != nil {
		return false, err
	}
	if ex, ok := rl.(interface{ Exists() (bool, error) }); ok {
		if found, err := ex.Exists(); err == nil && found {
			bytes.add(size, size)
			return true, nil
		}
	}
	bytes.add(0, size)
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last int64
		for u := range updates {
			if u.Error == nil {
				bytes.add(u.Complete-last, 0)
				last = u.Complete
			}
		}
	}()
	err = remote.WriteLayer(repo, l, append(ropts, remote.WithProgress(updates))...)
	<-done
	return false, err
}

// uploadBytes adds up the layers' progress for PushOptions.Bytes.
type uploadBytes struct {
	mu          sync.Mutex
	done, total int64
	report      func(done, total int64)
}

func newUploadBytes(report func(done, total int64)) *uploadBytes {
	return &uploadBytes{report: report}
}

func (u *uploadBytes) add(done, total int64) {
	if u.report == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done += done
	u.total += total
	u.report(u.done, u.total)
}

func shortHex(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// storeImage is an image in skiff's store, seen by go-containerregistry.
type storeImage struct {
	st     *storage.Store
	config []byte
	layers map[v1.Hash]string // diff ID -> storage layer ID
}

func (s *storeImage) RawConfigFile() ([]byte, error) { return s.config, nil }

func (s *storeImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

func (s *storeImage) LayerByDiffID(h v1.Hash) (partial.UncompressedLayer, error) {
	id, ok := s.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s not in the store", h)
	}
	return &storeLayer{st: s.st, id: id, diffID: h}, nil
}

type storeLayer struct {
	st     *storage.Store
	id     string
	diffID v1.Hash
}

func (l *storeLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

func (l *storeLayer) Uncompressed() (io.ReadCloser, error) { return l.st.LayerDiff(l.id) }

func (l *storeLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
