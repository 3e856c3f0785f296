package api

import (
	"archive/tar"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// imageInspect is the part of `docker image inspect` the tests read.
type imageInspect struct {
	Id          string
	RepoTags    []string
	RepoDigests []string
	Os          string
	Config      struct {
		Cmd    []string
		Env    []string
		Labels map[string]string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
}

func inspectImage(t testing.TB, img string) imageInspect {
	t.Helper()
	var ii imageInspect
	inspectJSON(t, []string{"image", "inspect"}, img, &ii)
	return ii
}

var slow = harness.RunOptions{Timeout: 2 * time.Minute}

func TestDockerPull(t *testing.T) {
	parallel(t)
	img := harness.Images["busybox-oci"]
	r := dockerWith(t, slow, "pull", ref("busybox-oci")).OK(t)
	// The CLI renders the service's JSON progress stream.
	if !strings.Contains(r.Stdout, "Digest: "+img.Digest) || !strings.Contains(r.Stdout, ref("busybox-oci")) {
		t.Errorf("docker pull: want the digest %s and the reference in the output\n%s", img.Digest, r.Output())
	}
	ii := inspectImage(t, ref("busybox-oci"))
	if ii.Id != img.ID {
		t.Errorf("image inspect Id %s, want %s", ii.Id, img.ID)
	}
	if !contains(ii.RepoTags, ref("busybox-oci")+":latest") || !contains(ii.RepoDigests, img.DigestRef()) {
		t.Errorf("RepoTags %v RepoDigests %v, want %s:latest and %s", ii.RepoTags, ii.RepoDigests, ref("busybox-oci"), img.DigestRef())
	}
	if len(ii.RootFS.Layers) != len(img.DiffIDs) || ii.RootFS.Layers[0] != img.DiffIDs[0] {
		t.Errorf("RootFS.Layers %v, want %v", ii.RootFS.Layers, img.DiffIDs)
	}
	// Again: nothing new.
	r = dockerWith(t, slow, "pull", ref("busybox-oci")).OK(t)
	if !strings.Contains(r.Stdout, "Image is up to date") {
		t.Errorf("second docker pull: want 'Image is up to date'\n%s", r.Output())
	}
	// By digest.
	dockerWith(t, slow, "pull", img.DigestRef()).OK(t)
	// A missing image: the CLI shows the service's error and exits 1.
	r = dockerWith(t, slow, "pull", ref("no-such-image")+":nope")
	if r.ExitCode != 1 || !containsAnyFold(r.Stderr, "not found", "manifest unknown", "does not exist", "no such") {
		t.Errorf("docker pull of a missing image: want exit 1 and not found\n%s", r.Output())
	}
	// A multi-arch index resolves to this host's platform.
	dockerWith(t, slow, "pull", ref("multi")).OK(t)
	if got := inspectImage(t, ref("multi")).Id; got != harness.Images["multi"].ID {
		t.Errorf("multi: Id %s, want the host platform's %s", got, harness.Images["multi"].ID)
	}
}

func TestDockerImagesList(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	img := harness.Images["busybox"]
	r := docker(t, "images").OK(t)
	if !regexp.MustCompile(`(?m)^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$`).MatchString(r.Stdout) {
		t.Errorf("docker images: Docker's header\n%s", r.Output())
	}
	r = docker(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--filter", "reference="+bb).OK(t)
	if r.Stdout != bb+":latest "+img.ShortID()+"\n" {
		t.Errorf("docker images --filter reference=%s: %q, want %q", bb, r.Stdout, bb+":latest "+img.ShortID()+"\n")
	}
	r = docker(t, "images", "-q", "--no-trunc").OK(t)
	if !contains(r.Lines(), img.ID) {
		t.Errorf("docker images -q --no-trunc: %v lacks %s", r.Lines(), img.ID)
	}
	r = docker(t, "images", "--digests", "--format", "{{.Digest}}", bb).OK(t)
	if strings.TrimSpace(r.Stdout) != img.Digest {
		t.Errorf("docker images --digests %s: %q, want %s", bb, r.Stdout, img.Digest)
	}
	ii := inspectImage(t, bb)
	if ii.Id != img.ID || ii.Os != "linux" || !contains(ii.Config.Cmd, "sh") || len(ii.Config.Env) == 0 {
		t.Errorf("image inspect %s: %+v", bb, ii)
	}
	r = docker(t, "image", "inspect", ref("no-such-image"))
	if r.ExitCode != 1 || !containsAnyFold(r.Stderr, "no such image") {
		t.Errorf("docker image inspect of a missing image: want exit 1 and 'No such image'\n%s", r.Output())
	}
}

func TestDockerHistory(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := docker(t, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", bb).OK(t)
	if !strings.Contains(r.Stdout, harness.Images["busybox"].ID+"|") || !strings.Contains(r.Stdout, "busybox-static rootfs") {
		t.Errorf("docker history: want the image ID and the harness's CreatedBy\n%s", r.Output())
	}
	r = docker(t, "history", bb).OK(t)
	if !strings.HasPrefix(r.Stdout, "IMAGE") || !strings.Contains(r.Stdout, "CREATED BY") {
		t.Errorf("docker history: Docker's table\n%s", r.Output())
	}
}

func TestDockerTagRmi(t *testing.T) {
	parallel(t)
	// An image of its own: pushed, pulled, tagged, used, removed.
	v := harness.PushVariant(t, "api-rmi", "latest", "rmi-"+harness.UniqueSuffix())
	src := ref("api-rmi")
	dockerWith(t, slow, "pull", src).OK(t)
	tagged := "localhost/api-tagged:" + harness.UniqueSuffix()
	docker(t, "tag", src, tagged).OK(t)
	if got := inspectImage(t, tagged).Id; got != v.ID {
		t.Errorf("tagged image Id %s, want %s", got, v.ID)
	}
	r := docker(t, "rmi", tagged).OK(t)
	if strings.TrimSpace(r.Stdout) != "Untagged: "+tagged {
		t.Errorf("docker rmi of one of two tags: %q, want only Untagged: %s", r.Stdout, tagged)
	}
	inspectImage(t, src)
	// In use by a container: 409 conflict, shown by the CLI.
	n := name("rmi-user")
	rmOnCleanup(t, n)
	docker(t, "create", "--name", n, src, "true").OK(t)
	r = docker(t, "rmi", src)
	if r.ExitCode != 1 || !containsAnyFold(r.Stderr, "container") {
		t.Errorf("docker rmi of an image a container uses: want exit 1 and an error naming the container\n%s", r.Output())
	}
	// Docker's status for it: 409 Conflict.
	del := raw(t, harness.StartService(t, user()), http.MethodDelete, "/v1.41/images/"+src, nil, nil)
	wantJSONError(t, del, 409, 409)
	docker(t, "rm", n).OK(t)
	r = docker(t, "rmi", src).OK(t)
	if !strings.Contains(r.Stdout, "Untagged: "+src) || !strings.Contains(r.Stdout, "Deleted: "+v.ID) {
		t.Errorf("docker rmi: want Untagged: %s and Deleted: %s\n%s", src, v.ID, r.Output())
	}
	r = docker(t, "rmi", src)
	if r.ExitCode != 1 || !containsAnyFold(r.Stderr, "no such image") {
		t.Errorf("docker rmi of a removed image: want 'No such image'\n%s", r.Output())
	}
}

// TestDockerImagePrune is not parallel: it removes every dangling image.
func TestDockerImagePrune(t *testing.T) {
	needRootless(t)
	repo := "api-prune"
	old := harness.PushVariant(t, repo, "latest", "prune-old-"+harness.UniqueSuffix())
	dockerWith(t, slow, "pull", ref(repo)).OK(t)
	// A new image under the same tag leaves the old one dangling.
	newer := harness.PushVariant(t, repo, "latest", "prune-new-"+harness.UniqueSuffix())
	dockerWith(t, slow, "pull", ref(repo)).OK(t)
	r := docker(t, "images", "--filter", "dangling=true", "-q", "--no-trunc").OK(t)
	if !contains(r.Lines(), old.ID) {
		t.Fatalf("after pulling a new %s: dangling images %v, want the old %s", repo, r.Lines(), old.ID)
	}
	r = docker(t, "image", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, "Deleted Images:") || !strings.Contains(r.Stdout, old.ID) || !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Errorf("docker image prune -f: want Deleted Images: with %s and the reclaimed space\n%s", old.ID, r.Output())
	}
	ids := docker(t, "images", "-a", "-q", "--no-trunc").OK(t).Lines()
	if contains(ids, old.ID) || !contains(ids, newer.ID) {
		t.Errorf("after prune: images %v, want %s gone and %s kept", ids, old.ID, newer.ID)
	}
	docker(t, "rmi", ref(repo)).OK(t)
}

func TestDockerSaveLoad(t *testing.T) {
	parallel(t)
	v := harness.PushVariant(t, "api-save", "latest", "save-"+harness.UniqueSuffix())
	src := ref("api-save")
	dockerWith(t, slow, "pull", src).OK(t)
	dir := harness.UserDir(t, user())
	file := filepath.Join(dir, "img.tar")
	dockerWith(t, slow, "save", "-o", file, src).OK(t)
	// A docker-archive: manifest.json and the layers.
	names := tarNames(t, file)
	if !contains(names, "manifest.json") {
		t.Errorf("docker save: the archive lacks manifest.json: %v", names)
	}
	docker(t, "rmi", src).OK(t)
	r := dockerWith(t, slow, "load", "-i", file).OK(t)
	if !strings.Contains(r.Stdout, "Loaded image: "+src+":latest") {
		t.Errorf("docker load: want 'Loaded image: %s:latest'\n%s", src, r.Output())
	}
	if got := inspectImage(t, src).Id; got != v.ID {
		t.Errorf("loaded image Id %s, want %s", got, v.ID)
	}
	// Through stdin and stdout as well.
	in, err := os.Open(file)
	must(t, err)
	defer in.Close()
	docker(t, "rmi", src).OK(t)
	r = dockerWith(t, harness.RunOptions{Stdin: in, Timeout: 2 * time.Minute}, "load", "-q").OK(t)
	if !strings.Contains(r.Stdout, src) {
		t.Errorf("docker load -q from stdin: %q, want the loaded name", r.Stdout)
	}
	r = dockerWith(t, slow, "save", src).OK(t)
	if len(r.Stdout) < 100000 {
		t.Errorf("docker save to stdout: %d bytes, want the image", len(r.Stdout))
	}
	docker(t, "rmi", src).OK(t)
}

func tarNames(t testing.TB, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		names = append(names, h.Name)
	}
}

func TestDockerPush(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	repo := "api-push-" + harness.UniqueSuffix()
	dst := ref(repo) + ":v1"
	docker(t, "tag", bb, dst).OK(t)
	r := dockerWith(t, slow, "push", dst).OK(t)
	m := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("docker push: want 'v1: digest: sha256:… size: N'\n%s", r.Output())
	}
	// The registry has it under that digest.
	req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/v1", harness.Registry, repo), nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != m[1] {
		t.Errorf("registry HEAD manifests/v1: %s digest %q, want 200 and %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), m[1])
	}
	// Pull it back by digest, elsewhere: the same image.
	docker(t, "rmi", dst).OK(t)
	dockerWith(t, slow, "pull", ref(repo)+"@"+m[1]).OK(t)
	if got := inspectImage(t, ref(repo)+"@"+m[1]).Id; got != harness.Images["busybox"].ID {
		t.Errorf("pushed and pulled back: Id %s, want %s", got, harness.Images["busybox"].ID)
	}
}

// buildContext writes a Dockerfile and a file into a directory the user owns.
func buildContext(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := harness.UserDir(t, user())
	harness.WriteUserFile(t, user(), filepath.Join(dir, "Dockerfile"), []byte(dockerfile))
	for n, c := range files {
		harness.WriteUserFile(t, user(), filepath.Join(dir, n), []byte(c))
	}
	return dir
}

func TestDockerBuild(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, fmt.Sprintf(`FROM %s AS base
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
COPY file.txt /file.txt
WORKDIR /work
ENV MODE=built
CMD ["cat", "/greeting"]

FROM base AS final
RUN echo final > /final
`, bb), map[string]string{"file.txt": "from the context\n"})
	tag := "localhost/api-build:" + harness.UniqueSuffix()
	opts := harness.RunOptions{Dir: dir, Timeout: 3 * time.Minute}
	r := dockerWith(t, opts, "build", "-t", tag, "--build-arg", "GREETING=howdy", "--target", "base", "--label", "team=api", ".").OK(t)
	m := regexp.MustCompile(`Successfully built ([0-9a-f]{12})`).FindStringSubmatch(r.Stdout)
	if m == nil || !strings.Contains(r.Stdout, "Successfully tagged "+tag) {
		t.Fatalf("docker build (classic builder): want 'Successfully built ID' and 'Successfully tagged %s'\n%s", tag, r.Output())
	}
	if !strings.Contains(r.Stdout, `RUN echo "$GREETING" > /greeting`) {
		t.Errorf("docker build: want the steps in the output stream\n%s", r.Output())
	}
	ii := inspectImage(t, tag)
	if !strings.HasPrefix(strings.TrimPrefix(ii.Id, "sha256:"), m[1]) {
		t.Errorf("image inspect %s: Id %s, build said %s", tag, ii.Id, m[1])
	}
	if ii.Config.Labels["team"] != "api" || !contains(ii.Config.Env, "MODE=built") {
		t.Errorf("built image: Labels %v Env %v, want team=api and MODE=built", ii.Config.Labels, ii.Config.Env)
	}
	r = docker(t, "run", "--rm", tag).OK(t)
	r.StdoutIs(t, "howdy\n")
	r = docker(t, "run", "--rm", tag, "sh", "-c", "cat /file.txt; pwd; test -e /final && echo has-final || echo no-final").OK(t)
	r.StdoutIs(t, "from the context\n/work\nno-final\n")
	// Unchanged: the RUN and COPY steps come from the cache.
	r = dockerWith(t, opts, "build", "-t", tag, "--build-arg", "GREETING=howdy", "--target", "base", "--label", "team=api", ".").OK(t)
	if !strings.Contains(r.Stdout, "Using cache") {
		t.Errorf("rebuild: want 'Using cache'\n%s", r.Output())
	}
	r = dockerWith(t, opts, "build", "--no-cache", "-t", tag, "--build-arg", "GREETING=howdy", "--target", "base", ".").OK(t)
	if strings.Contains(r.Stdout, "Using cache") {
		t.Errorf("build --no-cache: 'Using cache' in the output\n%s", r.Output())
	}
	// -q prints the image ID only; the whole file builds without --target.
	r = dockerWith(t, opts, "build", "-q", "-t", tag+"-final", ".").OK(t)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.Stdout) {
		t.Errorf("docker build -q: stdout %q, want the image ID alone", r.Stdout)
	}
	docker(t, "run", "--rm", tag+"-final", "cat", "/final").OK(t).StdoutIs(t, "final\n")
	// -f names another Dockerfile; a failing RUN fails the build with its code.
	harness.WriteUserFile(t, user(), filepath.Join(dir, "Failing.Dockerfile"), []byte("FROM "+bb+"\nRUN echo about to fail; exit 3\n"))
	r = dockerWith(t, opts, "build", "-f", "Failing.Dockerfile", ".")
	if r.ExitCode == 0 || !strings.Contains(r.Stdout+r.Stderr, "about to fail") || !containsAnyFold(r.Stdout+r.Stderr, "non-zero code: 3", "exit code: 3", "exit status 3", "with status 3") {
		t.Errorf("a failing RUN: want a failed build showing the step's output and its code 3\n%s", r.Output())
	}
	docker(t, "rmi", tag, tag+"-final").OK(t)
}

