package storage

import (
	"slices"
	"testing"
)

// An image stored under two repositories from two manifests (a Docker and
// an OCI one of the same config) is not repo@other-manifest: the digests
// recorded per repository are what it shows; images stored before skiff
// recorded them show every digest under every repository.
func TestRepoDigests(t *testing.T) {
	img := &Image{
		Names:       []string{"127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox-oci:latest"},
		Digests:     []string{"sha256:aaa", "sha256:bbb"},
		repoDigests: []string{"127.0.0.1:5000/busybox@sha256:aaa", "127.0.0.1:5000/busybox-oci@sha256:bbb", "127.0.0.1:5000/gone@sha256:ccc"},
	}
	want := []string{"127.0.0.1:5000/busybox@sha256:aaa", "127.0.0.1:5000/busybox-oci@sha256:bbb"}
	if got := img.RepoDigests(); !slices.Equal(got, want) {
		t.Errorf("recorded: RepoDigests() = %q, want %q (a repository it has no name in any more goes)", got, want)
	}
	img.repoDigests = nil
	if got := img.RepoDigests(); len(got) != 4 {
		t.Errorf("unrecorded: RepoDigests() = %q, want every digest under each repository", got)
	}
}
