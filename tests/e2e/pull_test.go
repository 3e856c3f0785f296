package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestPull(t *testing.T) {
	parallel(t)
	bb := busybox(t) // the pull itself
	if !imageListed(t, harness.E2E, harness.Images["busybox"].Ref) {
		t.Errorf("images does not list %s after pull", harness.Images["busybox"].Ref)
	}
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, bb)
	if img.Id != harness.Images["busybox"].ID {
		t.Errorf("image ID %s, want the config digest %s", img.Id, harness.Images["busybox"].ID)
	}
	// Pulling again is a no-op that still succeeds.
	skiff(t, "pull", bb).OK(t)
}

func TestPullQuietPrintsReference(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "pull-quiet", "latest", "pull-quiet")
	// Like docker pull -q: only the full reference, on stdout.
	skiff(t, "pull", "-q", ref("pull-quiet")).OK(t).StdoutIs(t, pi.Ref+"\n")
}

func TestPullProgressOnStdout(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "pull-progress", "latest", "pull-progress")
	// Like docker pull: progress and the final reference go to stdout,
	// stderr stays empty.
	r := skiff(t, "pull", ref("pull-progress")).OK(t)
	lines := r.Lines()
	if len(lines) == 0 || lines[len(lines)-1] != pi.Ref {
		t.Errorf("pull should end its stdout with the full reference %s\n%s", pi.Ref, r.Output())
	}
	if r.Stderr != "" {
		t.Errorf("pull progress belongs on stdout (Docker), stderr should be empty\n%s", r.Output())
	}
}

func TestPullByDigest(t *testing.T) {
	parallel(t)
	bb := harness.Images["busybox"]
	skiff(t, "pull", bb.DigestRef()).OK(t)
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, bb.DigestRef())
	if img.Id != bb.ID {
		t.Errorf("image pulled by digest has ID %s, want %s", img.Id, bb.ID)
	}
	if !contains(img.RepoDigests, bb.DigestRef()) {
		t.Errorf("RepoDigests %v lacks %s", img.RepoDigests, bb.DigestRef())
	}
	// Run by digest.
	skiff(t, "run", "--rm", bb.DigestRef(), "echo", "by-digest").OK(t).StdoutIs(t, "by-digest\n")
}

func TestPullOCIImage(t *testing.T) {
	parallel(t)
	oci := pulled(t, harness.E2E, "busybox-oci")
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, oci)
	if img.Id != harness.Images["busybox-oci"].ID {
		t.Errorf("OCI image ID %s, want %s", img.Id, harness.Images["busybox-oci"].ID)
	}
	skiff(t, "run", "--rm", oci, "sh", "-c", "echo oci-ok; id -un").OK(t).StdoutIs(t, "oci-ok\nroot\n")
}

func TestPullMultiArch(t *testing.T) {
	parallel(t)
	harness.Requires(t, "amd64")
	multi := harness.Images["multi"]
	skiff(t, "pull", ref("multi")).OK(t)
	img := inspectImage(t, harness.E2E, []string{"image", "inspect"}, ref("multi"))
	if img.Architecture != "amd64" || img.Os != "linux" {
		t.Errorf("multi-arch pull resolved to %s/%s, want linux/amd64", img.Os, img.Architecture)
	}
	if img.Id != multi.Platforms["linux/amd64"].ID {
		t.Errorf("multi-arch image ID %s, want the amd64 entry's %s", img.Id, multi.Platforms["linux/amd64"].ID)
	}
	skiff(t, "run", "--rm", ref("multi"), "cat", "/arch").OK(t).StdoutIs(t, "amd64\n")

	skiff(t, "pull", "--platform", "linux/arm64", ref("multi")).OK(t)
	arch := skiff(t, "image", "inspect", "--format", "{{.Architecture}}", ref("multi")).OK(t)
	arch.StdoutIs(t, "arm64\n")
	img = inspectImage(t, harness.E2E, []string{"image", "inspect"}, ref("multi"))
	if img.Id != multi.Platforms["linux/arm64"].ID {
		t.Errorf("--platform linux/arm64 image ID %s, want %s", img.Id, multi.Platforms["linux/arm64"].ID)
	}
}

func TestPullConcurrent(t *testing.T) {
	parallel(t)
	// Three images sharing a layer that no store has yet, pulled at once by
	// the rootless user and by root: every pull must succeed (Docker
	// serialises the shared layer).
	shared := "shared-" + harness.UniqueSuffix()
	var refs []string
	for i := 1; i <= 3; i++ {
		repo := fmt.Sprintf("concurrent-%d", i)
		harness.PushVariant(t, repo, "latest", shared, repo)
		refs = append(refs, ref(repo))
	}
	for _, u := range []*harness.User{harness.E2E, harness.Root} {
		var wg sync.WaitGroup
		for _, r := range refs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := harness.RunAs(t, u, "pull", r)
				if res.ExitCode != 0 {
					t.Errorf("concurrent pull: %s\n%s", res.Cmdline(), res.Output())
				}
			}()
		}
		wg.Wait()
		for i, r := range refs {
			want := fmt.Sprintf("concurrent-%d\n", i+1)
			harness.RunAs(t, u, "run", "--rm", "--pull", "never", r, "cat", "/variant").OK(t).StdoutIs(t, want)
		}
	}
}

func TestPullUnknownTag(t *testing.T) {
	parallel(t)
	r := skiff(t, "pull", ref("busybox")+":nosuchtag")
	r.ErrorLine(t, errExit, "busybox:nosuchtag", "manifest unknown|not found")
}

func TestPullUnknownRepository(t *testing.T) {
	parallel(t)
	r := skiff(t, "pull", ref("nosuchrepo"))
	r.ErrorLine(t, errExit, "nosuchrepo", "unknown|not found")
}

func TestPullUnreachableRegistry(t *testing.T) {
	parallel(t)
	r := skiffWith(t, harness.RunOptions{Timeout: 90 * time.Second}, "pull", "127.0.0.1:1/busybox")
	r.ErrorLine(t, errExit, "127.0.0.1:1/busybox")
}

func TestPullMalformedReference(t *testing.T) {
	parallel(t)
	r := skiff(t, "pull", "UPPER/Case::x")
	line := r.ErrorLine(t, errExit, "UPPER/Case::x")
	if strings.Contains(strings.ToLower(line), "connection refused") || strings.Contains(line, "docker.io") {
		t.Errorf("a malformed reference must be rejected before any network access: %q", line)
	}
}
