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
	for _, err := range []error{nil, os.ErrNotExist, errors.New("digest mismatch in /tmp/temp-dir-1")} {
		if isStagingRace(err) {
			t.Errorf("isStagingRace(%v) = true, want false", err)
		}
	}
}
