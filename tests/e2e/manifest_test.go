package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// manifestIndex is a manifest list as `manifest inspect` prints it.
type manifestIndex struct {
	SchemaVersion int
	MediaType     string
	Manifests     []struct {
		MediaType string
		Digest    string
		Size      int
		Platform  manifestPlatform
	}
}

type manifestPlatform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version"`
	OSFeatures   []string `json:"os.features"`
	Variant      string   `json:"variant"`
}

// manifestEntry is one entry of `manifest inspect -v`.
type manifestEntry struct {
	Ref        string
	Descriptor struct {
		MediaType string
		Digest    string
		Size      int
		Platform  *manifestPlatform
	}
	Raw              []byte
	SchemaV2Manifest *struct{ Config struct{ Digest string } }
	OCIManifest      *struct{ Config struct{ Digest string } }
}

const (
	dockerListType = "application/vnd.docker.distribution.manifest.list.v2+json"
	ociIndexType   = "application/vnd.oci.image.index.v1+json"
)

// otherArch is an architecture of the multi image that is not this host's.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

func parseIndex(t *testing.T, out string) manifestIndex {
	t.Helper()
	var idx manifestIndex
	if err := json.Unmarshal([]byte(out), &idx); err != nil {
		t.Fatalf("manifest inspect: not a manifest list: %v\n%s", err, out)
	}
	return idx
}

func parseEntries(t *testing.T, out string) []manifestEntry {
	t.Helper()
	var es []manifestEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("manifest inspect -v: not a list of entries: %v\n%s", err, out)
	}
	return es
}

// checkEntry checks one image of a list: digest and platform.
func checkEntry(t *testing.T, idx manifestIndex, i int, digest string, want manifestPlatform) {
	t.Helper()
	if i >= len(idx.Manifests) {
		t.Fatalf("the list has %d images, want an image %d", len(idx.Manifests), i+1)
	}
	m := idx.Manifests[i]
	got := m.Platform
	if m.Digest != digest || got.OS != want.OS || got.Architecture != want.Architecture || got.Variant != want.Variant ||
		got.OSVersion != want.OSVersion || strings.Join(got.OSFeatures, ",") != strings.Join(want.OSFeatures, ",") {
		t.Errorf("list image %d: %s %+v, want %s %+v", i+1, m.Digest, got, digest, want)
	}
}

// sha256Of is the digest of a list as inspect printed it (its bytes
// without the final newline are what push sends).
func sha256Of(printed string) string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(printed, "\n")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// registryList fetches repo:tag from the harness registry as a list: its
// Content-Type and Docker-Content-Digest.
func registryList(t *testing.T, repo, tag string) (mediaType, digest string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", harness.Registry, repo, tag), nil)
	must(t, err)
	req.Header.Set("Accept", dockerListType+", "+ociIndexType)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s:%s from the registry: %s\n%s", repo, tag, resp.Status, body)
	}
	return resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest")
}

