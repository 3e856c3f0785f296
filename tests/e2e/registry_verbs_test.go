package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestPullAllTags pulls every tag of a repository with -a, as docker pull
// -a does, and refuses a reference with a tag or digest in Docker's words.
func TestPullAllTags(t *testing.T) {
	parallel(t)
	repo := "pull-all-" + harness.UniqueSuffix()
	one := harness.PushVariant(t, repo, "1", "pull-all-1")
	two := harness.PushVariant(t, repo, "2", "pull-all-2")
	name := ref(repo)
	t.Cleanup(func() { skiff(t, "rmi", name+":1", name+":2") })

	r := skiff(t, "pull", "-a", name).OK(t)
	checkPullLines(t, r, "1: Pulling from "+repo, "2: Pulling from "+repo, "Status: Downloaded newer image for "+name, name)
	for tag, img := range map[string]*harness.Image{"1": one, "2": two} {
		if got := inspectImage(t, harness.E2E, []string{"image", "inspect"}, name+":"+tag).Id; got != img.ID {
			t.Errorf("pull -a: %s:%s is %s, want %s", name, tag, got, img.ID)
		}
	}
	if imageListed(t, harness.E2E, name+":latest") {
		t.Errorf("pull -a made a latest tag the registry does not have")
	}
	r = skiff(t, "pull", "--all-tags", name).OK(t)
	checkPullLines(t, r, "Status: Image is up to date for "+name, name)

	for _, bad := range []string{name + ":1", name + "@" + one.Digest} {
		skiff(t, "pull", "-a", bad).ErrorLine(t, errExit, "tag can't be used with --all-tags/-a")
	}

	// The API pulls every tag when the request names none (docker pull -a).
	skiff(t, "rmi", name+":1", name+":2").OK(t)
	d := harness.Docker(t, harness.E2E, "pull", "-a", name).OK(t)
	if !strings.Contains(d.Stdout, "Status: Downloaded newer image for "+name+"\n") {
		t.Errorf("docker pull -a through the API service\n%s", d.Output())
	}
	for _, tag := range []string{"1", "2"} {
		if !imageListed(t, harness.E2E, name+":"+tag) {
			t.Errorf("docker pull -a through the API did not pull %s:%s", name, tag)
		}
	}
}

// TestPushAllTags pushes every local tag of a repository with -a, and
// refuses a tag in Docker's words.
func TestPushAllTags(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	repo := pushRepo("push-all")
	name := ref(repo)
	for _, tag := range []string{"a", "b"} {
		skiff(t, "tag", bb, name+":"+tag).OK(t)
	}
	t.Cleanup(func() { skiff(t, "rmi", name+":a", name+":b") })

	r := skiff(t, "push", "-a", name).OK(t)
	if n := strings.Count(r.Stdout, "The push refers to repository ["+name+"]"); n != 1 {
		t.Errorf("push -a: want one \"The push refers to repository\" line, got %d\n%s", n, r.Output())
	}
	for _, tag := range []string{"a", "b"} {
		if !strings.Contains(r.Stdout, "\n"+tag+": digest: sha256:") {
			t.Errorf("push -a: no digest line for %s\n%s", tag, r.Output())
		}
		if _, ok := fetchManifest(t, harness.Registry, repo, tag, "", ""); !ok {
			t.Errorf("push -a: the registry has no %s:%s", repo, tag)
		}
	}
	skiff(t, "push", "-a", name+":a").ErrorLine(t, errExit, "tag can't be used with --all-tags/-a")

	// The API pushes every tag when the request names none (docker push -a).
	skiff(t, "tag", bb, name+":c").OK(t)
	t.Cleanup(func() { skiff(t, "rmi", name+":c") })
	harness.Docker(t, harness.E2E, "push", "-a", name).OK(t)
	if _, ok := fetchManifest(t, harness.Registry, repo, "c", "", ""); !ok {
		t.Errorf("docker push -a through the API did not push %s:c", repo)
	}
	skiff(t, "push", "-a", ref(pushRepo("push-all-none"))).ErrorLine(t, errExit, "does not exist locally")
}

// TestPushLayerLines checks push's lines on a pipe, as docker push prints
// them: "ID: Preparing", then "ID: Pushed" or "ID: Layer already exists"
// under the layer's short diff ID, then "TAG: digest: … size: N".
func TestPushLayerLines(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "push-lines-src", "latest", "push-lines-"+harness.UniqueSuffix())
	skiff(t, "pull", ref(pi.Repo)).OK(t)
	repo := pushRepo("push-lines")
	dst := ref(repo) + ":v1"
	skiff(t, "tag", ref(pi.Repo), dst).OK(t)
	t.Cleanup(func() { skiff(t, "rmi", ref(pi.Repo), dst) })

	first := skiff(t, "push", dst)
	pushed(t, first, ref(repo), "v1")
	again := skiff(t, "push", dst)
	pushed(t, again, ref(repo), "v1")
	for i, d := range pi.DiffIDs {
		id := strings.TrimPrefix(d, "sha256:")[:12]
		for _, want := range []string{id + ": Preparing", id + ": Pushed"} {
			if i == 0 && want == id+": Pushed" {
				// The busybox layer may be in the registry from other tests.
				want = id + ": "
			}
			if !strings.Contains(first.Stdout, want) {
				t.Errorf("first push lacks %q\n%s", want, first.Output())
			}
		}
		if !strings.Contains(again.Stdout, id+": Layer already exists\n") {
			t.Errorf("second push lacks %q\n%s", id+": Layer already exists", again.Output())
		}
	}
	if strings.Contains(first.Stdout, "\x1b[") {
		t.Errorf("push on a pipe must not redraw\n%s", first.Output())
	}
}

