package build

import (
	"bytes"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"

	"github.com/skiff-project/skiff/storage"
)

// squash (--squash) merges the layers the final stage added to its base
// image into one, as Docker's --squash does: the base's layers, then one
// layer with the difference, the history entries of the merged layers
// kept as empty ones and a "merge" entry for the new layer.
func (b *builder) squash(s *stage, img *storage.Image) (*storage.Image, error) {
	baseLayers, baseHistory := 0, 0
	if s.base != nil {
		baseLayers, baseHistory = len(s.base.Config.RootFS.DiffIDs), len(s.base.Config.History)
	}
	if len(img.Config.RootFS.DiffIDs)-baseLayers < 2 {
		return img, nil // one new layer (or none) is squashed already
	}
	key := s.chain + "\x00SQUASH"
	if !b.o.NoCache {
		if cached, ok := b.st.CachedStep(key); ok {
			return cached, nil
		}
	}
	layer, err := b.diff(s.base, img)
	if err != nil {
		return nil, fmt.Errorf("--squash: %w", err)
	}
	merged := &stage{img: s.base, cfg: *img.Config.DeepCopy()}
	merged.cfg.History = merged.cfg.History[:0]
	for i, h := range img.Config.History {
		if i >= baseHistory {
			h.EmptyLayer = true
		}
		merged.cfg.History = append(merged.cfg.History, h)
	}
	d, _, err := v1.SHA256(bytes.NewReader(layer))
	if err != nil {
		return nil, err
	}
	comment := "merge sha256:" + img.ID + " to "
	if s.base != nil {
		comment += "sha256:" + s.base.ID
	} else {
		comment += "scratch"
	}
	out, err := b.storeLayer(merged, &storage.LayerSource{DiffID: d.String(), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	}}, v1.History{Comment: comment})
	if err != nil {
		return nil, err
	}
	b.st.RememberStep(key, out.ID)
	return out, nil
}

// diff is the layer that turns base's files (none for nil) into img's.
func (b *builder) diff(base, img *storage.Image) ([]byte, error) {
	newRoot, doneNew, err := b.st.MountImage(img.ID)
	if err != nil {
		return nil, err
	}
	defer doneNew()
	oldRoot := ""
	if base != nil {
		root, doneOld, err := b.st.MountImage(base.ID)
		if err != nil {
			return nil, err
		}
		defer doneOld()
		oldRoot = root
	} else {
		empty, err := os.MkdirTemp(b.st.TempDir(), "squash-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(empty)
		oldRoot = empty
	}
	ids := idtools.NewIDMappingsFromMaps(nil, nil) // as seen here: no mapping
	changes, err := archive.ChangesDirs(newRoot, ids, oldRoot, ids)
	if err != nil {
		return nil, err
	}
	rc, err := archive.ExportChanges(newRoot, changes, nil, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
