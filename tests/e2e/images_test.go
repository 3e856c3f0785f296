package e2e

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// imagesRow finds the `images` table row for repo and tag.
func imagesRow(t *testing.T, out, repo, tag string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == repo && f[1] == tag {
			return f
		}
	}
	t.Fatalf("no row for %s %s in:\n%s", repo, tag, out)
	return nil
}

func TestImagesTable(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiff(t, "images").OK(t)
	header := strings.Fields(strings.SplitN(r.Stdout, "\n", 2)[0])
	if !slices.Equal(header, []string{"REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"}) {
		t.Errorf("images header %q, want Docker's REPOSITORY TAG IMAGE ID CREATED SIZE", header)
	}
	row := imagesRow(t, r.Stdout, bb, "latest")
	if row[2] != harness.Images["busybox"].ShortID() {
		t.Errorf("IMAGE ID %q, want %q", row[2], harness.Images["busybox"].ShortID())
	}
	// A repository argument filters the list.
	r = skiff(t, "images", bb).OK(t)
	for _, l := range r.Lines()[1:] {
		if !strings.HasPrefix(l, bb+" ") {
			t.Errorf("images %s lists another repository: %q", bb, l)
		}
	}
}

func TestImagesQuiet(t *testing.T) {
	parallel(t)
	busybox(t)
	r := skiff(t, "images", "-q").OK(t)
	if len(r.Lines()) == 0 {
		t.Fatalf("images -q printed nothing\n%s", r.Output())
	}
	for _, l := range r.Lines() {
		if !hex12.MatchString(l) {
			t.Errorf("images -q line %q is not a 12-digit image ID", l)
		}
	}
	if !contains(r.Lines(), harness.Images["busybox"].ShortID()) {
		t.Errorf("images -q lacks busybox's %s\n%s", harness.Images["busybox"].ShortID(), r.Output())
	}
}

func TestImagesDigests(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiff(t, "images", "--digests").OK(t)
	if !strings.Contains(strings.SplitN(r.Stdout, "\n", 2)[0], "DIGEST") {
		t.Errorf("images --digests has no DIGEST column\n%s", r.Output())
	}
	row := imagesRow(t, r.Stdout, bb, "latest")
	if row[2] != harness.Images["busybox"].Digest {
		t.Errorf("DIGEST %q, want the manifest digest %q", row[2], harness.Images["busybox"].Digest)
	}
}

func TestImagesNoTrunc(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiff(t, "images", "--no-trunc").OK(t)
	row := imagesRow(t, r.Stdout, bb, "latest")
	if row[2] != harness.Images["busybox"].ID {
		t.Errorf("--no-trunc IMAGE ID %q, want %q", row[2], harness.Images["busybox"].ID)
	}
	if !contains(imageIDs(t, harness.E2E), harness.Images["busybox"].ID) {
		t.Errorf("images -a -q --no-trunc lacks %s", harness.Images["busybox"].ID)
	}
}

func TestImagesFormatTemplate(t *testing.T) {
	parallel(t)
	busybox(t)
	r := skiff(t, "images", "--format", "{{.Repository}}:{{.Tag}}").OK(t)
	if !contains(r.Lines(), harness.Images["busybox"].Ref) {
		t.Errorf("--format lacks %s\n%s", harness.Images["busybox"].Ref, r.Output())
	}
	for _, l := range r.Lines() {
		if strings.Contains(l, "REPOSITORY") {
			t.Errorf("--format must not print a header: %q", l)
		}
	}
}

func TestImagesFormatJSON(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiff(t, "images", "--format", "json").OK(t)
	found := false
	for _, l := range r.Lines() {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("--format json line is not a JSON object: %v: %q", err, l)
		}
		for _, k := range []string{"ID", "Repository", "Tag", "Digest", "CreatedAt", "CreatedSince", "Size"} {
			if _, ok := m[k]; !ok {
				t.Errorf("--format json object lacks Docker's field %q: %s", k, l)
			}
		}
		if m["Repository"] == bb && m["Tag"] == "latest" {
			found = true
			if m["ID"] != harness.Images["busybox"].ShortID() {
				t.Errorf("json ID %v, want %s", m["ID"], harness.Images["busybox"].ShortID())
			}
			if m["Digest"] != harness.Images["busybox"].Digest {
				t.Errorf("json Digest %v, want %s", m["Digest"], harness.Images["busybox"].Digest)
			}
		}
	}
	if !found {
		t.Errorf("--format json has no object for %s:latest\n%s", bb, r.Output())
	}
}

func TestImagesAll(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiff(t, "images", "-a").OK(t)
	imagesRow(t, r.Stdout, bb, "latest")
}

