package e2e

// Pull unpacks an image's layers in parallel and commits them in order:
// what a later layer does to an earlier one's files (whiteouts, an opaque
// directory, a replaced file, a hard link) must come out as if they were
// applied one after the other, and a bad layer anywhere must leave
// nothing behind.

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// stackLayers are three layers over busybox: the second deletes, replaces
// and hides files of the first, and hard-links one it copies up; the
// third brings a deleted file back and deletes one of the second's.
func stackLayers(t *testing.T) [][]byte {
	d := func(name string, mode int64) harness.TarEntry {
		return harness.TarEntry{Name: name + "/", Type: tar.TypeDir, Mode: mode}
	}
	f := func(name string, mode int64, uid int, body string) harness.TarEntry {
		return harness.TarEntry{Name: name, Type: tar.TypeReg, Mode: mode, UID: uid, GID: uid, Body: body}
	}
	wh := func(name string) harness.TarEntry { return f(name, 0o600, 0, "") }
	lower := harness.LayerTar(t,
		d("stack", 0o755),
		f("stack/keep", 0o644, 0, "keep\n"),
		f("stack/gone", 0o644, 0, "gone\n"),
		f("stack/replaced", 0o644, 0, "old\n"),
		f("stack/base", 0o640, 1000, "base\n"),
		d("stack/gone-dir", 0o755),
		f("stack/gone-dir/f", 0o644, 0, "f\n"),
		d("stack/opaque", 0o755),
		f("stack/opaque/old", 0o644, 0, "old\n"),
		d("stack/opaque/sub", 0o755),
		f("stack/opaque/sub/old2", 0o644, 0, "old2\n"),
	)
	middle := harness.LayerTar(t,
		d("stack", 0o755),
		wh("stack/.wh.gone"),
		wh("stack/.wh.gone-dir"),
		f("stack/replaced", 0o600, 1000, "new content\n"),
		// `ln base base.link` in a build copies base up into the layer;
		// a link's header carries its file's mode and owner.
		f("stack/base", 0o640, 1000, "base\n"),
		harness.TarEntry{Name: "stack/base.link", Type: tar.TypeLink, Mode: 0o640, UID: 1000, GID: 1000, Link: "stack/base"},
		d("stack/opaque", 0o750),
		wh("stack/opaque/.wh..wh..opq"),
		f("stack/opaque/new", 0o644, 0, "new\n"),
		f("stack/later", 0o644, 0, "later\n"),
	)
	top := harness.LayerTar(t,
		d("stack", 0o755),
		wh("stack/.wh.later"),
		f("stack/gone", 0o644, 0, "back\n"),
	)
	return [][]byte{lower, middle, top}
}

// stackScript lists /stack in a container: each entry's type, mode,
// owner and link count, the file contents, and whether the hard link
// shares its target's inode.
const stackScript = `cd /stack && for p in $(find . | sort); do stat -c '%n %F %a %u:%g' "$p"; done
for p in $(find . -type f | sort); do echo "$p: $(cat $p)"; done
stat -c '%n: %h links' base
[ "$(stat -c %i base)" = "$(stat -c %i base.link)" ] && echo "base.link is base"
`

func stackWant(owner string) string {
	return `. directory 755 0:0
./base regular file 640 ` + owner + `
./base.link regular file 640 ` + owner + `
./gone regular file 644 0:0
./keep regular file 644 0:0
./opaque directory 750 0:0
./opaque/new regular file 644 0:0
./replaced regular file 600 ` + owner + `
./base: base
./base.link: base
./gone: back
./keep: keep
./opaque/new: new
./replaced: new content
base: 2 links
base.link is base
`
}

func TestPullLayerStack(t *testing.T) {
	parallel(t)
	img := harness.PushLayered(t, "layer-stack-"+harness.UniqueSuffix(), "latest", stackLayers(t)...)
	for _, u := range []*harness.User{harness.E2E, harness.NoSub, harness.Root} {
		t.Run(u.Name, func(t *testing.T) {
			needRootless(t, u)
			harness.RunAs(t, u, "pull", "-q", img.Ref).OK(t)
			owner := "1000:1000"
			if u == harness.NoSub {
				owner = "0:0" // one uid: other owners become root
			}
			harness.RunAs(t, u, "run", "--rm", "--pull", "never", img.Ref, "sh", "-c", stackScript).OK(t).StdoutIs(t, stackWant(owner))
			harness.RunAs(t, u, "rmi", img.Ref).OK(t)
		})
	}
}

