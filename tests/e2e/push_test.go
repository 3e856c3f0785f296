package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// pushDigestLine is the last line of `docker push`: "TAG: digest: sha256:… size: N".
var pushDigestLine = regexp.MustCompile(`^(\S+): digest: (sha256:[0-9a-f]{64}) size: ([0-9]+)$`)

// pushed checks the output of a successful push of repo (host/path, no tag)
// with tag, as Docker prints it: "The push refers to repository [repo]"
// first (after "Using default tag: latest" for a name without a tag),
// "tag: digest: sha256:… size: N" last, nothing on stderr. It returns
// the digest and the size.
func pushed(t testing.TB, r *harness.Result, repo, tag string) (string, int) {
	t.Helper()
	r.OK(t)
	lines := r.Lines()
	// A name without a tag: Docker says which one it pushes first.
	if len(lines) > 0 && lines[0] == "Using default tag: latest" {
		lines = lines[1:]
	}
	if len(lines) < 2 {
		t.Fatalf("%s: want at least the repository and the digest lines\n%s", r.Cmdline(), r.Output())
	}
	if want := "The push refers to repository [" + repo + "]"; lines[0] != want {
		t.Errorf("%s: first line %q, want %q\n%s", r.Cmdline(), lines[0], want, r.Output())
	}
	m := pushDigestLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("%s: last line %q is not \"%s: digest: sha256:… size: N\"\n%s", r.Cmdline(), lines[len(lines)-1], tag, r.Output())
	}
	if m[1] != tag {
		t.Errorf("%s: digest line names tag %q, want %q", r.Cmdline(), m[1], tag)
	}
	if strings.TrimSpace(r.Stderr) != "" {
		t.Errorf("%s: push prints its progress on stdout (Docker); stderr should be empty\n%s", r.Cmdline(), r.Output())
	}
	size, _ := strconv.Atoi(m[3])
	return m[2], size
}

// registryManifest is a manifest as the registry serves it.
type registryManifest struct {
	Digest string // Docker-Content-Digest
	Size   int
	Config string // the config blob's digest: the image ID
	Layers int
	Type   string
}

// fetchManifest asks the registry at host (plain HTTP) for repo:tag, with
// basic credentials when user is not empty. ok is false on 404.
func fetchManifest(t testing.TB, host, repo, tag, user, password string) (m registryManifest, ok bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, repo, tag), nil)
	must(t, err)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode == http.StatusNotFound {
		return m, false
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s/%s:%s: %s\n%s", host, repo, tag, resp.Status, body)
	}
	var doc struct {
		MediaType string
		Config    struct{ Digest string }
		Layers    []json.RawMessage
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("manifest %s/%s:%s is not JSON: %v\n%s", host, repo, tag, err, body)
	}
	return registryManifest{
		Digest: resp.Header.Get("Docker-Content-Digest"),
		Size:   len(body),
		Config: doc.Config.Digest,
		Layers: len(doc.Layers),
		Type:   doc.MediaType,
	}, true
}

// checkPushedManifest checks that the registry serves repo:tag with the
// digest and size push printed, and the image's config (its ID).
func checkPushedManifest(t testing.TB, host, repo, tag, digest string, size int, id string, layers int) {
	t.Helper()
	m, ok := fetchManifest(t, host, repo, tag, "", "")
	if !ok {
		t.Fatalf("the registry has no manifest %s/%s:%s after push", host, repo, tag)
	}
	if m.Digest != digest || m.Size != size {
		t.Errorf("registry serves %s/%s:%s with digest %s size %d; push printed %s size %d", host, repo, tag, m.Digest, m.Size, digest, size)
	}
	if m.Config != id {
		t.Errorf("pushed manifest's config is %s, want the image ID %s (push must send the config byte for byte)", m.Config, id)
	}
	if m.Layers != layers {
		t.Errorf("pushed manifest has %d layers, want %d", m.Layers, layers)
	}
}

// pushRepo is a fresh repository path for one test.
func pushRepo(prefix string) string { return prefix + "-" + harness.UniqueSuffix() }

func TestPushTagged(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "push-tagged-src", "latest", "push-tagged")
	skiff(t, "pull", ref(pi.Repo)).OK(t)
	repo := pushRepo("push-tagged")
	dst := ref(repo) + ":v1"
	skiff(t, "tag", ref(pi.Repo), dst).OK(t)

	digest, size := pushed(t, skiff(t, "push", dst), ref(repo), "v1")
	checkPushedManifest(t, harness.Registry, repo, "v1", digest, size, pi.ID, len(pi.DiffIDs))

	// Again: every blob is there already; it still succeeds, and an
	// unchanged image gives the same manifest.
	digest2, size2 := pushed(t, skiff(t, "push", dst), ref(repo), "v1")
	if digest2 != digest || size2 != size {
		t.Errorf("second push printed digest %s size %d, the first %s size %d", digest2, size2, digest, size)
	}
}

