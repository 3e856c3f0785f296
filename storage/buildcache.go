package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-project/skiff/internal/ondisk"
)

// The build cache maps a step's key (its parent and everything that goes
// into it) to the image the step made. Entries whose image is gone are
// misses; image prune and system prune remove the images, and so empty
// the cache. The images it points to are a build's intermediates, which
// `images` hides unless -a.

func buildCacheDir() string { return filepath.Join(DataDir(), "build-cache") }

func cacheFile(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(buildCacheDir(), hex.EncodeToString(sum[:]))
}

// CachedStep returns the image a step with this key made before, if it
// still exists.
func (s *Store) CachedStep(key string) (*Image, bool) {
	data, err := os.ReadFile(cacheFile(key))
	if err != nil {
		return nil, false
	}
	img, err := s.LookupImage(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, false
	}
	return img, true
}

// RememberStep records the image a step made.
func (s *Store) RememberStep(key, imageID string) {
	if err := os.MkdirAll(buildCacheDir(), 0o700); err != nil {
		return
	}
	_ = ondisk.WriteFile(cacheFile(key), []byte(imageID), 0o600)
}

// BuildIntermediates are the images the build cache points to.
func BuildIntermediates() map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(buildCacheDir())
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(buildCacheDir(), e.Name())); err == nil {
			out[strings.TrimSpace(string(data))] = true
		}
	}
	return out
}

// PruneBuildCache forgets every cached step.
func PruneBuildCache() error { return os.RemoveAll(buildCacheDir()) }

func buildMountsDir() string { return filepath.Join(DataDir(), "build-mounts") }

// BuildMountDir is the directory kept between builds for RUN
// --mount=type=cache with this id.
func BuildMountDir(id string) (string, error) {
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(buildMountsDir(), hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// PruneBuildMounts removes the RUN --mount=type=cache directories.
func PruneBuildMounts() error { return os.RemoveAll(buildMountsDir()) }

// PruneBuild empties the build cache: the intermediate images no tag and
// no container holds, every cached step, and the RUN --mount=type=cache
// directories. It returns the images it removed.
func (s *Store) PruneBuild() ([]string, error) {
	unlock, err := ondisk.Lock(imagesLock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removed []string
	for id := range BuildIntermediates() {
		if img, err := s.LookupImage(id); err == nil && len(img.Names) == 0 && s.removeUnused(img.ID) {
			removed = append(removed, "sha256:"+img.ID)
		}
	}
	if err := PruneBuildCache(); err != nil {
		return removed, err
	}
	return removed, PruneBuildMounts()
}
