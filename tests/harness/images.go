package harness

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxPath is Debian busybox-static's binary, copied into the test images.
const busyboxPath = "/bin/busybox"

// DefaultPath is the PATH in the test images' config.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Host paths that the evil images' layers try to write or link to. A test
// creates them (or checks they do not appear) around pulling those images.
const (
	EvilDotdotPath     = "/tmp/skiff-evil-dotdot"
	EvilSymlinkDir     = "/tmp/skiff-evil-dir"
	EvilHardlinkTarget = "/tmp/skiff-evil-hardlink-target"
)

// escapeUp climbs far above any store directory, to the host's root.
var escapeUp = strings.Repeat("../", 24)

// Image describes an image pushed to the test registry.
type Image struct {
	Repo   string // repository path in the registry, e.g. "busybox"
	Ref    string // Registry/Repo:latest
	Digest string // digest of the manifest (of the index for multi-arch images)
	// ID is the image ID as Docker shows it: the config digest. For an index
	// it is the ID of the entry for the host's platform.
	ID      string
	DiffIDs []string
	// LayerDigests are the manifest's layer digests (compressed), as
	// pull's progress names layers.
	LayerDigests []string
	MediaType    string
	// Platforms holds the entries of an index by "os/arch".
	Platforms map[string]*Image
}

// DigestRef is Registry/Repo@Digest.
func (i *Image) DigestRef() string { return Registry + "/" + i.Repo + "@" + i.Digest }

// ShortID is the first 12 hex digits of the image ID, as `images` shows it.
func (i *Image) ShortID() string { return strings.TrimPrefix(i.ID, "sha256:")[:12] }

var (
	fixedTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	baseOnce  sync.Once
	baseTar   []byte
	baseLayer v1.Layer
	baseErr   error
)

// checkStatic fails unless path is a statically linked ELF binary: the test
// images have no C library, so a dynamic busybox could not run in them.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %v: install the Debian package busybox-static", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install the Debian package busybox-static", path)
		}
	}
	return nil
}

// RootfsTar returns the busybox root filesystem as an uncompressed tar: the
// content of the busybox image's only layer.
func RootfsTar() ([]byte, error) {
	baseOnce.Do(buildBase)
	return baseTar, baseErr
}

// tarEntry is one file of a hand-written layer.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	body     []byte
	link     string
	pax      map[string]string // PAX records, e.g. SCHILY.xattr.* for extended attributes
}

