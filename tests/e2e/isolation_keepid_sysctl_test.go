package e2e

import (
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// --userns keep-id runs the container in a user namespace of its own,
// nested in the user's; the network namespace skiff makes for it belongs
// to the outer one, so the container's root cannot write net.* sysctls
// there: refused up front, in one line, instead of failing at start.
func TestIsolationKeepIDNetSysctl(t *testing.T) {
	parallel(t)
	u := harness.E2E
	needRootless(t, u)
	bb := busybox(t)
	net := lcName("kisnet")
	skiff(t, "network", "create", net).OK(t)
	t.Cleanup(func() { skiff(t, "network", "rm", "-f", net) })
	for _, network := range []string{"", net} {
		args := []string{"--userns", "keep-id", "--sysctl", "net.ipv4.ip_forward=1"}
		if network != "" {
			args = append(args, "--network", network)
		}
		isoRefused(t, u, bb, args, "net.ipv4.ip_forward", "keep-id")
	}
	// With no network namespace of skiff's making there is nothing to refuse.
	out := skiff(t, "run", "--rm", "--userns", "keep-id", "--network", "none", "--sysctl", "net.ipv4.ip_forward=1", bb, "cat", "/proc/sys/net/ipv4/ip_forward").OK(t).Stdout
	if out != "1\n" {
		t.Errorf("keep-id, --network none, --sysctl net.ipv4.ip_forward=1: %q", out)
	}
}
