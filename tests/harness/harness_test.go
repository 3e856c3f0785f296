package harness

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestMain sets the fixtures up without needing the skiff binary, so the
// harness can be checked before the engine exists.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // each test skips
	}
	err := setup(false)
	if err != nil {
		println("harness setup failed:", err.Error())
		Teardown()
		os.Exit(1)
	}
	code := m.Run()
	Teardown()
	os.Exit(code)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestUsers(t *testing.T) {
	needRoot(t)
	if E2E.SubUID.Count < 65536 || E2E.SubGID.Count < 65536 {
		t.Errorf("%s subordinate ranges %+v %+v", E2E.Name, E2E.SubUID, E2E.SubGID)
	}
	if NoSub.SubUID.Count != 0 || NoSub.SubGID.Count != 0 {
		t.Errorf("%s has subordinate ranges %+v %+v", NoSub.Name, NoSub.SubUID, NoSub.SubGID)
	}
	for _, u := range []*User{E2E, NoSub} {
		fi, err := os.Stat(u.Home)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() {
			t.Errorf("%s is not a directory", u.Home)
		}
	}
	// Idempotent: a second pass changes nothing.
	again, err := ensureUser(E2EUserName, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.SubUID != E2E.SubUID || again.UID != E2E.UID {
		t.Errorf("second ensureUser: %+v, first %+v", again, E2E)
	}
	if fi, err := os.Stat("/dev/net/tun"); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("/dev/net/tun: %v %v", fi.Mode(), err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryCatalog(t *testing.T) {
	needRoot(t)
	var cat struct{ Repositories []string }
	getJSON(t, "http://"+Registry+"/v2/_catalog", &cat)
	for _, repo := range []string{"busybox", "busybox-oci", "config", "multi", "evil-dotdot", "evil-symlink", "evil-hardlink"} {
		if !slices.Contains(cat.Repositories, repo) {
			t.Errorf("catalog %v lacks %s", cat.Repositories, repo)
		}
		var tags struct{ Tags []string }
		getJSON(t, "http://"+Registry+"/v2/"+repo+"/tags/list", &tags)
		if !slices.Equal(tags.Tags, []string{"latest"}) {
			t.Errorf("%s tags = %v", repo, tags.Tags)
		}
	}
}

func TestManifests(t *testing.T) {
	needRoot(t)
	want := map[string]types.MediaType{
		"busybox":     types.DockerManifestSchema2,
		"busybox-oci": types.OCIManifestSchema1,
		"config":      types.DockerManifestSchema2,
		"multi":       types.DockerManifestList,
	}
	for repo, mt := range want {
		ref, err := name.ParseReference(Registry+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(ref)
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if desc.MediaType != mt {
			t.Errorf("%s media type %s, want %s", repo, desc.MediaType, mt)
		}
		if desc.Digest.String() != Images[repo].Digest {
			t.Errorf("%s digest %s, recorded %s", repo, desc.Digest, Images[repo].Digest)
		}
	}
	// The multi-arch index resolves per platform.
	ref, _ := name.ParseReference(Registry+"/multi", name.Insecure)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != arch {
			t.Errorf("multi for %s has architecture %s", arch, cf.Architecture)
		}
		id, _ := img.ConfigName()
		if id.String() != Images["multi"].Platforms["linux/"+arch].ID {
			t.Errorf("multi %s id %s, recorded %s", arch, id, Images["multi"].Platforms["linux/"+arch].ID)
		}
	}
	// The config image carries its config.
	cref, _ := name.ParseReference(Registry+"/config", name.Insecure)
	img, err := remote.Image(cref)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if !slices.Equal(cf.Config.Entrypoint, []string{"/bin/echo", "ep"}) || cf.Config.User != "app" || cf.Config.WorkingDir != "/home/app" {
		t.Errorf("config image config: %+v", cf.Config)
	}
}

// TestBusyboxRootfsRuns extracts the pushed busybox image and runs its shell
// in a chroot: the image is real.
func TestBusyboxRootfsRuns(t *testing.T) {
	needRoot(t)
	ref, _ := name.ParseReference(Registry+"/busybox", name.Insecure)
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	root := t.TempDir()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			_ = os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm)
		case tar.TypeSymlink:
			_ = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(f, tr)
			f.Close()
		}
	}
	for n, check := range map[string]func(h *tar.Header) bool{
		"bin/sh":            func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "busybox" },
		"etc/owned-by-1000": func(h *tar.Header) bool { return h.Uid == 1000 && h.Gid == 1000 },
		"home/app/":         func(h *tar.Header) bool { return h.Uid == 1000 },
		"tmp/":              func(h *tar.Header) bool { return h.Mode&0o1777 == 0o1777 },
	} {
		if h := seen[n]; h == nil || !check(h) {
			t.Errorf("layer entry %s wrong: %+v", n, h)
		}
	}
	out, err := exec.Command("/usr/sbin/chroot", root, "/bin/sh", "-c", "echo hello from $(cat /etc/passwd | wc -l) users").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from 3 users" {
		t.Errorf("chroot run: %v %q", err, out)
	}
}

func TestEvilLayers(t *testing.T) {
	needRoot(t)
	for _, repo := range []string{"evil-dotdot", "evil-symlink", "evil-hardlink"} {
		ref, _ := name.ParseReference(Registry+"/"+repo, name.Insecure)
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		if len(layers) != 2 {
			t.Fatalf("%s has %d layers", repo, len(layers))
		}
		rc, _ := layers[1].Uncompressed()
		tr := tar.NewReader(rc)
		var names []string
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			names = append(names, h.Name+" -> "+h.Linkname)
		}
		rc.Close()
		joined := strings.Join(names, "\n")
		switch repo {
		case "evil-dotdot":
			if !strings.Contains(joined, "../../tmp/skiff-evil-dotdot") {
				t.Errorf("%s: %s", repo, joined)
			}
		case "evil-symlink":
			if !strings.Contains(joined, "escape -> /tmp/skiff-evil-dir") || !strings.Contains(joined, "escape/pwned") {
				t.Errorf("%s: %s", repo, joined)
			}
		case "evil-hardlink":
			if !strings.Contains(joined, "pwned-link -> ../../") {
				t.Errorf("%s: %s", repo, joined)
			}
		}
	}
}

func TestPushVariant(t *testing.T) {
	needRoot(t)
	Binary = "unused" // PushVariant only checks that Setup ran
	defer func() { Binary = "" }()
	a := PushVariant(t, "variant-test", "one", "a")
	b := PushVariant(t, "variant-test", "two", "b")
	a2 := PushVariant(t, "variant-test", "three", "a")
	if a.ID == b.ID || a.ID != a2.ID {
		t.Errorf("variant ids: %s %s %s", a.ID, b.ID, a2.ID)
	}
	if a.Ref != Registry+"/variant-test:one" {
		t.Errorf("ref %s", a.Ref)
	}
}

func TestRequires(t *testing.T) {
	needRoot(t)
	for f := range probes {
		t.Run(f, func(t *testing.T) {
			Binary = "unused"
			defer func() { Binary = "" }()
			Requires(t, f) // skips with a reason where missing
		})
	}
}
