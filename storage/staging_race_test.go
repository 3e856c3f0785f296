package storage

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// The error the storage library gave in a parallel e2e run when another
// process's stale-directory recovery removed a layer's staging directory.
func TestIsStagingRace(t *testing.T) {
	link := &os.LinkError{Op: "rename",
		Old: "/home/u/.local/share/skiff/storage/overlay-layers/tmp/temp-dir-280346531/0-addition",
		New: "/home/u/.local/share/skiff/storage/overlay-layers/bff9.tar-split.gz", Err: os.ErrNotExist}
	if !isStagingRace(fmt.Errorf("creating layer: %w", link)) {
		t.Errorf("isStagingRace(%v) = false, want true", link)
	}
	// The driver's own staging directory (tempdirs/), seen in a build.
	driver := &os.LinkError{Op: "rename",
		Old: "/home/u/.local/share/skiff/storage/overlay/tempdirs/temp-dir-3659349689/0-addition",
		New: "/home/u/.local/share/skiff/storage/overlay/bab3/diff", Err: os.ErrNotExist}
	if !isStagingRace(fmt.Errorf("layer 4: %w", driver)) {
		t.Errorf("isStagingRace(%v) = false, want true", driver)
	}
	// The same race seen by parallel builds, while unpacking a RUN layer
	// into the staging root that recovery had just removed.
	unpack := errors.New("unpacking failed (error: exit status 1; output: mkdir /etc: no such file or directory)")
	if !isStagingRace(unpack) {
		t.Errorf("isStagingRace(%v) = false, want true", unpack)
	}
	// Unpacking into a staged layer's directory (staging/), in this
	// process's chrooted thread or on the way to it.
	for _, err := range []error{
		errors.New("unpacking failed: mkdir /etc: no such file or directory"),
		&os.PathError{Op: "mkdir", Path: "/home/u/.local/share/skiff/storage/overlay/staging/123/dir", Err: os.ErrNotExist},
		// Another process's prune held the new staging directory's lock
		// (seen committing a build step in CI).
		errors.New(`layer 2 (sha256:e6e3): failed to acquire lock on "/home/u/.local/share/skiff/storage/overlay/staging/1670569332/staging.lock": resource temporarily unavailable`),
	} {
		if !isStagingRace(err) {
			t.Errorf("isStagingRace(%v) = false, want true", err)
		}
	}
	for _, err := range []error{nil, os.ErrNotExist, errors.New("digest mismatch in /tmp/temp-dir-1"),
		errors.New(`failed to acquire lock on "/home/u/.local/share/skiff/storage/storage.lock": resource temporarily unavailable`),
		errors.New("unpacking failed (error: exit status 1; output: no space left on device)")} {
		if isStagingRace(err) {
			t.Errorf("isStagingRace(%v) = true, want false", err)
		}
	}
}