func TestImageInspect(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	want := harness.Images["busybox"]
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, bb)
	if img.Id != want.ID {
		t.Errorf("Id %s, want %s", img.Id, want.ID)
	}
	if !contains(img.RepoTags, want.Ref) {
		t.Errorf("RepoTags %v lacks %s", img.RepoTags, want.Ref)
	}
	if !contains(img.RepoDigests, want.DigestRef()) {
		t.Errorf("RepoDigests %v lacks %s", img.RepoDigests, want.DigestRef())
	}
	if !slices.Equal(img.Config.Cmd, []string{"sh"}) {
		t.Errorf("Config.Cmd %q, want [sh]", img.Config.Cmd)
	}
	if !contains(img.Config.Env, harness.DefaultPath) {
		t.Errorf("Config.Env %q lacks %s", img.Config.Env, harness.DefaultPath)
	}
	if img.Architecture != "amd64" && img.Architecture != "arm64" || img.Os != "linux" {
		t.Errorf("Architecture/Os %s/%s", img.Architecture, img.Os)
	}
	if img.RootFS.Type != "layers" || !slices.Equal(img.RootFS.Layers, want.DiffIDs) {
		t.Errorf("RootFS %+v, want layers %v", img.RootFS, want.DiffIDs)
	}
	// `inspect` without a type finds images too.
	generic := inspectImage(t, harness.E2E, []string{"inspect"}, bb)
	if generic.Id != want.ID {
		t.Errorf("inspect %s: Id %s, want %s", bb, generic.Id, want.ID)
	}
	// --format applies a Go template to each object.
	skiff(t, "image", "inspect", "--format", "{{.Id}} {{.Os}}", bb).OK(t).StdoutIs(t, want.ID+" linux\n")
	// Unknown image.
	skiff(t, "image", "inspect", ref("nosuchimage")).ErrorLine(t, errExit, "nosuchimage")
}

func TestImageInspectConfig(t *testing.T) {
	parallel(t)
	cfg := pulled(t, harness.E2E, "config")
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, cfg)
	c := img.Config
	if !slices.Equal(c.Entrypoint, []string{"/bin/echo", "ep"}) || !slices.Equal(c.Cmd, []string{"default-cmd"}) {
		t.Errorf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}
	if !contains(c.Env, "FOO=bar") || c.WorkingDir != "/home/app" || c.User != "app" {
		t.Errorf("Env %q WorkingDir %q User %q", c.Env, c.WorkingDir, c.User)
	}
	if c.Labels["org.skiff.test"] != "config" {
		t.Errorf("Labels %v", c.Labels)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts %v lacks 8080/tcp", c.ExposedPorts)
	}
}

func TestTag(t *testing.T) {
	parallel(t)
	src := harness.PushVariant(t, "tag-src", "latest", "tag-src")
	skiff(t, "pull", ref("tag-src")).OK(t)
	skiff(t, "tag", ref("tag-src"), "localname:v1").OK(t)
	if !imageListed(t, harness.E2E, src.Ref) || !imageListed(t, harness.E2E, "localname:v1") {
		r := skiff(t, "images")
		t.Errorf("after tag, images must list %s and localname:v1 (Docker's short form)\n%s", src.Ref, r.Output())
	}
	// Short names are normalised like Docker's: localname:v1 is docker.io/library/localname:v1.
	for _, name := range []string{"localname:v1", "docker.io/library/localname:v1"} {
		img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, name)
		if img.Id != src.ID {
			t.Errorf("%s has Id %s, want %s", name, img.Id, src.ID)
		}
		if !contains(img.RepoTags, "localname:v1") || !contains(img.RepoTags, src.Ref) {
			t.Errorf("%s RepoTags %v, want localname:v1 and %s", name, img.RepoTags, src.Ref)
		}
	}
	// A tag without a source image fails.
	skiff(t, "tag", ref("nosuchimage"), "other:v1").ErrorLine(t, errExit, "nosuchimage")
	// An invalid target name fails.
	skiff(t, "tag", ref("tag-src"), "Bad::Name").ErrorLine(t, errExit, "Bad::Name")
}

func TestRmiByName(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "rmi-name", "latest", "rmi-name")
	skiff(t, "pull", ref("rmi-name")).OK(t)
	r := skiff(t, "rmi", ref("rmi-name")).OK(t)
	if !strings.Contains(r.Stdout, "Untagged: "+pi.Ref) || !strings.Contains(r.Stdout, "Deleted: "+pi.ID) {
		t.Errorf("rmi output should say Untagged: %s and Deleted: %s, like docker\n%s", pi.Ref, pi.ID, r.Output())
	}
	if contains(imageIDs(t, harness.E2E), pi.ID) {
		t.Errorf("image %s still listed after rmi", pi.ID)
	}
	skiff(t, "image", "inspect", ref("rmi-name")).ErrorLine(t, errExit, "rmi-name")
	// The shared busybox layer is still usable by the other images.
	skiff(t, "run", "--rm", busybox(t), "true").OK(t)
}

func TestRmiByIDPrefix(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "rmi-id", "latest", "rmi-id")
	skiff(t, "pull", ref("rmi-id")).OK(t)
	skiff(t, "rmi", pi.ShortID()).OK(t)
	if contains(imageIDs(t, harness.E2E), pi.ID) || imageListed(t, harness.E2E, pi.Ref) {
		t.Errorf("image %s still listed after rmi by ID prefix", pi.ID)
	}
}