// storeDiffIDs lists the uncompressed digests of the layers in u's store.
func storeDiffIDs(t *testing.T, u *harness.User) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(u.DataDir(), "storage", "overlay-layers", "layers.json"))
	if err != nil {
		return out
	}
	var layers []struct {
		DiffDigest string `json:"diff-digest"`
	}
	must(t, json.Unmarshal(data, &layers))
	for _, l := range layers {
		out[l.DiffDigest] = true
	}
	return out
}

// checkRefusedPull pulls img as u, which must fail naming layer n, and
// then neither the image nor any of its layers but busybox's may be in
// the store.
func checkRefusedPull(t *testing.T, u *harness.User, img *harness.Image, n int, words ...string) {
	t.Helper()
	r := harness.RunAs(t, u, "pull", img.Ref)
	line := r.LastErrorLine(t, errExit, append([]string{fmt.Sprintf("layer %d", n)}, words...)...)
	if !strings.Contains(line, img.Repo) {
		t.Errorf("%s: the error does not name the image: %s", r.Cmdline(), line)
	}
	if imageListed(t, u, strings.TrimSuffix(img.Ref, ":latest")+":latest") {
		t.Errorf("after the refused pull, images lists %s", img.Ref)
	}
	have := storeDiffIDs(t, u)
	for i, d := range img.DiffIDs[1:] {
		if have[d] {
			t.Errorf("after the refused pull, layer %d (%s) of %s is in the store", i+2, d, img.Ref)
		}
	}
}

// TestPullBadLayer pulls images with one bad layer among good ones: a
// blob the registry serves with other content than its digest says, a
// config whose diff ID does not match its layer, and a hard link to a
// file of a lower layer (which the layer's own directory cannot hold).
func TestPullBadLayer(t *testing.T) {
	parallel(t)
	// Layers of this test's own, which no other test's image shares: the
	// store must not keep them.
	sfx := harness.UniqueSuffix()
	marked := func(name string, more ...harness.TarEntry) []byte {
		return harness.LayerTar(t, append([]harness.TarEntry{
			{Name: "stack/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "stack/" + name, Type: tar.TypeReg, Mode: 0o644, Body: sfx + "\n"},
		}, more...)...)
	}
	layers := [][]byte{
		marked("lower", harness.TarEntry{Name: "stack/base", Type: tar.TypeReg, Mode: 0o644, Body: "base\n"}),
		marked("middle"),
		marked("top"),
	}

	intact := harness.PushStoredLayers(t, "bad-blob-intact-"+sfx, "latest", layers[0], layers[1])
	// Same size, other bytes: only the digest can tell.
	forged := harness.LayerTar(t, harness.TarEntry{Name: "x", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", 10)})
	good := harness.LayerTar(t, harness.TarEntry{Name: "y", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("y", 10)})
	swapped := harness.PushStoredLayers(t, "bad-blob-swap-"+sfx, "latest", layers[0], good)
	harness.ReplaceBlob(t, swapped.LayerDigests[2], harness.StoredGzip(t, forged))

	wrongDiffID := harness.PushWrongDiffID(t, "bad-diffid-"+sfx, "latest", 3, layers...)
	lowerLink := harness.PushLayered(t, "bad-lowerlink-"+sfx, "latest", layers[0],
		harness.LayerTar(t, harness.TarEntry{Name: "stack/base.link", Type: tar.TypeLink, Link: "stack/base"}))

	for _, u := range []*harness.User{harness.E2E, harness.Root} {
		t.Run(u.Name, func(t *testing.T) {
			needRootless(t, u)
			// Layer 2 is good and new to the store: it must go again.
			checkRefusedPull(t, u, swapped, 3, "digest|sha256|checksum")
			checkRefusedPull(t, u, wrongDiffID, 3, "digest")
			checkRefusedPull(t, u, lowerLink, 3)
			// The same kind of image, untouched, pulls.
			harness.RunAs(t, u, "pull", "-q", intact.Ref).OK(t)
			harness.RunAs(t, u, "rmi", intact.Ref).OK(t)
		})
	}
}