// TestPushPlatform checks push --platform: skiff keeps one platform's
// image per name, so the image must be for that platform.
func TestPushPlatform(t *testing.T) {
	parallel(t)
	harness.Requires(t, "amd64")
	bb := busybox(t)
	repo := pushRepo("push-platform")
	dst := ref(repo) + ":v1"
	skiff(t, "tag", bb, dst).OK(t)
	t.Cleanup(func() { skiff(t, "rmi", dst) })

	r := skiff(t, "push", "--platform", "linux/arm64", dst)
	r.ErrorLine(t, errExit, "linux/amd64", "linux/arm64")
	if _, ok := fetchManifest(t, harness.Registry, repo, "v1", "", ""); ok {
		t.Errorf("push --platform linux/arm64 of an amd64 image pushed it")
	}
	skiff(t, "push", "--platform", "linux", dst).ErrorLine(t, errExit, "invalid platform")
	pushed(t, skiff(t, "push", "--platform", "linux/amd64", dst), ref(repo), "v1")
	// The API's platform parameter (docker push --platform).
	d := harness.Docker(t, harness.E2E, "push", "--platform", "linux/arm64", dst)
	if d.ExitCode != 1 || !strings.Contains(d.Stderr, "not linux/arm64") {
		t.Errorf("docker push --platform linux/arm64 of an amd64 image through the API: want exit 1 naming the platform\n%s", d.Output())
	}
	harness.Docker(t, harness.E2E, "push", "--platform", "linux/amd64", dst).OK(t)
}

// TestRmiNoSuchImage: Docker's words, no advice to pull.
func TestRmiNoSuchImage(t *testing.T) {
	parallel(t)
	line := skiff(t, "rmi", "nosuchimage").ErrorLine(t, errExit, "No such image: nosuchimage:latest")
	if strings.Contains(strings.ToLower(line), "pull") {
		t.Errorf("rmi of a missing image must not suggest pulling it: %q", line)
	}
	skiff(t, "image", "rm", "nosuchimage:v2").ErrorLine(t, errExit, "No such image: nosuchimage:v2")
}

// TestSearch searches a registry's catalog with docker search's flags,
// and Docker Hub (unreachable here) with a clear error.
func TestSearch(t *testing.T) {
	parallel(t)
	word := "srch" + harness.UniqueSuffix()
	for _, r := range []string{word + "-a", word + "-b", "other/" + word + "-c"} {
		harness.PushVariant(t, r, "latest", "search")
	}
	term := harness.Registry + "/" + word
	r := skiff(t, "search", term).OK(t)
	lines := r.Lines()
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "NAME DESCRIPTION STARS OFFICIAL" {
		t.Fatalf("search: want the header and 3 rows\n%s", r.Output())
	}
	// In the catalog's order: by name.
	for i, want := range []string{"other/" + word + "-c", word + "-a", word + "-b"} {
		if f := strings.Fields(lines[i+1]); len(f) != 2 || f[0] != harness.Registry+"/"+want || f[1] != "0" {
			t.Errorf("search row %d %q, want %s/%s with 0 stars", i+1, lines[i+1], harness.Registry, want)
		}
	}
	skiff(t, "search", "--limit", "1", "--format", "{{.Name}}", term).OK(t).StdoutIs(t, harness.Registry+"/other/"+word+"-c\n")
	skiff(t, "search", "--limit", "101", term).ErrorLine(t, errExit, "limit 101 is outside the range of [1, 100]")
	// Filters as Docker: a registry's catalog has no stars nor official images.
	for _, f := range []string{"stars=1", "is-official=true", "is-automated=true"} {
		r := skiff(t, "search", "--filter", f, "--format", "{{.Name}}", term).OK(t)
		if r.Stdout != "" {
			t.Errorf("search --filter %s: want no results\n%s", f, r.Output())
		}
	}
	if r := skiff(t, "search", "-f", "is-automated=false", term).OK(t); !strings.Contains(r.Stderr, `WARNING: the "is-automated" filter is deprecated`) {
		t.Errorf("search --filter is-automated: want Docker's deprecation warning\n%s", r.Output())
	}
	if n := len(skiff(t, "search", "-f", "is-official=false", "-f", "stars=0", "--format", "{{.Name}}", term).OK(t).Lines()); n != 3 {
		t.Errorf("search --filter is-official=false --filter stars=0: %d results, want 3", n)
	}
	skiff(t, "search", "--filter", "stars=many", term).ErrorLine(t, errExit, "stars=many")
	skiff(t, "search", "--filter", "color=blue", term).ErrorLine(t, errExit, "color")
	// --format json as Docker: strings, booleans spelled out.
	var row map[string]string
	must(t, json.Unmarshal([]byte(skiff(t, "search", "--limit", "1", "--format", "json", term).OK(t).Stdout), &row))
	if row["Name"] != harness.Registry+"/other/"+word+"-c" || row["IsOfficial"] != "false" || row["StarCount"] != "0" {
		t.Errorf("search --format json: %v", row)
	}
	// --no-trunc keeps the table (the catalog gives no descriptions to
	// cut; cmd's TestSearchRow checks the cut itself).
	skiff(t, "search", "--no-trunc", "--limit", "1", term).OK(t)
	// Docker Hub cannot be reached here: one line saying so.
	skiff(t, "search", "busybox").ErrorLine(t, errExit, "Docker Hub", "index.docker.io")
	// The API's /images/search: the docker CLI through skiff's service.
	d := harness.Docker(t, harness.E2E, "search", "--format", "{{.Name}}", term).OK(t)
	if d.Lines()[0] != harness.Registry+"/other/"+word+"-c" || len(d.Lines()) != 3 {
		t.Errorf("docker search through the API service\n%s", d.Output())
	}
}