func TestRmiForceMultiplyTagged(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "rmi-force", "latest", "rmi-force")
	skiff(t, "pull", ref("rmi-force")).OK(t)
	skiff(t, "tag", ref("rmi-force"), ref("rmi-force")+":second").OK(t)
	// By ID, an image with several names needs -f (Docker: "must be forced").
	skiff(t, "rmi", pi.ShortID()).ErrorLine(t, errExit, pi.ShortID(), "force|-f")
	if !imageListed(t, harness.E2E, pi.Ref) {
		t.Fatalf("the refused rmi removed %s", pi.Ref)
	}
	skiff(t, "rmi", "-f", pi.ShortID()).OK(t)
	if imageListed(t, harness.E2E, pi.Ref) || imageListed(t, harness.E2E, ref("rmi-force")+":second") || contains(imageIDs(t, harness.E2E), pi.ID) {
		t.Errorf("rmi -f left a name or the image %s", pi.ID)
	}
}

func TestRmiUntagsOneOfSeveralNames(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "rmi-untag", "latest", "rmi-untag")
	skiff(t, "pull", ref("rmi-untag")).OK(t)
	skiff(t, "tag", ref("rmi-untag"), ref("rmi-untag")+":other").OK(t)
	// By name, only that name goes while another one is left.
	r := skiff(t, "rmi", ref("rmi-untag")+":other").OK(t)
	if strings.Contains(r.Stdout, "Deleted:") {
		t.Errorf("removing one of two names deleted the image\n%s", r.Output())
	}
	if !imageListed(t, harness.E2E, pi.Ref) || imageListed(t, harness.E2E, ref("rmi-untag")+":other") {
		t.Errorf("want %s kept and :other gone", pi.Ref)
	}
}

func TestRmiUnknown(t *testing.T) {
	parallel(t)
	skiff(t, "rmi", "nosuchimage:latest").ErrorLine(t, errExit, "nosuchimage")
}

// TestImagePrune is not parallel: prune removes every dangling image of the user.
func TestImagePrune(t *testing.T) {
	harness.Need(t)
	old := harness.PushVariant(t, "prune", "latest", "prune-old")
	skiff(t, "pull", ref("prune")).OK(t)
	cur := harness.PushVariant(t, "prune", "latest", "prune-new")
	skiff(t, "pull", ref("prune")).OK(t)
	// The old image lost its only tag: it is dangling, shown as <none>.
	if !contains(imageIDs(t, harness.E2E), old.ID) {
		t.Fatalf("after re-pulling the tag, the old image %s should still exist (dangling)", old.ID)
	}
	r := skiff(t, "images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").OK(t)
	if !contains(r.Lines(), old.ShortID()+" <none>:<none>") {
		t.Errorf("the dangling image should be listed as <none>:<none>\n%s", r.Output())
	}
	r = skiff(t, "image", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, old.ID) {
		t.Errorf("image prune should report the deleted %s\n%s", old.ID, r.Output())
	}
	ids := imageIDs(t, harness.E2E)
	if contains(ids, old.ID) {
		t.Errorf("image prune left the dangling %s", old.ID)
	}
	if !contains(ids, cur.ID) {
		t.Errorf("image prune removed the tagged %s", cur.ID)
	}
	// Pruning again finds nothing and still succeeds.
	skiff(t, "image", "prune", "-f").OK(t)
}

var fullID = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

func TestImport(t *testing.T) {
	parallel(t)
	rootfs, err := harness.RootfsTar()
	must(t, err)
	dir := harness.UserDir(t, harness.E2E)
	tarPath := filepath.Join(dir, "rootfs.tar")
	harness.WriteUserFile(t, harness.E2E, tarPath, rootfs)

	r := skiff(t, "import", "--change", `CMD ["/bin/busybox","echo","imported"]`, tarPath, "imported:v1").OK(t)
	if !fullID.MatchString(r.Stdout) {
		t.Errorf("import should print the new image ID sha256:<64 hex>\n%s", r.Output())
	}
	id := strings.TrimSpace(r.Stdout)
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, "imported:v1")
	if img.Id != id || !slices.Equal(img.Config.Cmd, []string{"/bin/busybox", "echo", "imported"}) {
		t.Errorf("imported image: Id %s (import printed %s), Cmd %q", img.Id, id, img.Config.Cmd)
	}
	skiff(t, "run", "--rm", "--pull", "never", "imported:v1").OK(t).StdoutIs(t, "imported\n")

	// From standard input.
	r = skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(rootfs)}, "import", "-", "imported:stdin").OK(t)
	if !fullID.MatchString(r.Stdout) {
		t.Errorf("import - should print the new image ID\n%s", r.Output())
	}
	skiff(t, "run", "--rm", "--pull", "never", "imported:stdin", "/bin/busybox", "echo", "from-stdin").OK(t).StdoutIs(t, "from-stdin\n")
}
