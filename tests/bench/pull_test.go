package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiff-project/skiff/tests/harness"
)

// Pulling a large image from the harness's registry into an empty store,
// skiff against Podman, and (when the binary has them) save and load of the
// same image. The image is generated here: pullLayers layers of incompressible
// random files, gzip-compressed like the layers `docker build` pushes, so
// both the transfer and the unpacking handle the whole size.

const (
	// pullLayers layers of pullFilesPerLayer files of pullFileMiB each.
	pullLayers        = 5
	pullFilesPerLayer = 4
	pullFileMiB       = 10
	// pullRepo is the image's repository in the harness's registry.
	pullRepo = "bench-pull"
	// defaultPullRuns is how many timed pulls (and saves and loads) each
	// engine gets, after one untimed warm-up pull.
	defaultPullRuns = 5
	// pullTarget is the goal for skiff's median pull over Podman's.
	pullTarget = 0.50
	// mb is the unit of the throughputs printed here (MB/s).
	mb = 1e6
)

// pullImage is the generated image, pushed to the registry.
type pullImage struct {
	ref        string
	diffIDs    []string // uncompressed digests: how the stores name the layers
	compressed int64    // bytes of the layer blobs in the registry
	raw        int64    // bytes of the uncompressed layer tars
}

var (
	pullOnce sync.Once
	pullImg  *pullImage
	pullErr  error
)

// pullRuns is the number of timed runs per engine of the pull and of save
// and load (SKIFF_BENCH_PULL_RUNS; SKIFF_BENCH_RUNS does not apply).
func pullRuns() int {
	n, _ := envInt("SKIFF_BENCH_PULL_RUNS", defaultPullRuns)
	return n
}

// randomLayer is one gzip-compressed layer tar of random files under
// /data/layerI.
func randomLayer(i int) (gz []byte, rawSize int64, err error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	dirs := []string{"data/", fmt.Sprintf("data/layer%d/", i)}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return nil, 0, err
		}
	}
	body := make([]byte, pullFileMiB<<20)
	for j := 0; j < pullFilesPerLayer; j++ {
		if _, err := rand.Read(body); err != nil {
			return nil, 0, err
		}
		h := &tar.Header{Name: fmt.Sprintf("data/layer%d/part%d.bin", i, j), Typeflag: tar.TypeReg, Mode: 0o644,
			Size: int64(len(body)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	var gzBuf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gzBuf, gzip.DefaultCompression)
	if err != nil {
		return nil, 0, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return gzBuf.Bytes(), int64(tarBuf.Len()), nil
}

// buildPullImage generates the layers (in parallel), assembles the image
// and pushes it to the harness's registry.
func buildPullImage() (*pullImage, error) {
	start := time.Now()
	type built struct {
		gz  []byte
		raw int64
		err error
	}
	layers := make([]built, pullLayers)
	var wg sync.WaitGroup
	for i := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gz, raw, err := randomLayer(i)
			layers[i] = built{gz, raw, err}
		}()
	}
	wg.Wait()
	cf := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		Config:       v1.Config{Cmd: []string{"/bin/true"}, Env: []string{harness.DefaultPath}},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, err
	}
	pi := &pullImage{}
	var adds []mutate.Addendum
	for i, l := range layers {
		if l.err != nil {
			return nil, fmt.Errorf("generating layer %d: %w", i, l.err)
		}
		gz := l.gz
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(gz)), nil
		})
		if err != nil {
			return nil, err
		}
		diffID, err := layer.DiffID()
		if err != nil {
			return nil, err
		}
		pi.diffIDs = append(pi.diffIDs, diffID.String())
		pi.compressed += int64(len(gz))
		pi.raw += l.raw
		adds = append(adds, mutate.Addendum{Layer: layer, History: v1.History{Created: cf.Created,
			CreatedBy: fmt.Sprintf("skiff bench: %d x %d MiB of random bytes", pullFilesPerLayer, pullFileMiB)}})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	generated := time.Since(start)

	start = time.Now()
	ref, err := name.ParseReference(harness.Registry+"/"+pullRepo+":latest", name.Insecure)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", ref, err)
	}
	pi.ref = ref.String()
	fmt.Printf("bench: pull image %s: %d layers of %d x %d MiB random bytes, %.1f MB as gzip blobs (%.1f MB of tar), generated in %.1f s, pushed in %.1f s\n",
		pi.ref, pullLayers, pullFilesPerLayer, pullFileMiB, float64(pi.compressed)/mb, float64(pi.raw)/mb,
		generated.Seconds(), time.Since(start).Seconds())
	return pi, nil
}

