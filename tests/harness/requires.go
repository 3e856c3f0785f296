package harness

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// probes maps each feature a test can require to a check of the host that
// returns "" when the feature is there, or the reason it is not.
var probes = map[string]func() string{
	// slirp4netns networking: the binary and a usable /dev/net/tun.
	"slirp4netns": func() string {
		if _, err := os.Stat("/usr/bin/slirp4netns"); err != nil {
			return "slirp4netns is not installed (Debian package slirp4netns)"
		}
		return tunUsable()
	},
	// pasta networking.
	"pasta": func() string {
		if _, err := os.Stat("/usr/bin/pasta"); err != nil {
			return "pasta is not installed (Debian package passt)"
		}
		return tunUsable()
	},
	// An unprivileged user can create a user namespace.
	"unprivileged-userns": func() string {
		if E2E == nil {
			return "the test user was not set up"
		}
		cmd := exec.Command("/usr/bin/unshare", "--user", "--map-root-user", "/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(E2E.UID), Gid: uint32(E2E.GID)}}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Sprintf("an unprivileged user cannot create a user namespace (%v: %s); check kernel.unprivileged_userns_clone and user.max_user_namespaces", err, strings.TrimSpace(string(out)))
		}
		return ""
	},
	// The kernel filters system calls with seccomp.
	"seccomp": func() string {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil || !strings.Contains(string(data), "\nSeccomp:") {
			return "the kernel has no seccomp support (no Seccomp: in /proc/self/status)"
		}
		return ""
	},
	// The host is amd64 (multi-arch tests expect to resolve to amd64).
	"amd64": func() string {
		if runtime.GOARCH != "amd64" {
			return "the host is " + runtime.GOARCH + ", not amd64"
		}
		return ""
	},
	// Pseudo-terminals can be allocated.
	"pty": func() string {
		f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
		if err != nil {
			return "cannot open /dev/ptmx: " + err.Error()
		}
		f.Close()
		return ""
	},
	// Unprivileged users can run newuidmap/newgidmap (setuid root or file caps).
	"newuidmap": func() string {
		for _, p := range []string{"/usr/bin/newuidmap", "/usr/bin/newgidmap"} {
			fi, err := os.Stat(p)
			if err != nil {
				return p + " is missing (Debian package uidmap)"
			}
			if fi.Mode()&os.ModeSetuid == 0 {
				if out, err := exec.Command("/usr/sbin/getcap", p).Output(); err != nil || !strings.Contains(string(out), "cap_set") {
					return p + " is neither setuid nor has file capabilities"
				}
			}
		}
		return ""
	},
}

var (
	probeMu      sync.Mutex
	probeResults = map[string]string{}
)

// Requires skips t, with the reason, unless the host has feature. Each
// feature is probed once per test binary. An unknown feature fails the test.
func Requires(t testing.TB, feature string) {
	t.Helper()
	skipIfUnavailable(t)
	probe, ok := probes[feature]
	if !ok {
		t.Fatalf("harness.Requires: unknown feature %q", feature)
	}
	probeMu.Lock()
	reason, done := probeResults[feature]
	if !done {
		reason = probe()
		probeResults[feature] = reason
	}
	probeMu.Unlock()
	if reason != "" {
		t.Skipf("requires %s: %s", feature, reason)
	}
}

func tunUsable() string {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return "cannot open /dev/net/tun: " + err.Error()
	}
	f.Close()
	return ""
}