// TestManifestList makes a list of two single-platform images of another
// repository, annotates one, inspects it (locally, one image of it,
// verbose), pushes it, and pulls it: the host's image comes back, and the
// registry's list prints as the local one did. Where the docker CLI is
// installed, its `docker manifest` prints and pushes the same bytes.
func TestManifestList(t *testing.T) {
	parallel(t)
	sfx := harness.UniqueSuffix()
	parts, listRepo := "mparts-"+sfx, "mlist-"+sfx
	marker := "manifest-host-" + sfx
	host := harness.PushVariant(t, parts, "host", marker)
	hostRef, otherRef := ref(parts)+":host", ref(parts)+":other"
	other := otherArch()
	otherID := importImage(t, "--platform", "linux/"+other, otherRef)
	otherDigest, _ := pushed(t, skiff(t, "push", otherRef), ref(parts), "other")
	list := ref(listRepo) + ":1"
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "manifest", "rm", list) })

	skiff(t, "manifest", "create", list, hostRef, otherRef).OK(t).StdoutIs(t, "Created manifest list "+list+"\n")
	skiff(t, "manifest", "annotate", "--variant", "v8", "--os-features", "x", list, otherRef).OK(t).StdoutIs(t, "")
	local := skiff(t, "manifest", "inspect", list).OK(t).Stdout
	if !strings.HasPrefix(local, "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \""+dockerListType+"\",\n") {
		t.Errorf("manifest inspect: want Docker's manifest list, indented by three spaces\n%s", local)
	}
	idx := parseIndex(t, local)
	if len(idx.Manifests) != 2 {
		t.Fatalf("manifest inspect: want 2 images\n%s", local)
	}
	checkEntry(t, idx, 0, host.Digest, manifestPlatform{OS: "linux", Architecture: runtime.GOARCH})
	otherPlatform := manifestPlatform{OS: "linux", Architecture: other, Variant: "v8", OSFeatures: []string{"x"}}
	checkEntry(t, idx, 1, otherDigest, otherPlatform)

	verbose := skiff(t, "manifest", "inspect", "-v", list).OK(t).Stdout
	checkVerbose(t, parseEntries(t, verbose), []string{hostRef, otherRef}, []string{host.ID, otherID})
	one := skiff(t, "manifest", "inspect", list, otherRef).OK(t).Stdout
	var m struct{ Config struct{ Digest string } }
	must(t, json.Unmarshal([]byte(one), &m))
	if !strings.HasPrefix(one, "{\n\t\"schemaVersion\": 2,") || m.Config.Digest != otherID {
		t.Errorf("manifest inspect LIST IMAGE: want the image's manifest (tab-indented, config %s)\n%s", otherID, one)
	}
	docker := dockerManifest(t, list, hostRef, otherRef)
	docker.same(t, local, "inspect", list)
	docker.same(t, verbose, "inspect", "-v", list)
	docker.same(t, one, "inspect", list, otherRef)

	// Both images are copied into the list's repository, then the list.
	r := skiff(t, "manifest", "push", list).OK(t)
	digest := sha256Of(local)
	var want string
	for _, d := range []string{host.Digest, otherDigest} {
		want += fmt.Sprintf("Pushed ref %s@%s with digest: %s\n", ref(listRepo), d, d)
	}
	r.StdoutIs(t, want+digest+"\n")
	docker.same(t, r.Stdout, "push", "--insecure", list)
	if mt, d := registryList(t, listRepo, "1"); mt != dockerListType || d != digest {
		t.Errorf("the registry serves %s as %s %s, want %s %s", list, mt, d, dockerListType, digest)
	}

	skiff(t, "manifest", "rm", list).OK(t).StdoutIs(t, "")
	docker.same(t, "", "rm", list)
	remote := skiff(t, "manifest", "inspect", list).OK(t).Stdout
	if remote != local {
		t.Errorf("manifest inspect of the pushed list differs from the local list's\nregistry:\n%s\nlocal:\n%s", remote, local)
	}
	verbose = skiff(t, "manifest", "inspect", "-v", list).OK(t).Stdout
	checkVerbose(t, parseEntries(t, verbose), []string{list + "@" + host.Digest, list + "@" + otherDigest}, []string{host.ID, otherID})
	docker.same(t, verbose, "inspect", "--insecure", "-v", list)

	// pull takes this host's image from the list, --platform the other.
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", list) })
	skiff(t, "pull", list).OK(t)
	if got := inspectImage(t, harness.E2E, []string{"image", "inspect"}, list).Id; got != host.ID {
		t.Errorf("pull of the list gave %s, want this host's image %s", got, host.ID)
	}
	skiff(t, "run", "--rm", list, "cat", "/variant").OK(t).StdoutIs(t, marker+"\n")
	skiff(t, "pull", "--platform", "linux/"+other, list).OK(t)
	if got := inspectImage(t, harness.E2E, []string{"image", "inspect"}, list).Id; got != otherID {
		t.Errorf("pull --platform linux/%s of the list gave %s, want %s", other, got, otherID)
	}
}

// checkVerbose checks `manifest inspect -v` of a list: each entry's
// reference, platform and decoded manifest (its config: the image ID).
func checkVerbose(t *testing.T, es []manifestEntry, refs, ids []string) {
	t.Helper()
	if len(es) != len(refs) {
		t.Fatalf("manifest inspect -v: %d entries, want %d", len(es), len(refs))
	}
	for i, e := range es {
		if e.Ref != refs[i] || e.Descriptor.Platform == nil || e.Descriptor.Platform.OS != "linux" || len(e.Raw) != e.Descriptor.Size ||
			e.SchemaV2Manifest == nil || e.SchemaV2Manifest.Config.Digest != ids[i] {
			t.Errorf("manifest inspect -v entry %d: %+v, want Ref %s, a linux platform, Raw of Size bytes, SchemaV2Manifest with config %s", i, e, refs[i], ids[i])
		}
	}
}

// dockerCLI runs the docker CLI's manifest commands (client only: they
// talk to the registry) with a configuration directory of their own, to
// compare skiff's output with; nil where no docker CLI is installed.
type dockerCLI struct{ config string }