// store is one engine's image store, where the benchmark checks which of
// the image's layers it holds.
type store struct {
	e             *engine
	graphRoot     string
	noUnpackCheck bool // the layers' directories were not found (noted once)
}

// pullStores finds skiff's and Podman's graph roots.
func pullStores(f *fixture) ([]*store, error) {
	u := harness.E2E
	stores := []*store{{e: f.skiff, graphRoot: filepath.Join(u.DataDir(), "storage")}}
	if f.podman != nil {
		out, err := podmanOutput(u, "info", "--format", "{{.Store.GraphRoot}}")
		if err != nil {
			return nil, err
		}
		root := strings.TrimSpace(out)
		if root == "" {
			root = filepath.Join(u.Home, ".local", "share", "containers", "storage")
		}
		stores = append(stores, &store{e: f.podman, graphRoot: root})
	}
	return stores, nil
}

// layersHeld counts the image's layers in the store, by uncompressed digest,
// from containers/storage's layer list (DRIVER-layers/layers.json, which
// skiff's store and Podman's share), and returns the IDs of those it holds.
func (s *store) layersHeld(pi *pullImage) (int, map[string]string, error) {
	files, _ := filepath.Glob(filepath.Join(s.graphRoot, "*-layers", "*layers.json"))
	have := map[string]string{} // diff digest -> layer ID
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		var layers []struct {
			ID         string         `json:"id"`
			DiffDigest string         `json:"diff-digest"`
			Flags      map[string]any `json:"flags"`
		}
		if err := json.Unmarshal(data, &layers); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, l := range layers {
			if l.Flags["incomplete"] == true {
				continue
			}
			have[l.DiffDigest] = l.ID
		}
	}
	ids := map[string]string{}
	for _, d := range pi.diffIDs {
		if id, ok := have[d]; ok {
			ids[d] = id
		}
	}
	return len(ids), ids, nil
}

// unpackedBytes sums the sizes of the regular files in the layers' directories
// (overlay: DRIVER/ID/diff, vfs: vfs/dir/ID), or returns -1 when it cannot
// find them.
func (s *store) unpackedBytes(ids map[string]string) int64 {
	var total int64
	for _, id := range ids {
		var dir string
		for _, c := range []string{
			filepath.Join(s.graphRoot, "overlay", id, "diff"),
			filepath.Join(s.graphRoot, "vfs", "dir", id),
		} {
			if fi, err := os.Stat(c); err == nil && fi.IsDir() {
				dir = c
				break
			}
		}
		if dir == "" {
			return -1
		}
		err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				total += fi.Size()
			}
			return nil
		})
		if err != nil {
			return -1
		}
	}
	return total
}

// expectLayers fails unless the store holds want of the image's layers
// (0 or all of them); when it holds them all, the files in them must add
// up to the image's content, or the engine did not unpack everything.
func (s *store) expectLayers(b *testing.B, pi *pullImage, want int, when string) {
	b.Helper()
	n, ids, err := s.layersHeld(pi)
	if err != nil {
		b.Fatalf("%s: reading the layer list under %s: %v", s.e.name, s.graphRoot, err)
	}
	if n != want {
		if want == 0 {
			b.Fatalf("%s: %s, %d of the image's %d layers are still in the store (%s): the next pull would not download them all",
				s.e.name, when, n, len(pi.diffIDs), s.graphRoot)
		}
		b.Fatalf("%s: %s, the store (%s) holds %d of the image's %d layers", s.e.name, when, s.graphRoot, n, len(pi.diffIDs))
	}
	if want == 0 {
		return
	}
	content := int64(pullLayers * pullFilesPerLayer * pullFileMiB << 20)
	switch got := s.unpackedBytes(ids); {
	case got < 0:
		if !s.noUnpackCheck {
			s.noUnpackCheck = true
			fmt.Printf("    NOTE: %s: cannot find the layers' directories under %s to check their content\n", s.e.name, s.graphRoot)
		}
	case got != content:
		b.Fatalf("%s: %s, the image's layers hold %d bytes of files, want %d", s.e.name, when, got, content)
	}
}

