package build

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/storage"
)

// --cache-from: an image stands in for a step when its layers start with
// the stage's layers so far and its next layer's history entry is the
// one the step would write (a RUN's command with its build args, a
// COPY's instruction with the digest of what it copies), as Docker's
// classic builder matches history. The step's config stays the build's.

// fromCacheImages finds the step's layer in a --cache-from image and
// stores the stage's image with it.
func (b *builder) fromCacheImages(s *stage, createdBy string) (*storage.Image, bool) {
	var have []v1.Hash
	if s.img != nil {
		have = s.img.Config.RootFS.DiffIDs
	}
	for _, c := range b.o.CacheFrom {
		ids := c.Config.RootFS.DiffIDs
		byLayer := layerHistory(c.Config)
		if len(byLayer) != len(ids) || len(ids) <= len(have) || byLayer[len(have)] != createdBy || !hasPrefix(ids, have) {
			continue
		}
		img, err := b.storeLayer(s, &storage.LayerSource{DiffID: ids[len(have)].String()}, v1.History{CreatedBy: createdBy})
		if err != nil {
			continue
		}
		b.st.RememberStep(s.chain, img.ID)
		return img, true
	}
	return nil, false
}

// layerHistory is the CreatedBy of the history entry of each layer. The
// entries belong to the last layers: a base image without a history
// leaves its layers "" (they match no step).
func layerHistory(cfg v1.ConfigFile) []string {
	var entries []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			entries = append(entries, h.CreatedBy)
		}
	}
	skip := len(cfg.RootFS.DiffIDs) - len(entries)
	if skip < 0 {
		return nil
	}
	return append(make([]string, skip), entries...)
}

func hasPrefix(ids, prefix []v1.Hash) bool {
	if len(prefix) > len(ids) {
		return false
	}
	for i := range prefix {
		if ids[i] != prefix[i] {
			return false
		}
	}
	return true
}