// dockerManifest makes list with the docker CLI as skiff's test did
// (create, the same annotation), or returns nil without a docker CLI.
func dockerManifest(t *testing.T, list, hostRef, otherRef string) *dockerCLI {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Logf("no docker CLI: skiff's manifest output not compared with Docker's")
		return nil
	}
	d := &dockerCLI{config: t.TempDir()}
	d.run(t, "create", "--insecure", list, hostRef, otherRef)
	d.run(t, "annotate", "--variant", "v8", "--os-features", "x", list, otherRef)
	return d
}

func (d *dockerCLI) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"manifest"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config, "DOCKER_CLI_HINTS=false")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("docker manifest %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// same checks that docker manifest ARGS prints what skiff printed.
func (d *dockerCLI) same(t *testing.T, skiffOut string, args ...string) {
	t.Helper()
	if d == nil {
		return
	}
	if out := d.run(t, args...); out != skiffOut {
		t.Errorf("docker manifest %s prints otherwise than skiff's\ndocker:\n%s\nskiff:\n%s", strings.Join(args, " "), out, skiffOut)
	}
}

// TestManifestAmendPurge: a list in the images' own repository, refused
// again without --amend, amended (an image it has keeps its annotation),
// pushed with --purge (nothing to copy), and gone locally after.
func TestManifestAmendPurge(t *testing.T) {
	parallel(t)
	repo := "mamend-" + harness.UniqueSuffix()
	a := harness.PushVariant(t, repo, "a", "manifest-a")
	b := harness.PushVariant(t, repo, "b", "manifest-b")
	list := ref(repo) + ":latest"
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "manifest", "rm", list) })

	skiff(t, "manifest", "create", ref(repo), ref(repo)+":a").OK(t).StdoutIs(t, "Created manifest list "+list+"\n")
	skiff(t, "manifest", "annotate", "--os-version", "6.1", "--os", "linux", "--arch", runtime.GOARCH, ref(repo), ref(repo)+":a").OK(t)
	before := skiff(t, "manifest", "inspect", ref(repo)).OK(t).Stdout
	skiff(t, "manifest", "create", ref(repo), ref(repo)+":b").ErrorLine(t, errExit, "--amend", list)
	if after := skiff(t, "manifest", "inspect", ref(repo)).OK(t).Stdout; after != before {
		t.Errorf("a refused create changed the list\nbefore:\n%s\nafter:\n%s", before, after)
	}
	skiff(t, "manifest", "create", "--amend", ref(repo), ref(repo)+":a", ref(repo)+":b").OK(t)
	skiff(t, "manifest", "create", "-a", ref(repo), ref(repo)+":b").OK(t)
	idx := parseIndex(t, skiff(t, "manifest", "inspect", ref(repo)).OK(t).Stdout)
	if len(idx.Manifests) != 2 {
		t.Fatalf("amended list: want 2 images, got %+v", idx)
	}
	host := manifestPlatform{OS: "linux", Architecture: runtime.GOARCH}
	withVersion := host
	withVersion.OSVersion = "6.1"
	checkEntry(t, idx, 0, a.Digest, withVersion)
	checkEntry(t, idx, 1, b.Digest, host)

	r := skiff(t, "manifest", "push", "--purge", ref(repo)).OK(t)
	if lines := r.Lines(); len(lines) != 1 || !strings.HasPrefix(lines[0], "sha256:") {
		t.Errorf("push of a list in its images' repository: want only the digest\n%s", r.Output())
	}
	if _, d := registryList(t, repo, "latest"); d != strings.TrimSpace(r.Stdout) {
		t.Errorf("the registry has the list as %s, push printed %s", d, r.Stdout)
	}
	skiff(t, "manifest", "rm", ref(repo)).ErrorLine(t, errExit, "no such manifest list", list)
	skiff(t, "manifest", "push", "-p", ref(repo)).ErrorLine(t, errExit, "no such manifest list")
}

