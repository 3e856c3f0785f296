package harness

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PushConfigured pushes a busybox image whose config is the busybox image's
// (Cmd sh, the default PATH) changed by edit, as Registry/repo:tag, for
// tests that need image settings the shared images lack: STOPSIGNAL,
// HEALTHCHECK, labels. The image has the busybox layer only.
func PushConfigured(t testing.TB, repo, tag string, edit func(*v1.Config)) *Image {
	t.Helper()
	cfg := busyboxConfig()
	if edit != nil {
		edit(&cfg)
	}
	return pushBuilt(t, repo, tag, imageSpec{config: cfg}.build)
}
