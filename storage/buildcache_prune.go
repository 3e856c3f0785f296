package storage

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/skiff-project/skiff/internal/ondisk"
)

// BuildPruneOptions are `builder prune`'s --filter until= and
// --keep-storage: only cache older than Until goes (zero: any age), and
// of that only what does not fit in KeepStorage bytes, newest kept first
// (0: nothing is kept).
type BuildPruneOptions struct {
	Until       time.Time
	KeepStorage int64
}

// cacheItem is one piece of the build cache: a cached step (its file and
// the intermediate image it names) or a RUN cache mount's directory.
type cacheItem struct {
	path    string
	imageID string // "" for a cache mount
	when    time.Time
	size    int64
}

// PruneBuildWith removes the part of the build cache o selects, oldest
// first; with zero options it is PruneBuild. It returns the images it
// removed.
func (s *Store) PruneBuildWith(o BuildPruneOptions) ([]string, error) {
	if o.Until.IsZero() && o.KeepStorage == 0 {
		return s.PruneBuild()
	}
	unlock, err := ondisk.Lock(imagesLock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	items := s.cacheItems()
	sort.Slice(items, func(i, j int) bool { return items[i].when.After(items[j].when) })
	var kept int64
	var removed []string
	for _, it := range items {
		young := !o.Until.IsZero() && !it.when.Before(o.Until)
		if young || o.KeepStorage > 0 && kept+it.size <= o.KeepStorage {
			kept += it.size
			continue
		}
		if id, ok := s.removeCacheItem(it); ok {
			removed = append(removed, id)
		}
	}
	return removed, nil
}

// cacheItems lists the cached steps and the cache mounts with their times
// and sizes (an intermediate's own layer; a mount's files).
func (s *Store) cacheItems() []cacheItem {
	var items []cacheItem
	steps, _ := os.ReadDir(buildCacheDir())
	for _, e := range steps {
		p := filepath.Join(buildCacheDir(), e.Name())
		data, err := os.ReadFile(p)
		fi, serr := e.Info()
		if err != nil || serr != nil {
			continue
		}
		it := cacheItem{path: p, imageID: strings.TrimSpace(string(data)), when: fi.ModTime()}
		if img, err := s.LookupImage(it.imageID); err == nil {
			if l, err := s.s.Layer(img.TopLayer); err == nil && l.UncompressedSize > 0 {
				it.size = l.UncompressedSize
			}
		}
		items = append(items, it)
	}
	mounts, _ := os.ReadDir(buildMountsDir())
	for _, e := range mounts {
		if fi, err := e.Info(); err == nil {
			p := filepath.Join(buildMountsDir(), e.Name())
			items = append(items, cacheItem{path: p, when: fi.ModTime(), size: dirSize(p)})
		}
	}
	return items
}

// removeCacheItem forgets a cached step (and removes its intermediate
// image when no tag and no container holds it) or deletes a cache mount;
// it returns the image removed, if any.
func (s *Store) removeCacheItem(it cacheItem) (string, bool) {
	if err := os.RemoveAll(it.path); err != nil || it.imageID == "" {
		return "", false
	}
	img, err := s.LookupImage(it.imageID)
	if err == nil && len(img.Names) == 0 && s.removeUnused(img.ID) {
		return "sha256:" + img.ID, true
	}
	return "", false
}

// dirSize is the size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