// TestManifestBadInput: each refusal is one line, exit 1, and leaves the
// lists as they were.
func TestManifestBadInput(t *testing.T) {
	parallel(t)
	sfx := harness.UniqueSuffix()
	repo := "mbad-" + sfx
	harness.PushVariant(t, repo, "a", "manifest-bad")
	part := ref(repo) + ":a"
	list := ref("mbadlist-"+sfx) + ":1"
	missing := ref("mbad-missing-" + sfx)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "manifest", "rm", list) })

	// No such list.
	for _, args := range [][]string{{"push", list}, {"annotate", "--variant", "v8", list, part}, {"rm", list}, {"inspect", list, part}} {
		skiff(t, append([]string{"manifest"}, args...)...).ErrorLine(t, errExit, "no such manifest list", list)
	}
	// Images the list cannot take: nothing is written.
	skiff(t, "manifest", "create", list, part, missing).ErrorLine(t, errExit, "no such manifest", missing+":latest", "skiff push")
	skiff(t, "manifest", "create", list, ref("multi")).ErrorLine(t, errExit, "is a manifest list", "by digest")
	skiff(t, "manifest", "create", list, "127.0.0.2:5999/elsewhere:1").ErrorLine(t, errExit, "different registry", "127.0.0.2:5999")
	skiff(t, "manifest", "create", list, "Not/Valid").ErrorLine(t, errExit, "invalid reference format")
	skiff(t, "manifest", "create", list).ErrorLine(t, errExit, "at least 2 argument")
	skiff(t, "manifest", "rm", list).ErrorLine(t, errExit, "no such manifest list")
	skiff(t, "manifest", "inspect", missing).ErrorLine(t, errExit, "no such manifest", missing+":latest")

	// A list that exists: refusals leave it as it was.
	skiff(t, "manifest", "create", list, part).OK(t)
	before := skiff(t, "manifest", "inspect", list).OK(t).Stdout
	skiff(t, "manifest", "annotate", "--variant", "v8", list, missing).ErrorLine(t, errExit, "does not exist in", list)
	skiff(t, "manifest", "annotate", "--arch", "nonsense", list, part).ErrorLine(t, errExit, "unsupported os/arch", "linux/nonsense")
	skiff(t, "manifest", "create", list, part).ErrorLine(t, errExit, "--amend")
	skiff(t, "manifest", "create", "--amend", list, missing).ErrorLine(t, errExit, "no such manifest", missing)
	skiff(t, "manifest", "inspect", list, missing).ErrorLine(t, errExit, "not in the list", list)
	skiff(t, "manifest", "push", list+"@sha256:"+strings.Repeat("0", 64)).ErrorLine(t, errExit, "by tag")
	if after := skiff(t, "manifest", "inspect", list).OK(t).Stdout; after != before {
		t.Errorf("refused commands changed the list\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// rm of several: the others are removed, one error line per missing list.
	r := skiff(t, "manifest", "rm", missing, list)
	r.ErrorLine(t, errExit, "no such manifest list", missing)
	skiff(t, "manifest", "rm", list).ErrorLine(t, errExit, "no such manifest list")
}

// TestManifestInsecure: a TLS registry whose certificate the configured
// CA (certs.d) did not sign: create, push and inspect fail naming the
// certificate, and work with --insecure.
func TestManifestInsecure(t *testing.T) {
	parallel(t)
	certs, wrong := makeCerts(t), makeCerts(t)
	reg := harness.StartExtraRegistry(t, &harness.RegistryTLS{Cert: certs.server, Key: certs.serverKey,
		Client: &tls.Config{RootCAs: certs.caPool, MinVersion: tls.VersionTLS12}})
	image := reg.Addr + "/parts:1"
	skiff(t, "tag", busybox(t), image).OK(t)
	t.Cleanup(func() { skiff(t, "rmi", image) })
	skiff(t, "push", image).OK(t) // loopback: the certificate is not checked
	home, opts := configHome(t)
	wrong.install(t, home, "docker", reg.Addr, true)
	list := reg.Addr + "/list:1"
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "manifest", "rm", list) })

	skiffWith(t, opts, "manifest", "create", list, image).ErrorLine(t, errExit, "x509", filepath.Join(home, "docker", "certs.d", reg.Addr))
	skiffWith(t, opts, "manifest", "create", "--insecure", list, image).OK(t)
	skiffWith(t, opts, "manifest", "push", list).ErrorLine(t, errExit, "x509")
	lines := skiffWith(t, opts, "manifest", "push", "--insecure", list).OK(t).Lines()
	d := lines[len(lines)-1]
	skiffWith(t, opts, "manifest", "rm", list).OK(t)
	skiffWith(t, opts, "manifest", "inspect", list).ErrorLine(t, errExit, "x509")
	out := skiffWith(t, opts, "manifest", "inspect", "--insecure", list).OK(t).Stdout
	if got := sha256Of(out); got != d {
		t.Errorf("inspect --insecure of the pushed list: its digest is %s, push printed %s\n%s", got, d, out)
	}
}