// removeImage removes the image from e's store, untimed: rmi -f, and for
// skiff image prune -f as well. It returns how long that took.
func (s *store) removeImage(b *testing.B, pi *pullImage) time.Duration {
	b.Helper()
	cmds := [][]string{{"rmi", "-f", pi.ref}}
	if s.e.name == "skiff" {
		cmds = append(cmds, []string{"image", "prune", "-f"})
	}
	var total time.Duration
	for _, args := range cmds {
		d, out, _, err := timed(s.e, args...)
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", s.e.name, strings.Join(args, " "), err, out)
		}
		total += d
	}
	var did []string
	for _, args := range cmds {
		did = append(did, strings.Join(args, " "))
	}
	s.expectLayers(b, pi, 0, "after "+strings.Join(did, " and "))
	return total
}

// BenchmarkPull times `pull` of the generated image into a store without
// any of its layers, skiff against Podman, and save -o / load -i of it.
func BenchmarkPull(b *testing.B) {
	f := setup(b)
	pullOnce.Do(func() { pullImg, pullErr = buildPullImage() })
	if pullErr != nil {
		b.Fatal(pullErr)
	}
	pi := pullImg
	stores, err := pullStores(f)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		// Leave both stores as the other benchmarks expect them.
		for _, s := range stores {
			if n, _, err := s.layersHeld(pi); err == nil && n > 0 {
				if out, err := runOnce(s.e, "rmi", "-f", pi.ref); err != nil {
					b.Errorf("%s rmi -f %s (cleaning up): %v\n%s", s.e.name, pi.ref, err, lastLines(out, 5))
				}
			}
		}
	}()
	b.Run("pull", func(b *testing.B) { benchPull(b, pi, stores) })
	b.Run("save-load", func(b *testing.B) { benchSaveLoad(b, pi, stores) })
}

func benchPull(b *testing.B, pi *pullImage, stores []*store) {
	res := map[string]*stats{}
	rm := map[string]*stats{}
	for _, s := range stores {
		res[s.e.name], rm[s.e.name] = &stats{}, &stats{}
		// A store from an earlier benchmark of this run may hold the image.
		if n, _, err := s.layersHeld(pi); err == nil && n > 0 {
			s.removeImage(b, pi)
		}
	}
	n := pullRuns()
	start := time.Now()
	for i := -1; i < n; i++ {
		order := stores
		if i%2 != 0 && len(stores) > 1 {
			order = []*store{stores[1], stores[0]}
		}
		for _, s := range order {
			s.expectLayers(b, pi, 0, "before the pull")
			syscall.Sync() // the previous run's writeback stays out of this one
			d, out, warn, err := timed(s.e, "pull", "-q", pi.ref)
			if err != nil {
				b.Fatalf("%s pull, run %d: %v\n%s", s.e.name, i, err, out)
			}
			res[s.e.name].noteStderr(warn)
			s.expectLayers(b, pi, len(pi.diffIDs), "after pull")
			dRm := s.removeImage(b, pi)
			if i >= 0 {
				res[s.e.name].samples = append(res[s.e.name].samples, d)
				rm[s.e.name].samples = append(rm[s.e.name].samples, dRm)
			}
		}
	}
	loop := time.Since(start)
	reportAs(b, fmt.Sprintf("pull %.0f MB image (%d layers)", float64(pi.compressed)/mb, len(pi.diffIDs)), "", pullTarget, res)
	line := fmt.Sprintf("    pull throughput (%.1f MB of gzip blobs / median):", float64(pi.compressed)/mb)
	var each, rmLine []string
	for _, s := range stores {
		med := res[s.e.name].median()
		rate := float64(pi.compressed) / mb / med.Seconds()
		line += fmt.Sprintf("  %s %.0f MB/s", s.e.name, rate)
		b.ReportMetric(rate, s.e.name+"_MB/s")
		var v []string
		for _, d := range res[s.e.name].samples {
			v = append(v, fmt.Sprintf("%.0f", ms(d)))
		}
		each = append(each, s.e.name+" "+strings.Join(v, "/"))
		rmLine = append(rmLine, fmt.Sprintf("%s %.0f ms", s.e.name, ms(rm[s.e.name].median())))
	}
	fmt.Println(line)
	fmt.Printf("    each run, ms: %s   (timed loop with removals and 1 warm-up each: %.1f s)\n", strings.Join(each, "   "), loop.Seconds())
	fmt.Printf("    removal between pulls, not timed above (rmi -f; skiff also image prune -f), median: %s\n", strings.Join(rmLine, "  "))
}