// TestDockerBuildFlags: the classic builder's --add-host, --cache-from and
// --isolation reach skiff's build through the API (cachefrom is held
// against images in tests/e2e's TestBuildCacheFrom; here a missing one
// gives the warning the CLI does).
func TestDockerBuildFlags(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	marker := harness.UniqueSuffix()
	dir := buildContext(t, "FROM "+bb+"\nARG M="+marker+"\nRUN (grep apihost /etc/hosts || echo none) > /hosts\n", nil)
	tag := "localhost/api-build-flags:" + marker
	opts := harness.RunOptions{Dir: dir, Timeout: 3 * time.Minute}
	dockerWith(t, opts, "build", "-q", "-t", tag, "--add-host", "apihost:10.9.8.7", "--isolation", "default", ".").OK(t)
	docker(t, "run", "--rm", tag, "cat", "/hosts").OK(t).StdoutIs(t, "10.9.8.7\tapihost\n")
	r := dockerWith(t, opts, "build", "--no-cache", "--cache-from", "localhost/nosuch-"+marker, ".").OK(t)
	if !strings.Contains(r.Stdout, "WARNING: --cache-from localhost/nosuch-"+marker) {
		t.Errorf("docker build --cache-from of a missing image: want skiff's warning in the stream\n%s", r.Output())
	}
	r = dockerWith(t, opts, "build", "--isolation", "hyperv", ".")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "isolation") {
		t.Errorf("docker build --isolation hyperv: want a failure naming isolation\n%s", r.Output())
	}
	docker(t, "rmi", tag).OK(t)
}