// TestManifestRoot: root keeps its lists in /var/lib/skiff/manifests; a
// list whose first image is an OCI manifest is an OCI index, and may name
// an image of another list by digest.
func TestManifestRoot(t *testing.T) {
	parallel(t)
	repo := "mroot-" + harness.UniqueSuffix()
	list := ref(repo) + ":1"
	oci := harness.Images["busybox-oci"]
	other := harness.Images["multi"].Platforms["linux/"+otherArch()]
	otherRef := ref("multi") + "@" + other.Digest
	t.Cleanup(func() { harness.RunAsRoot(t, "manifest", "rm", list) })

	harness.RunAsRoot(t, "manifest", "create", list, ref("busybox-oci"), otherRef).OK(t).StdoutIs(t, "Created manifest list "+list+"\n")
	file := filepath.Join("/var/lib/skiff/manifests", strings.ReplaceAll(list, "/", "%2F")+".json")
	if _, err := os.Stat(file); err != nil {
		t.Errorf("root's list should be %s: %v", file, err)
	}
	local := harness.RunAsRoot(t, "manifest", "inspect", list).OK(t).Stdout
	idx := parseIndex(t, local)
	if idx.MediaType != ociIndexType || len(idx.Manifests) != 2 || idx.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("a list whose first image is OCI: want an OCI index\n%s", local)
	}
	// The platform comes from the image's config: the harness gives arm64 images variant v8.
	otherPlatform := manifestPlatform{OS: "linux", Architecture: otherArch()}
	if otherArch() == "arm64" {
		otherPlatform.Variant = "v8"
	}
	checkEntry(t, idx, 1, other.Digest, otherPlatform)
	es := parseEntries(t, harness.RunAsRoot(t, "manifest", "inspect", "-v", list).OK(t).Stdout)
	if len(es) != 2 || es[0].OCIManifest == nil || es[0].OCIManifest.Config.Digest != oci.ID || es[1].Ref != otherRef {
		t.Errorf("manifest inspect -v: want the OCI image's OCIManifest and %s\n%+v", otherRef, es)
	}

	r := harness.RunAsRoot(t, "manifest", "push", "--purge", list).OK(t)
	if mt, d := registryList(t, repo, "1"); mt != ociIndexType || d != sha256Of(local) || !strings.HasSuffix(r.Stdout, d+"\n") {
		t.Errorf("the registry serves the list as %s %s; want %s %s, as push printed\n%s", mt, d, ociIndexType, sha256Of(local), r.Output())
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("push --purge left %s", file)
	}
	t.Cleanup(func() { harness.RunAsRoot(t, "rmi", list) })
	harness.RunAsRoot(t, "pull", list).OK(t)
	if got := inspectImage(t, harness.Root, []string{"image", "inspect"}, list).Id; got != oci.ID {
		t.Errorf("root pull of the list gave %s, want this host's image %s", got, oci.ID)
	}
}

// TestManifestAuth: a registry that wants credentials refuses a list's
// reads and push until `skiff login` (to a DOCKER_CONFIG of the test's
// own) stored them; then the list is made and pushed with them.
func TestManifestAuth(t *testing.T) {
	parallel(t)
	ar := harness.NeedAuthRegistry(t)
	_, opts := configHome(t)
	list := ar.Ref("mauth-"+harness.UniqueSuffix()) + ":1"
	t.Cleanup(func() { harness.RunAsWith(t, harness.E2E, opts, "manifest", "rm", list) })

	unauthorized(t, skiffWith(t, opts, "manifest", "create", list, ar.Ref("busybox")))
	unauthorized(t, skiffWith(t, opts, "manifest", "inspect", ar.Ref("busybox")))
	login := harness.RunOptions{Env: opts.Env, Stdin: strings.NewReader(ar.Password + "\n")}
	skiffWith(t, login, "login", "-u", ar.User, "--password-stdin", ar.Addr).OK(t)
	skiffWith(t, opts, "manifest", "create", list, ar.Ref("busybox")).OK(t)
	local := skiffWith(t, opts, "manifest", "inspect", list).OK(t).Stdout
	lines := skiffWith(t, opts, "manifest", "push", "--purge", list).OK(t).Lines()
	if d := lines[len(lines)-1]; d != sha256Of(local) {
		t.Errorf("push to the authenticated registry printed %s, want %s", d, sha256Of(local))
	}
	if remote := skiffWith(t, opts, "manifest", "inspect", list).OK(t).Stdout; remote != local {
		t.Errorf("the pushed list prints otherwise than the local one\nregistry:\n%s\nlocal:\n%s", remote, local)
	}
}
