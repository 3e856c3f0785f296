package e2e

// --network container:NAME, as the unprivileged user, Docker's behaviour as
// the contract: the second container joins the first's network namespace
// (same interfaces, its servers on 127.0.0.1, its /etc/hosts and
// resolv.conf), and the options that would change that namespace or its
// files conflict with it.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestNetworkContainerJoin(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	first := lcName("netc-first")
	id := runDetached(t, first, []string{"--add-host", "joined:10.4.5.6", "--dns-search", "joined.example"},
		"sh", "-c", "mkdir -p /www && echo from-first > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && trap 'exit 0' TERM; sleep 300 & wait")
	waitStatus(t, harness.E2E, first, "running", 10*time.Second)
	firstNS := strings.TrimSpace(skiff(t, "exec", first, "readlink", "/proc/self/ns/net").OK(t).Stdout)
	firstDev := interfaces(skiff(t, "exec", first, "cat", "/proc/net/dev").OK(t).Stdout)
	firstHostname := strings.TrimSpace(skiff(t, "exec", first, "hostname").OK(t).Stdout)

	for _, ref := range []string{first, id, id[:12]} {
		// The joined container reaches the first's loopback-only httpd.
		script := "readlink /proc/self/ns/net; cat /proc/net/dev; echo ===; " +
			"for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.2; done; echo ===; hostname; echo ===; cat /etc/hosts; echo ===; cat /etc/resolv.conf"
		out := runOut(t, []string{"--network", "container:" + ref}, "sh", "-c", script)
		parts := strings.Split(out, "===\n")
		if len(parts) != 5 {
			t.Fatalf("--network container:%s: unexpected output\n%s", ref, out)
		}
		ns, dev, _ := strings.Cut(parts[0], "\n")
		if ns != firstNS {
			t.Errorf("--network container:%s: net namespace %s, the first container's is %s", ref, ns, firstNS)
		}
		if got := interfaces(dev); !slices.Equal(got, firstDev) {
			t.Errorf("--network container:%s: interfaces %v, the first container's are %v", ref, got, firstDev)
		}
		if parts[1] != "from-first\n" {
			t.Errorf("--network container:%s: GET 127.0.0.1:8080 = %q, want the first container's httpd (from-first)", ref, parts[1])
		}
		if h := strings.TrimSpace(parts[2]); h != firstHostname {
			t.Errorf("--network container:%s: hostname %q, the first container's is %q (Docker shares it)", ref, h, firstHostname)
		}
		if !slices.Contains(hostsEntries(parts[3])["joined"], "10.4.5.6") {
			t.Errorf("--network container:%s: /etc/hosts lacks the first container's --add-host joined:10.4.5.6\n%s", ref, parts[3])
		}
		if !slices.Contains(parseResolvConf(parts[4]).search, "joined.example") {
			t.Errorf("--network container:%s: resolv.conf lacks the first container's search joined.example\n%s", ref, parts[4])
		}
	}

	// A detached joined container: inspect names the mode, exec sees the
	// same namespace.
	second := lcName("netc-second")
	runDetached(t, second, []string{"--network", "container:" + first}, idleCmd...)
	ins, _ := inspectNet(t, second)
	if m := ins.HostConfig.NetworkMode; m != "container:"+id && m != "container:"+first {
		t.Errorf("inspect HostConfig.NetworkMode %q, want container:%s (or the name)", m, id)
	}
	if ns := strings.TrimSpace(skiff(t, "exec", second, "readlink", "/proc/self/ns/net").OK(t).Stdout); ns != firstNS {
		t.Errorf("exec in the joined container: net namespace %s, the first's is %s", ns, firstNS)
	}
	if out := skiff(t, "port", second).OK(t).Stdout; out != "" {
		t.Errorf("port %s = %q, want nothing", second, out)
	}
}

// TestNetworkContainerErrors: joining what cannot be joined, or asking for
// what the joined namespace decides, exits 125 (run's status) with one
// "Error: " line and leaves no running container.
func TestNetworkContainerErrors(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	img := busybox(t)
	target := lcName("netc-target")
	runDetached(t, target, nil, idleCmd...)
	created := lcName("netc-created")
	createContainer(t, created, nil, idleCmd...)
	hp := netPort(t)

	for _, tc := range []struct {
		what  string
		flags []string
		words []string
	}{
		{"unknown container", []string{"--network", "container:no-such-ctr-" + harness.UniqueSuffix()}, []string{"no-such-ctr-"}},
		{"empty name", []string{"--network", "container:"}, []string{"container"}},
		{"target not running", []string{"--network", "container:" + created}, []string{created, "running"}},
		// Docker: "conflicting options: port publishing and the container type network mode".
		{"-p", []string{"--network", "container:" + target, "-p", fmt.Sprintf("%d:8080", hp)}, []string{"conflicting|conflict"}},
		{"-P", []string{"--network", "container:" + target, "-P"}, []string{"conflicting|conflict"}},
		// Docker: "conflicting options: hostname and the network mode".
		{"--hostname", []string{"--network", "container:" + target, "--hostname", "other"}, []string{"hostname"}},
		// Docker: "conflicting options: dns and the network mode".
		{"--dns", []string{"--network", "container:" + target, "--dns", "1.2.3.4"}, []string{"dns"}},
		// Docker: "conflicting options: custom host-to-IP mapping and the network mode".
		{"--add-host", []string{"--network", "container:" + target, "--add-host", "foo:1.2.3.4"}, []string{"host"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			name := lcName("netc-bad")
			rmOnCleanup(t, harness.E2E, name)
			args := append([]string{"run", "-d", "--name", name}, tc.flags...)
			args = append(args, img, "sleep", "300")
			r := skiff(t, args...)
			line := r.ErrorLine(t, runExit, tc.words...)
			t.Logf("%s: %s", strings.Join(tc.flags, " "), line)
			if psRunning(t, name) {
				t.Errorf("%s: container %s is running", strings.Join(tc.flags, " "), name)
			}
		})
	}
	if err := portFree(hp, "tcp"); err != nil {
		t.Errorf("host port %d of the refused -p is bound: %v", hp, err)
	}
}
