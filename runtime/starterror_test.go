package runtime

import (
	"errors"
	"strings"
	"testing"
)

// A full kernel key quota says what it is and how to raise it, and keeps
// libcontainer's words.
func TestStartErrorKeyQuota(t *testing.T) {
	lc := errors.New("unable to start container process: error during container init: unable to join session keyring: unable to create session key: disk quota exceeded")
	msg := startError("sleep", lc).Error()
	for _, want := range []string{"key quota of this user is full", "kernel.keys.maxkeys=", "sysctl -w kernel.keys.maxkeys=", "unable to create session key: disk quota exceeded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("startError: %q\nlacks %q", msg, want)
		}
	}
	if other := startError("sleep", errors.New("disk quota exceeded")).Error(); strings.Contains(other, "key quota") {
		t.Errorf("a quota error without a session key got the key hint: %q", other)
	}
}