func TestPushDefaultsToLatest(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	repo := pushRepo("push-latest")
	skiff(t, "tag", bb, ref(repo)).OK(t)
	// No tag: latest, as in Docker.
	digest, size := pushed(t, skiff(t, "push", ref(repo)), ref(repo), "latest")
	checkPushedManifest(t, harness.Registry, repo, "latest", digest, size, harness.Images["busybox"].ID, 1)
}

func TestPushRoundTrip(t *testing.T) {
	parallel(t)
	// A unique image: no other name (from an earlier -count run) keeps it.
	marker := "push-rt-" + harness.UniqueSuffix()
	pi := harness.PushVariant(t, "push-rt-src", "latest", "push-rt-1", marker)
	skiff(t, "pull", ref(pi.Repo)).OK(t)
	repo := pushRepo("push-rt")
	dst := ref(repo) + ":v1"
	skiff(t, "tag", ref(pi.Repo), dst).OK(t)
	digest, size := pushed(t, skiff(t, "push", dst), ref(repo), "v1")
	checkPushedManifest(t, harness.Registry, repo, "v1", digest, size, pi.ID, len(pi.DiffIDs))

	// Remove both names: the image is gone from the store.
	skiff(t, "rmi", ref(pi.Repo), dst).OK(t)
	if ids := imageIDs(t, harness.E2E); contains(ids, pi.ID) {
		t.Fatalf("image %s still in the store after rmi of both names: %v", pi.ID, ids)
	}

	// Pull what was pushed: the same image ID, and it runs.
	skiff(t, "pull", dst).OK(t)
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, dst)
	if img.Id != pi.ID {
		t.Errorf("pushed and pulled back, the image ID is %s, want %s", img.Id, pi.ID)
	}
	if len(img.RootFS.Layers) != len(pi.DiffIDs) {
		t.Errorf("pulled back, RootFS.Layers %v, want %v", img.RootFS.Layers, pi.DiffIDs)
	} else {
		for i := range pi.DiffIDs {
			if img.RootFS.Layers[i] != pi.DiffIDs[i] {
				t.Errorf("pulled back, layer %d is %s, want %s", i, img.RootFS.Layers[i], pi.DiffIDs[i])
			}
		}
	}
	skiff(t, "run", "--rm", dst, "cat", "/variant").OK(t).StdoutIs(t, marker+"\n")
	// By the digest push printed, too.
	skiff(t, "pull", ref(repo)+"@"+digest).OK(t)
	img = inspectImage(t, harness.E2E, []string{"image", "inspect"}, ref(repo)+"@"+digest)
	if img.Id != pi.ID {
		t.Errorf("pulled by the pushed digest, the image ID is %s, want %s", img.Id, pi.ID)
	}
}

func TestPushOCIImageKeepsID(t *testing.T) {
	parallel(t)
	oci := pulled(t, harness.E2E, "busybox-oci")
	repo := pushRepo("push-oci")
	skiff(t, "tag", oci, ref(repo)+":v1").OK(t)
	digest, size := pushed(t, skiff(t, "push", ref(repo)+":v1"), ref(repo), "v1")
	checkPushedManifest(t, harness.Registry, repo, "v1", digest, size, harness.Images["busybox-oci"].ID, 1)
}

func TestPushToDestination(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	repo := pushRepo("push-dest")
	dst := ref(repo) + ":d1"
	// push IMAGE DESTINATION: under another name, without tagging it first.
	digest, size := pushed(t, skiff(t, "push", bb, dst), ref(repo), "d1")
	checkPushedManifest(t, harness.Registry, repo, "d1", digest, size, harness.Images["busybox"].ID, 1)
	// The destination pulls back as the same image.
	skiff(t, "pull", dst).OK(t)
	if img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, dst); img.Id != harness.Images["busybox"].ID {
		t.Errorf("pulled from the destination, the image ID is %s, want %s", img.Id, harness.Images["busybox"].ID)
	}
}

func TestPushUnknownImage(t *testing.T) {
	parallel(t)
	name := ref(pushRepo("push-unknown")) + ":v1"
	r := skiff(t, "push", name)
	r.ErrorLine(t, errExit, name)
	if r.Stdout != "" {
		t.Errorf("push of an unknown image printed on stdout\n%s", r.Output())
	}
}

func TestPushUnreachableRegistry(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := "127.0.0.1:1/" + pushRepo("push-unreachable") + ":v1"
	skiff(t, "tag", bb, name).OK(t)
	t.Cleanup(func() { skiff(t, "rmi", name) })
	r := skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "push", name)
	r.ErrorLine(t, errExit, "127.0.0.1:1")
}
