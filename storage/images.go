package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/registry/reference"
)

// Keys of the data kept with each image.
const (
	keyConfig   = "config"
	keyManifest = "manifest"
	// keyRepoDigests holds the image's repository@digest references: the
	// storage library keeps manifest digests per image, Docker per
	// repository (an image pulled as a and as b@other-manifest is not
	// a@other-manifest).
	keyRepoDigests = "repo-digests"
)

// Image is one image in the store.
type Image struct {
	ID        string    // hex of the config digest, as Docker shows it
	Names     []string  // full references, e.g. docker.io/library/busybox:latest
	Digests   []string  // manifest digests it is known by
	Created   time.Time // from the image config, else when it was stored
	TopLayer  string
	Size      int64
	Config    v1.ConfigFile
	RawConfig []byte
	Manifest  []byte

	repoDigests []string // as recorded (keyRepoDigests); nil for images stored before
}

// RepoTags returns the names that carry a tag.
func (img *Image) RepoTags() []string {
	var out []string
	for _, n := range img.Names {
		if r, err := reference.ParseNoTag(n); err == nil && r.Tag != "" {
			out = append(out, r.String())
		}
	}
	return out
}

// RepoDigests returns repository@digest for each repository it is named
// in: the digests recorded for that repository, or (for images stored
// before skiff recorded them) every digest of the image.
func (img *Image) RepoDigests() []string {
	seen := map[string]bool{}
	var out []string
	if img.repoDigests != nil {
		repos := map[string]bool{}
		for _, n := range img.Names {
			if r, err := reference.ParseNoTag(n); err == nil {
				repos[r.Repository()] = true
			}
		}
		for _, rd := range img.repoDigests {
			repo, _, _ := strings.Cut(rd, "@")
			if repos[repo] && !seen[rd] {
				seen[rd] = true
				out = append(out, rd)
			}
		}
		return out
	}
	for _, n := range img.Names {
		r, err := reference.ParseNoTag(n)
		if err != nil {
			continue
		}
		for _, d := range img.Digests {
			s := r.Repository() + "@" + d
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// Dangling reports whether the image has no names.
func (img *Image) Dangling() bool { return len(img.Names) == 0 }

// load reads an image's config. An image whose config is missing or
// unreadable was left half-stored (the storage library records an image
// before it writes its config, so a kill or a full disk in between
// leaves one that nothing can use): it is rolled back here, by the next
// command that meets it, unless a container uses it.
func (s *Store) load(si *cstorage.Image) (*Image, error) {
	img := &Image{ID: si.ID, Names: si.Names, TopLayer: si.TopLayer, Created: si.Created}
	for _, d := range si.Digests {
		img.Digests = append(img.Digests, d.String())
	}
	var err error
	if img.RawConfig, err = s.s.ImageBigData(si.ID, keyConfig); err == nil {
		err = json.Unmarshal(img.RawConfig, &img.Config)
	}
	if err != nil {
		if s.RemoveHalfStored(si.ID) == nil {
			return nil, errdefs.NotFound("image %s was left half-stored by an interrupted command and has been removed: pull or load it again", short(si.ID))
		}
		return nil, fmt.Errorf("reading the config of image %s: %w", short(si.ID), err)
	}
	img.Manifest, _ = s.s.ImageBigData(si.ID, keyManifest)
	if b, err := s.s.ImageBigData(si.ID, keyRepoDigests); err == nil {
		_ = json.Unmarshal(b, &img.repoDigests)
	}
	if !img.Config.Created.IsZero() {
		img.Created = img.Config.Created.Time
	}
	if size, err := s.s.ImageSize(si.ID); err == nil {
		img.Size = size
	}
	return img, nil
}

// HalfStoredImages lists the images whose config is missing or
// unreadable: left by a command killed while it stored them.
func (s *Store) HalfStoredImages() ([]string, error) {
	all, err := s.s.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var out []string
	for _, si := range all {
		var cfg v1.ConfigFile
		data, err := s.s.ImageBigData(si.ID, keyConfig)
		if err == nil {
			err = json.Unmarshal(data, &cfg)
		}
		if err != nil {
			out = append(out, si.ID)
		}
	}
	return out, nil
}

// RemoveHalfStored removes a half-stored image unless a container uses it,
// when no other command holds the images (it may be called by one that
// does: it then leaves the image for later).
func (s *Store) RemoveHalfStored(id string) error {
	unlock, ok, err := ondisk.TryLock(imagesLock())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("image %s is half-stored; it is removed once no other command uses the images: %w", short(id), errdefs.ErrConflict)
	}
	defer unlock()
	users, err := s.containersOf(id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("image %s is half-stored but container %s uses it: %w", short(id), short(users[0]), errdefs.ErrConflict)
	}
	if _, err := s.s.DeleteImage(id, true); err != nil && !isUnknown(err) {
		return fmt.Errorf("removing half-stored image %s: %w", short(id), err)
	}
	return nil
}

// Images lists every image, newest first.
func (s *Store) Images() ([]*Image, error) {
	all, err := s.s.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := make([]*Image, 0, len(all))
	for i := range all {
		img, err := s.load(&all[i])
		if err != nil {
			continue // an image being written by another call
		}
		out = append(out, img)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// LookupImage finds an image by name (normalised as Docker does), by
// name@digest, by full ID (with or without sha256:) or by a unique ID prefix.
func (s *Store) LookupImage(ref string) (*Image, error) {
	id := strings.TrimPrefix(ref, "sha256:")
	if reference.IsID(id) {
		if si, err := s.s.Image(id); err == nil {
			return s.load(si)
		}
	}
	if n, err := reference.ParseNoTag(ref); err == nil {
		if n.Tag == "" && n.Digest == "" {
			n.Tag = "latest"
		}
		if img, err := s.byName(n); err == nil || !errors.Is(err, errdefs.ErrNotFound) {
			return img, err
		}
	}
	if isHexPrefix(id) {
		all, err := s.s.Images()
		if err != nil {
			return nil, err
		}
		var match []*cstorage.Image
		for i := range all {
			if strings.HasPrefix(all[i].ID, id) {
				match = append(match, &all[i])
			}
		}
		if len(match) == 1 {
			return s.load(match[0])
		}
		if len(match) > 1 {
			return nil, fmt.Errorf("image ID prefix %q matches %d images: give more characters: %w", ref, len(match), errdefs.ErrConflict)
		}
	}
	return nil, errdefs.NotFound("No such image: %s (pull it first: skiff pull %s)", ref, ref)
}

func (s *Store) byName(n reference.Named) (*Image, error) {
	if n.Digest != "" {
		imgs, err := s.s.ImagesByDigest(digest.Digest(n.Digest))
		if err == nil {
			for _, si := range imgs {
				for _, name := range si.Names {
					if r, err := reference.ParseNoTag(name); err == nil && r.Repository() == n.Repository() {
						return s.load(si)
					}
				}
			}
		}
		return nil, errdefs.NotFound("No such image: %s", n.String())
	}
	si, err := s.s.Image(n.String())
	if err != nil {
		if isUnknown(err) {
			return nil, errdefs.NotFound("No such image: %s", n.String())
		}
		return nil, err
	}
	return s.load(si)
}

func isHexPrefix(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil && strings.ToLower(s) == s
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Tag adds the name target to the image found by source.
func (s *Store) Tag(source, target string) error {
	img, err := s.LookupImage(source)
	if err != nil {
		return err
	}
	n, err := reference.Parse(target)
	if err != nil {
		return err
	}
	if n.Digest != "" {
		return errdefs.Invalid("tagging %s: target %s has a digest; give a tag", source, target)
	}
	// AddNames moves the name from any other image to this one.
	if err := s.s.AddNames(img.ID, []string{n.String()}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", source, target, err)
	}
	return nil
}

// RemoveImageResult says what RemoveImage did, in Docker's words.
type RemoveImageResult struct {
	Untagged []string
	Deleted  []string
}

// RemoveImage removes a name, or the whole image when ref is an ID or its
// last name. An image with several names is only untagged by name; by ID
// it needs force. An image used by a container needs force.
func (s *Store) RemoveImage(ref string, force bool) (*RemoveImageResult, error) {
	unlock, err := ondisk.Lock(imagesLock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := s.LookupImage(ref)
	if err != nil {
		return nil, err
	}
	res := &RemoveImageResult{}
	byName := false
	if n, err := reference.Parse(ref); err == nil {
		full := n.String()
		for _, name := range img.Names {
			if name == full {
				byName = true
				if len(img.Names) > 1 {
					if err := s.s.RemoveNames(img.ID, []string{name}); err != nil {
						return nil, err
					}
					res.Untagged = append(res.Untagged, reference.MustParse(name).Familiar())
					return res, nil
				}
			}
		}
	}
	if !byName && len(img.Names) > 1 && !force {
		return nil, fmt.Errorf("unable to delete %s (must be forced): image is referenced in multiple repositories (%s): %w", short(img.ID), strings.Join(familiar(img.Names), ", "), errdefs.ErrConflict)
	}
	users, err := s.containersOf(img.ID)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		if !force {
			return nil, fmt.Errorf("unable to delete image %s: container %s uses it: remove the container first or use -f: %w", ref, short(users[0]), errdefs.ErrConflict)
		}
		// Like Docker, -f untags an image in use but keeps it for the containers.
		if err := s.s.SetNames(img.ID, nil); err != nil {
			return nil, err
		}
		res.Untagged = familiar(img.Names)
		return res, nil
	}
	if _, err := s.s.DeleteImage(img.ID, true); err != nil {
		return nil, fmt.Errorf("deleting image %s: %w", short(img.ID), err)
	}
	res.Untagged = familiar(img.Names)
	res.Deleted = []string{"sha256:" + img.ID}
	return res, nil
}

func familiar(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if r, err := reference.ParseNoTag(n); err == nil {
			out = append(out, r.Familiar())
		} else {
			out = append(out, n)
		}
	}
	return out
}

func (s *Store) containersOf(imageID string) ([]string, error) {
	cs, err := s.s.Containers()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		if c.ImageID == imageID {
			out = append(out, c.ID)
		}
	}
	return out, nil
}

// imagesLock is taken shared while an image or its layers must not go
// (between finding an image and a container or image made on it holding
// it), and exclusive to remove images.
func imagesLock() string { return filepath.Join(DataDir(), "images.lock") }

// HoldImages keeps every image and layer from being removed until the
// returned func is called: take it from looking an image up to making a
// container on it.
func HoldImages() (func(), error) { return ondisk.LockShared(imagesLock()) }

// PruneImages removes dangling images (all unused ones with all) that no
// container uses and take selects (nil: any), and returns their IDs.
func (s *Store) PruneImages(all bool, take func(*Image) bool) ([]string, error) {
	unlock, err := ondisk.Lock(imagesLock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	imgs, err := s.Images()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, img := range imgs {
		if (img.Dangling() || all) && (take == nil || take(img)) && s.removeUnused(img.ID) {
			removed = append(removed, "sha256:"+img.ID)
		}
	}
	return removed, nil
}

// removeUnused deletes an image no container uses; it says whether it did
// (not when a container uses it or a concurrent call removed it first).
func (s *Store) removeUnused(id string) bool {
	if users, err := s.containersOf(id); err != nil || len(users) > 0 {
		return false
	}
	_, err := s.s.DeleteImage(id, true)
	return err == nil
}

// LayerSource is one layer of an image to store, in order from the base.
type LayerSource struct {
	DiffID string // sha256:… of the uncompressed tar
	// Open returns the uncompressed tar stream; nil when MissingLayers
	// said the store has the layer.
	Open func() (io.ReadCloser, error)
	// Checks are extra checks of the tar (see LayerChecks).
	Checks LayerChecks
	// Stored, when set, is called once the layer is in the store.
	Stored func()
}

// NewImage is what PutImage stores.
type NewImage struct {
	Layers   []LayerSource
	Config   []byte // the raw config blob; its digest is the image ID
	Manifest []byte
	Digests  []string // manifest digests the image is known by
	Names    []string // full references
}

// MissingLayers reports, for a stack of diff IDs from the base up, which
// layers the store does not have yet.
func (s *Store) MissingLayers(diffIDs []string) []bool {
	out := make([]bool, len(diffIDs))
	parent := ""
	for i, d := range diffIDs {
		parent = chainID(parent, d)
		_, err := s.s.Layer(parent)
		out[i] = err != nil
	}
	return out
}

// PutImage stores the layers that are missing and the image record, and
// moves the names to it. Layers already present (by chain ID) are reused;
// on failure the layers this call created are removed again.
func (s *Store) PutImage(ctx context.Context, ni NewImage) (*Image, error) {
	var created []string
	img, err := s.putImage(ctx, ni, &created)
	if err != nil && len(created) > 0 {
		s.dropLayers(created)
	}
	return img, err
}

// dropLayers removes the layers a failed PutImage created, newest first,
// holding the images alone: a PutImage beside it may have found one of
// them and be about to store its image on it. By then that image (or a
// child layer) holds it, and the store refuses to delete it.
func (s *Store) dropLayers(ids []string) {
	unlock, err := ondisk.Lock(imagesLock())
	if err != nil {
		return // left for system check --repair, as a killed pull's
	}
	defer unlock()
	for i := len(ids) - 1; i >= 0; i-- {
		_ = s.s.DeleteLayer(ids[i])
	}
}

// putImage is PutImage's work, with the images held (shared): the layers
// found in the store stay until the image holds them. created collects
// the layers it made.
func (s *Store) putImage(ctx context.Context, ni NewImage, created *[]string) (*Image, error) {
	unlock, err := HoldImages()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, todo, err := s.layerPlan(ni.Layers)
	if err != nil {
		return nil, err
	}
	if err := s.putLayers(ctx, ni.Layers, ids, todo, created); err != nil {
		return nil, err
	}
	parent := ""
	if len(ids) > 0 {
		parent = ids[len(ids)-1]
	}
	defer trace.Begin("store the image record")()
	sum := sha256.Sum256(ni.Config)
	id := hex.EncodeToString(sum[:])
	var cfg v1.ConfigFile
	if err := json.Unmarshal(ni.Config, &cfg); err != nil {
		return nil, errdefs.Invalid("image config: %v", err)
	}
	opts := &cstorage.ImageOptions{
		BigData: []cstorage.ImageBigDataOption{
			{Key: keyConfig, Data: ni.Config, Digest: digest.FromBytes(ni.Config)},
		},
	}
	if len(ni.Manifest) > 0 {
		opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: keyManifest, Data: ni.Manifest, Digest: digest.FromBytes(ni.Manifest)})
	}
	for _, d := range ni.Digests {
		opts.Digests = append(opts.Digests, digest.Digest(d))
	}
	if len(opts.Digests) > 0 {
		opts.Digest = opts.Digests[0]
	}
	if !cfg.Created.IsZero() {
		opts.CreationDate = cfg.Created.Time
	}
	_, err = s.s.CreateImage(id, nil, parent, "", opts)
	if errors.Is(err, cstorage.ErrDuplicateID) {
		// Same content stored before: keep it, record the new digests,
		// and complete it if an interrupted command left it without its
		// config.
		err = nil
		if _, cerr := s.s.ImageBigData(id, keyConfig); cerr != nil {
			err = s.s.SetImageBigData(id, keyConfig, ni.Config, func(b []byte) (digest.Digest, error) { return digest.FromBytes(b), nil })
		}
		if si, gerr := s.s.Image(id); gerr == nil && len(ni.Digests) > 0 {
			known := map[string]bool{}
			for _, d := range si.Digests {
				known[d.String()] = true
			}
			for _, d := range ni.Digests {
				if !known[d] {
					_ = s.s.SetImageBigData(id, "manifest-"+d, ni.Manifest, func([]byte) (digest.Digest, error) { return digest.Digest(d), nil })
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("storing image %s: %w", short(id), err)
	}
	if len(ni.Names) > 0 {
		if err := s.s.AddNames(id, ni.Names); err != nil {
			return nil, fmt.Errorf("naming image %s: %w", short(id), err)
		}
	}
	var refs []string
	for _, n := range ni.Names {
		if r, err := reference.ParseNoTag(n); err == nil {
			for _, d := range ni.Digests {
				refs = append(refs, r.Repository()+"@"+d)
			}
		}
	}
	if err := s.AddRepoDigests(id, refs...); err != nil {
		return nil, fmt.Errorf("recording the digests of image %s: %w", short(id), err)
	}
	si, err := s.s.Image(id)
	if err != nil {
		return nil, err
	}
	return s.load(si)
}

// AddRepoDigests records repository@digest references of an image (a
// pull's, a push's).
func (s *Store) AddRepoDigests(id string, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	var cur []string
	if b, err := s.s.ImageBigData(id, keyRepoDigests); err == nil {
		_ = json.Unmarshal(b, &cur)
	}
	n := len(cur)
	for _, r := range refs {
		if !slices.Contains(cur, r) {
			cur = append(cur, r)
		}
	}
	if len(cur) == n && n > 0 {
		return nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	return s.s.SetImageBigData(id, keyRepoDigests, b, func(b []byte) (digest.Digest, error) { return digest.FromBytes(b), nil })
}

// isStagingRace is the storage library losing a layer's temporary
// directory to another process's stale-directory recovery: either moving
// the staged tar-split out of it fails, or unpacking into the (removed)
// staging root finds no directory to create entries in. The library's
// staging lock has a window between creating and locking the lock file
// in which a recovering process can take it as stale.
func isStagingRace(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	lost := errors.Is(err, fs.ErrNotExist) || strings.Contains(msg, "no such file or directory")
	if lost {
		return strings.Contains(msg, "/temp-dir-") || strings.Contains(msg, "/staging/") || strings.Contains(msg, "unpacking failed")
	}
	// Another process's store shutdown prunes staging directories whose
	// lock it can take: it can take a new one's before its maker does,
	// which then cannot ("failed to acquire lock on …/staging/N/staging.lock").
	return strings.Contains(msg, "/staging/") && (errors.Is(err, syscall.EAGAIN) || strings.Contains(msg, "resource temporarily unavailable"))
}

// sleepTry waits a little longer before each retry.
func sleepTry(try int) { time.Sleep(time.Duration(try) * 50 * time.Millisecond) }

// chainID is the OCI chain ID of a layer over parent (a chain ID or "").
func chainID(parent, diffID string) string {
	d := strings.TrimPrefix(diffID, "sha256:")
	if parent == "" {
		return d
	}
	sum := sha256.Sum256([]byte("sha256:" + parent + " sha256:" + d))
	return hex.EncodeToString(sum[:])
}

// LayerStack returns the storage IDs of an image's layers, base first.
func (s *Store) LayerStack(img *Image) ([]string, error) {
	var ids []string
	for id := img.TopLayer; id != ""; {
		l, err := s.s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("layer %s of image %s: %w", short(id), short(img.ID), err)
		}
		ids = append([]string{id}, ids...)
		id = l.Parent
	}
	return ids, nil
}

// LayerDiff returns a layer's uncompressed tar, byte for byte as it was
// stored (so its digest is the layer's diff ID).
func (s *Store) LayerDiff(id string) (io.ReadCloser, error) {
	plain := archive.Uncompressed
	rc, err := s.s.Diff("", id, &cstorage.DiffOptions{Compression: &plain})
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", short(id), err)
	}
	return rc, nil
}
