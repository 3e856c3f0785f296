package e2e

// Docker's default sysctls (moby daemon/oci_linux.go, Docker 20.10+): a
// container with a network namespace of its own gets
// net.ipv4.ip_unprivileged_port_start=0, so its users other than root
// bind ports below 1024, and, when the engine is not in a user namespace
// (root here), net.ipv4.ping_group_range="0 2147483647". --network host
// and container: leave them as they are; --sysctl wins.

import (
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

const (
	portStartFile = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
	pingRangeFile = "/proc/sys/net/ipv4/ping_group_range"
)

// checkPort80 runs a container with flags that prints its
// ip_unprivileged_port_start, want, and, as uid 1000, binds port 80
// (busybox httpd binds before it goes to the background, and fails with
// the bind's error): bind is listening or refused. A user without
// subordinate ids has no uid 1000 to run as: it checks the value only.
func checkPort80(t *testing.T, u *harness.User, bb string, flags []string, want, bind string) {
	t.Helper()
	cmd := []string{"cat", portStartFile}
	if u != harness.NoSub {
		flags = append([]string{"-u", "1000"}, flags...)
		cmd = []string{"sh", "-c", "cat " + portStartFile + "; httpd -p 80 && echo listening || echo refused"}
		want += "\n" + bind
	}
	if out := isoRun(t, u, bb, flags, cmd...); out != want+"\n" {
		t.Errorf("run %s: %q, want ip_unprivileged_port_start %s and port 80 %s", strings.Join(flags, " "), out, want, bind)
	}
}

func TestIsolationDefaultSysctls(t *testing.T) {
	parallel(t)
	hostStart := hostFile(t, portStartFile)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		// Its own network namespace: the default network, a user-defined
		// one, none.
		net := lcName("iso-sysctl-net")
		harness.RunAs(t, u, "network", "create", net).OK(t)
		t.Cleanup(func() { harness.RunAs(t, u, "network", "rm", net) })
		for _, flags := range [][]string{nil, {"--network", net}, {"--network", "none"}} {
			checkPort80(t, u, bb, flags, "0", "listening")
		}
		// The user's value wins.
		checkPort80(t, u, bb, []string{"--sysctl", "net.ipv4.ip_unprivileged_port_start=1024"}, "1024", "refused")
		// The host's namespace is left alone (rootless, ping_group_range's
		// gids are not mapped: the kernel shows the overflow gid).
		host := isoRun(t, u, bb, []string{"--network", "host"}, "cat", portStartFile, pingRangeFile)
		if f := strings.Split(host, "\n"); f[0] != hostStart || u.IsRoot() && f[1] != hostFile(t, pingRangeFile) {
			t.Errorf("--network host: %q, want the host's values", host)
		}
		// ping_group_range: as root only (in a user namespace the kernel
		// refuses gids it cannot map, and Docker leaves it).
		ping := isoRun(t, u, bb, nil, "cat", pingRangeFile)
		if got := u.IsRoot(); got != (ping == "0\t2147483647\n") {
			t.Errorf("ping_group_range %q: want 0 2147483647 exactly when root", ping)
		}
		if out := isoRun(t, u, bb, []string{"--sysctl", "net.ipv4.ping_group_range=0 0"}, "cat", pingRangeFile); out != "0\t0\n" {
			t.Errorf("--sysctl net.ipv4.ping_group_range=0 0: %q", out)
		}
		// Not in the record: inspect shows the user's sysctls only, as Docker.
		name := lcName("iso-sysctl")
		harness.RunAs(t, u, "create", "--name", name, bb, "true").OK(t)
		t.Cleanup(func() { harness.RunAs(t, u, "rm", "-f", name) })
		if out := harness.RunAs(t, u, "inspect", "--format", "{{json .HostConfig.Sysctls}}", name).OK(t).Stdout; strings.Contains(out, "ip_unprivileged_port_start") {
			t.Errorf("inspect HostConfig.Sysctls %q: the defaults are not the user's", out)
		}
	})
}

// TestIsolationDefaultSysctlsShared: --network container:NAME shares the
// other container's namespace with its values; --userns keep-id gets the
// default only in a namespace of its own user namespace (--network none),
// not in the one skiff's network makes for it, where its root may not
// write sysctls.
func TestIsolationDefaultSysctlsShared(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		donor := lcName("iso-sysctl-donor")
		runDetachedAs(t, u, bb, donor, []string{"--sysctl", "net.ipv4.ip_unprivileged_port_start=500"}, idleCmd...)
		if out := isoRun(t, u, bb, []string{"--network", "container:" + donor}, "cat", portStartFile); out != "500\n" {
			t.Errorf("--network container:%s: %q, want the donor's 500", donor, out)
		}
		if u.IsRoot() || u == harness.NoSub {
			return // keep-id: rootless, with subordinate ids
		}
		if out := isoRun(t, u, bb, []string{"--userns", "keep-id", "--network", "none"}, "cat", portStartFile); out != "0\n" {
			t.Errorf("--userns keep-id --network none: %q, want 0", out)
		}
		if out := isoRun(t, u, bb, []string{"--userns", "keep-id"}, "cat", portStartFile); out != "1024\n" {
			t.Errorf("--userns keep-id: %q, want a fresh namespace's 1024", out)
		}
	})
}
