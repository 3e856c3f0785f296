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
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
)

// runtimeArtefacts are files the runtime creates in a container's layer
// as mount points (Docker keeps them in its init layer): diff and commit
// leave them out.
var runtimeArtefacts = map[string]bool{
	"/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true,
	"/etc/mtab": true, "/.dockerenv": true, "/run/.containerenv": true,
}

// runtimeTrees are directories whose content in the layer is only ever
// mount points or device nodes made by the runtime.
var runtimeTrees = []string{"/dev", "/proc", "/sys"}

// isArtefact reports whether p (absolute, clean) is a mount point the
// runtime made: one of the files above, inside a runtime tree, or one of
// the container's own mount destinations.
func isArtefact(p string, mounts []string) bool {
	if runtimeArtefacts[p] {
		return true
	}
	for _, t := range append(runtimeTrees, mounts...) {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// Change is one line of `skiff diff`.
type Change struct {
	Kind string // A (added), C (changed) or D (deleted)
	Path string
}

// containerLayer returns the container's read-write layer ID.
func (s *Store) containerLayer(id string) (string, *cstorage.Container, error) {
	c, err := s.s.Container(id)
	if err != nil {
		if isUnknown(err) {
			return "", nil, errdefs.NotFound("container %s has no file system in the store", id)
		}
		return "", nil, err
	}
	return c.LayerID, c, nil
}

// Changes lists what changed in a container's file system compared with
// its image, sorted by path, without the mount points the runtime made
// (mounts are the container's own mount destinations).
func (s *Store) Changes(id string, mounts []string) ([]Change, error) {
	layer, _, err := s.containerLayer(id)
	if err != nil {
		return nil, err
	}
	raw, err := s.s.Changes("", layer)
	if err != nil {
		return nil, fmt.Errorf("comparing the file system of container %s with its image: %w", short(id), err)
	}
	var out []Change
	dropped := map[string]bool{} // parents of dropped artefacts
	for _, c := range raw {
		p := path.Clean("/" + c.Path)
		if isArtefact(p, mounts) {
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				dropped[d] = true
			}
			continue
		}
		kind := map[archive.ChangeType]string{archive.ChangeAdd: "A", archive.ChangeModify: "C", archive.ChangeDelete: "D"}[c.Kind]
		out = append(out, Change{Kind: kind, Path: p})
	}
	// A directory changed only because the runtime made a mount point in
	// it is no change the user made.
	kept := out[:0]
	for _, c := range out {
		if c.Kind == "C" && dropped[c.Path] && !hasChild(out, c.Path) {
			continue
		}
		kept = append(kept, c)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	return kept, nil
}

func hasChild(cs []Change, dir string) bool {
	for _, c := range cs {
		if strings.HasPrefix(c.Path, dir+"/") {
			return true
		}
	}
	return false
}

// CommitOptions describe `skiff commit`.
type CommitOptions struct {
	Config    v1.Config // the container's configuration: the new image's
	Changes   []string  // Dockerfile instructions applied on top (see ApplyChange)
	Author    string
	Message   string
	CreatedBy string   // the container's command, for the history
	Name      string   // full reference, or empty
	Mounts    []string // the container's mount destinations, left out
	// Stubs are mount destinations the runtime made only to mount on (a
	// build's RUN --mount targets): left out themselves too.
	Stubs []string
}

// Commit makes a new image from a container: its image's layers plus the
// container's changes as one new layer.
func (s *Store) Commit(ctx context.Context, id string, o CommitOptions) (*Image, error) {
	layer, c, err := s.containerLayer(id)
	if err != nil {
		return nil, err
	}
	base, err := s.LookupImage(c.ImageID)
	if err != nil {
		return nil, fmt.Errorf("committing container %s: its image: %w", short(id), err)
	}
	cfg := base.Config.DeepCopy()
	volumes := cfg.Config.Volumes
	cfg.Config = *o.Config.DeepCopy()
	if cfg.Config.Volumes == nil {
		cfg.Config.Volumes = volumes // the container record does not keep them
	}
	for _, ch := range o.Changes {
		if err := ApplyChange(&cfg.Config, ch); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	cfg.Created = v1.Time{Time: now}
	cfg.Author = o.Author
	cfg.Container = id
	f, diffID, err := s.layerTar(layer, append(o.Mounts, o.Stubs...), o.Stubs)
	if err != nil {
		return nil, fmt.Errorf("committing container %s: %w", short(id), err)
	}
	defer os.Remove(f)
	h, err := v1.NewHash(diffID)
	if err != nil {
		return nil, err
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	cfg.History = append(cfg.History, v1.History{Created: cfg.Created, Author: o.Author, CreatedBy: o.CreatedBy, Comment: o.Message})
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	ni := NewImage{Config: raw}
	for _, d := range base.Config.RootFS.DiffIDs {
		ni.Layers = append(ni.Layers, LayerSource{DiffID: d.String()})
	}
	ni.Layers = append(ni.Layers, LayerSource{DiffID: diffID, Open: func() (io.ReadCloser, error) { return os.Open(f) }})
	if o.Name != "" {
		ni.Names = []string{o.Name}
	}
	img, err := s.PutImage(ctx, ni)
	if err != nil {
		return nil, fmt.Errorf("committing container %s: %w", short(id), err)
	}
	return img, nil
}

// layerTar writes the tar of a container layer, without the runtime's
// mount points, to a temporary file and returns it with its digest.
func (s *Store) layerTar(layer string, mounts, stubs []string) (string, string, error) {
	unc := archive.Uncompressed
	rc, err := s.s.Diff("", layer, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return "", "", fmt.Errorf("reading the container's changes: %w", err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.TempDir(), "commit-")
	if err != nil {
		return "", "", err
	}
	fail := func(err error) (string, string, error) {
		f.Close()
		os.Remove(f.Name())
		return "", "", err
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("reading the container's changes: %w", err))
		}
		if p := path.Clean("/" + hdr.Name); skipInCommit(p, mounts) || slices.Contains(stubs, p) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fail(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fail(err)
		}
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return f.Name(), "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// skipInCommit reports whether a layer entry is the runtime's: one of its
// files (or their whiteouts) or anything below a runtime tree or mount
// destination. The directories themselves stay, as in Docker.
func skipInCommit(p string, mounts []string) bool {
	if runtimeArtefacts[strings.Replace(p, "/.wh.", "/", 1)] {
		return true
	}
	for _, t := range append(runtimeTrees, mounts...) {
		if strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// HistoryEntry is one row of `skiff history`, newest first.
type HistoryEntry struct {
	ID         string // the image ID on the top row, else ""
	Created    time.Time
	CreatedBy  string
	Comment    string
	Size       int64
	EmptyLayer bool
}

// History returns the image's history, newest first, with each entry's
// layer size.
func (s *Store) History(ref string) ([]HistoryEntry, error) {
	img, err := s.LookupImage(ref)
	if err != nil {
		return nil, err
	}
	chain, err := s.layerChain(img)
	if err != nil {
		return nil, err
	}
	sizes := make([]int64, len(chain))
	for i, id := range chain {
		if l, err := s.s.Layer(id); err == nil && l.UncompressedSize > 0 {
			sizes[i] = l.UncompressedSize
		} else if n, err := s.s.DiffSize("", id); err == nil {
			sizes[i] = n
		}
	}
	hist := img.Config.History
	if len(hist) == 0 {
		// No history: one row per layer, as Docker shows it.
		for range chain {
			hist = append(hist, v1.History{Created: v1.Time{Time: img.Created}})
		}
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range hist {
		e := HistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.EmptyLayer && layer < len(sizes) {
			e.Size = sizes[layer]
			layer++
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID
	}
	return out, nil
}

// MountContainer mounts a container's file system (running or not) and
// returns its path and the matching unmount: the store counts mounts, so
// a running container keeps its own.
func (s *Store) MountContainer(id string) (string, func(), error) {
	dir, err := s.s.Mount(id, "")
	if err != nil {
		if isUnknown(err) {
			return "", nil, errdefs.NotFound("container %s has no file system in the store", id)
		}
		return "", nil, fmt.Errorf("mounting the file system of container %s: %w", short(id), err)
	}
	return dir, func() { _, _ = s.s.Unmount(id, false) }, nil
}

// Export writes a container's whole file system as a tar.
func (s *Store) Export(ctx context.Context, id string, w io.Writer) error {
	dir, unmount, err := s.MountContainer(id)
	if err != nil {
		return err
	}
	defer unmount()
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return fmt.Errorf("exporting container %s: %w", short(id), err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("exporting container %s: %w", short(id), err)
	}
	return nil
}