// hasCommand tells whether `ENGINE SUB --help` succeeds.
func hasCommand(e *engine, sub string) (bool, string) {
	_, out, _, err := timed(e, sub, "--help")
	if err != nil {
		return false, lastLines(out, 1)
	}
	return true, ""
}

// saveArgs is `save -o FILE IMAGE`; Podman's gets -q, or it writes its copy
// progress to stderr (skiff's save prints nothing).
func saveArgs(e *engine, file, image string) []string {
	if e.name == "podman" {
		return []string{"save", "-q", "-o", file, image}
	}
	return []string{"save", "-o", file, image}
}

func benchSaveLoad(b *testing.B, pi *pullImage, stores []*store) {
	b.ReportMetric(0, "ns/op")
	var use []*store
	for _, s := range stores {
		okSave, why := hasCommand(s.e, "save")
		okLoad, whyLoad := hasCommand(s.e, "load")
		if !okSave || !okLoad {
			if s.e.name == "skiff" {
				fmt.Printf("save/load: skipped, this skiff has no save or load (`skiff save --help`: %s; `skiff load --help`: %s)\n",
					map[bool]string{true: "ok", false: why}[okSave], map[bool]string{true: "ok", false: whyLoad}[okLoad])
				b.Skip("skiff has no save/load")
			}
			fmt.Printf("save/load: podman save/load unavailable, skiff only\n")
			continue
		}
		use = append(use, s)
	}
	dir := harness.UserDir(b, harness.E2E)
	for _, s := range use {
		if n, _, err := s.layersHeld(pi); err != nil || n != len(pi.diffIDs) {
			if n > 0 {
				s.removeImage(b, pi)
			}
			if out, err := runOnce(s.e, "pull", "-q", pi.ref); err != nil {
				b.Fatalf("%s pull (for save): %v\n%s", s.e.name, err, out)
			}
		}
	}
	save, load := map[string]*stats{}, map[string]*stats{}
	size := map[string]int64{}
	for _, s := range use {
		save[s.e.name], load[s.e.name] = &stats{}, &stats{}
	}
	n := pullRuns()
	start := time.Now()
	for i := 0; i < n; i++ {
		order := use
		if i%2 != 0 && len(use) > 1 {
			order = []*store{use[1], use[0]}
		}
		for _, s := range order {
			file := filepath.Join(dir, s.e.name+".tar")
			if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
				b.Fatal(err)
			}
			syscall.Sync()
			d, out, warn, err := timed(s.e, saveArgs(s.e, file, pi.ref)...)
			if err != nil {
				b.Fatalf("%s save, run %d: %v\n%s", s.e.name, i, err, out)
			}
			save[s.e.name].noteStderr(warn)
			save[s.e.name].samples = append(save[s.e.name].samples, d)
			fi, err := os.Stat(file)
			if err != nil {
				b.Fatalf("%s save -o %s: %v", s.e.name, file, err)
			}
			size[s.e.name] = fi.Size()

			s.removeImage(b, pi)
			syscall.Sync()
			d, out, warn, err = timed(s.e, "load", "-q", "-i", file)
			if err != nil {
				b.Fatalf("%s load, run %d: %v\n%s", s.e.name, i, err, out)
			}
			load[s.e.name].noteStderr(warn)
			load[s.e.name].samples = append(load[s.e.name].samples, d)
			s.expectLayers(b, pi, len(pi.diffIDs), "after load -i")
		}
	}
	loop := time.Since(start)
	reportAs(b, "save -o FILE IMAGE", "_save", 0, save)
	reportAs(b, "load -q -i FILE (after rmi -f)", "_load", 0, load)
	line := "    save / load throughput (archive size / median):"
	for _, s := range use {
		sz := float64(size[s.e.name]) / mb
		rs := sz / save[s.e.name].median().Seconds()
		rl := sz / load[s.e.name].median().Seconds()
		line += fmt.Sprintf("  %s %.0f / %.0f MB/s (%.1f MB archive)", s.e.name, rs, rl, sz)
		b.ReportMetric(rs, s.e.name+"_save_MB/s")
		b.ReportMetric(rl, s.e.name+"_load_MB/s")
	}
	fmt.Println(line)
	fmt.Printf("    (timed loop with removals: %.1f s)\n", loop.Seconds())
}