func writeTar(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:       e.name,
			Typeflag:   e.typ,
			Mode:       e.mode,
			Uid:        e.uid,
			Gid:        e.gid,
			Linkname:   e.link,
			ModTime:    fixedTime,
			Format:     tar.FormatPAX,
			PAXRecords: e.pax,
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar entry %s: %w", e.name, err)
		}
		if len(e.body) > 0 {
			if _, err := tw.Write(e.body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func dir(name string, mode int64, uid, gid int) tarEntry {
	return tarEntry{name: name + "/", typ: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

func file(name string, mode int64, uid, gid int, body string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, mode: mode, uid: uid, gid: gid, body: []byte(body)}
}

const passwdFile = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
`

const groupFile = `root:x:0:
staff:x:50:
app:x:1000:
nogroup:x:65534:
`

// buildBase builds the busybox rootfs tar and its layer once.
func buildBase() {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		baseErr = err
		return
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		baseErr = fmt.Errorf("%s --list: %w", busyboxPath, err)
		return
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	entries := []tarEntry{
		dir("bin", 0o755, 0, 0),
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, body: bb},
	}
	hasSh := false
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		hasSh = hasSh || a == "sh"
		entries = append(entries, tarEntry{name: "bin/" + a, typ: tar.TypeSymlink, mode: 0o777, link: "busybox"})
	}
	if !hasSh {
		baseErr = fmt.Errorf("%s --list has no sh applet", busyboxPath)
		return
	}
	entries = append(entries,
		dir("dev", 0o755, 0, 0),
		dir("etc", 0o755, 0, 0),
		file("etc/group", 0o644, 0, 0, groupFile),
		file("etc/owned-by-1000", 0o644, 1000, 1000, "owned by uid 1000\n"),
		file("etc/passwd", 0o644, 0, 0, passwdFile),
		dir("home", 0o755, 0, 0),
		dir("home/app", 0o755, 1000, 1000),
		dir("proc", 0o555, 0, 0),
		dir("root", 0o700, 0, 0),
		dir("sys", 0o555, 0, 0),
		dir("tmp", 0o1777, 0, 0),
		dir("usr", 0o755, 0, 0),
		dir("var", 0o755, 0, 0),
	)
	if baseTar, baseErr = writeTar(entries); baseErr != nil {
		return
	}
	baseLayer, baseErr = layerFromBytes(baseTar, types.DockerLayer)
}

func layerFromBytes(b []byte, mt types.MediaType) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mt))
}

// imageSpec describes a test image to build on top of the busybox layer.
type imageSpec struct {
	oci    bool
	arch   string
	config v1.Config
	extra  [][]byte // tars of layers added after the busybox layer
}

func busyboxConfig() v1.Config {
	return v1.Config{Cmd: []string{"sh"}, Env: []string{DefaultPath}}
}

// build assembles the image described by s.
func (s imageSpec) build() (v1.Image, error) {
	baseOnce.Do(buildBase)
	if baseErr != nil {
		return nil, baseErr
	}
	arch := s.arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	cf := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: fixedTime},
		Config:       s.config,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	layerType := types.DockerLayer
	if s.oci {
		layerType = types.OCILayer
	}
	base := baseLayer
	if s.oci {
		var err error
		if base, err = layerFromBytes(baseTar, layerType); err != nil {
			return nil, err
		}
	}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, err
	}
	adds := []mutate.Addendum{{Layer: base, History: v1.History{Created: v1.Time{Time: fixedTime}, CreatedBy: "skiff e2e harness: busybox-static rootfs"}}}
	for i, b := range s.extra {
		l, err := layerFromBytes(b, layerType)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: fixedTime}, CreatedBy: fmt.Sprintf("skiff e2e harness: layer %d", i+2)}})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	if s.oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img, nil
}

// describe fills an Image from a built image.
func describe(repo string, img v1.Image) (*Image, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out := &Image{Repo: repo, Ref: Registry + "/" + repo + ":latest", Digest: d.String(), ID: id.String(), MediaType: string(mt)}
	for _, h := range cf.RootFS.DiffIDs {
		out.DiffIDs = append(out.DiffIDs, h.String())
	}
	if m, err := img.Manifest(); err == nil {
		for _, l := range m.Layers {
			out.LayerDigests = append(out.LayerDigests, l.Digest.String())
		}
	}
	return out, nil
}

func pushContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// pushImage pushes img as Registry/repo:tag.
func pushImage(repo, tag string, img v1.Image) (*Image, error) {
	return pushImageTo(Registry, repo, tag, img)
}

// pushImageTo pushes img as addr/repo:tag (plain HTTP).
func pushImageTo(addr, repo, tag string, img v1.Image) (*Image, error) {
	ref, err := name.ParseReference(addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return nil, err
	}
	ctx, cancel := pushContext()
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", ref, err)
	}
	out, err := describe(repo, img)
	if err != nil {
		return nil, err
	}
	out.Ref = ref.String()
	return out, nil
}

// markerLayer is a layer holding one file.
func markerLayer(path, content string) ([]byte, error) {
	return writeTar([]tarEntry{file(path, 0o644, 0, 0, content)})
}

// evilLayers are the crafted layers that try to escape the root filesystem.
func evilLayers() (map[string][]byte, error) {
	layers := map[string][]byte{}
	var err error
	if layers["evil-dotdot"], err = writeTar([]tarEntry{
		file(escapeUp+strings.TrimPrefix(EvilDotdotPath, "/"), 0o644, 0, 0, "pwned by ../\n"),
	}); err != nil {
		return nil, err
	}
	if layers["evil-symlink"], err = writeTar([]tarEntry{
		{name: "escape", typ: tar.TypeSymlink, mode: 0o777, link: EvilSymlinkDir},
		file("escape/pwned", 0o644, 0, 0, "pwned through a symlink\n"),
	}); err != nil {
		return nil, err
	}
	if layers["evil-hardlink"], err = writeTar([]tarEntry{
		{name: "pwned-link", typ: tar.TypeLink, mode: 0o644, link: escapeUp + strings.TrimPrefix(EvilHardlinkTarget, "/")},
	}); err != nil {
		return nil, err
	}
	return layers, nil
}

// pushImages builds and pushes every fixture image to the registry.
func pushImages() error {
	push := func(repo string, s imageSpec) error {
		img, err := s.build()
		if err != nil {
			return fmt.Errorf("building %s: %w", repo, err)
		}
		pi, err := pushImage(repo, "latest", img)
		if err != nil {
			return err
		}
		Images[repo] = pi
		return nil
	}
	if err := push("busybox", imageSpec{config: busyboxConfig()}); err != nil {
		return err
	}
	if err := push("busybox-oci", imageSpec{oci: true, config: busyboxConfig()}); err != nil {
		return err
	}
	if err := push("config", imageSpec{config: v1.Config{
		Entrypoint:   []string{"/bin/echo", "ep"},
		Cmd:          []string{"default-cmd"},
		Env:          []string{DefaultPath, "FOO=bar"},
		WorkingDir:   "/home/app",
		User:         "app",
		Labels:       map[string]string{"org.skiff.test": "config", "maintainer": "skiff e2e"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
	}}); err != nil {
		return err
	}
	evil, err := evilLayers()
	if err != nil {
		return err
	}
	for repo, layer := range evil {
		if err := push(repo, imageSpec{config: busyboxConfig(), extra: [][]byte{layer}}); err != nil {
			return err
		}
	}
	return pushMulti()
}

// pushMulti pushes "multi": a Docker manifest list with an amd64 and an arm64
// entry, each marked by the file /arch.
func pushMulti() error {
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	platforms := map[string]*Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		marker, err := markerLayer("arch", arch+"\n")
		if err != nil {
			return err
		}
		img, err := imageSpec{arch: arch, config: busyboxConfig(), extra: [][]byte{marker}}.build()
		if err != nil {
			return err
		}
		p := &v1.Platform{OS: "linux", Architecture: arch}
		if arch == "arm64" {
			p.Variant = "v8"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		if platforms["linux/"+arch], err = describe("multi", img); err != nil {
			return err
		}
	}
	ref, err := name.ParseReference(Registry+"/multi:latest", name.Insecure)
	if err != nil {
		return err
	}
	ctx, cancel := pushContext()
	defer cancel()
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	host := platforms["linux/"+runtime.GOARCH]
	mi := &Image{Repo: "multi", Ref: ref.String(), Digest: d.String(), MediaType: string(types.DockerManifestList), Platforms: platforms}
	if host != nil {
		mi.ID, mi.DiffIDs = host.ID, host.DiffIDs
	}
	Images["multi"] = mi
	return nil
}

// PushVariant pushes a busybox image made unique by a layer per marker,
// each writing the file /variant (so the last marker shows), as
// Registry/repo:tag, for tests that change or remove images and must not
// disturb the shared ones. Equal markers give equal layers and image IDs, so
// a marker shared by several variants makes them share a layer.
func PushVariant(t testing.TB, repo, tag string, markers ...string) *Image {
	t.Helper()
	return PushVariantTo(t, Registry, repo, tag, markers...)
}

// PushVariantTo is PushVariant to the plain-HTTP registry at addr
// (127.0.0.1:PORT), e.g. one a test started with StartExtraRegistry.
func PushVariantTo(t testing.TB, addr, repo, tag string, markers ...string) *Image {
	t.Helper()
	skipIfUnavailable(t)
	if len(markers) == 0 {
		t.Fatal("PushVariant needs a marker")
	}
	spec := imageSpec{config: busyboxConfig()}
	for _, m := range markers {
		layer, err := markerLayer("variant", m+"\n")
		if err != nil {
			t.Fatal(err)
		}
		spec.extra = append(spec.extra, layer)
	}
	img, err := spec.build()
	if err != nil {
		t.Fatal(err)
	}
	pi, err := pushImageTo(addr, repo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return pi
}
