package e2e

// network create's address and driver options and network connect's
// --ip, --ip6, --link and --driver-opt, as the user with subordinate ids
// and as root.

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestNetworkOptionsDualStack(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	eachUser(t, []*harness.User{harness.E2E, harness.Root}, func(t *testing.T, u *harness.User, bb string) {
		nw := unNet("opt")
		bridge := "skt" + harness.UniqueSuffix()[:8]
		unCreate(t, u, nw, "--ipv6", "--subnet", "fd00:5a:1::/64", "--subnet", "10.234.1.0/24", "--ip-range", "10.234.1.128/25",
			"--aux-address", "router=10.234.1.128", "-o", "com.docker.network.driver.mtu=1400",
			"-o", "com.docker.network.bridge.name="+bridge, "--attachable", "--ipam-driver", "default", "--scope", "local")
		var doc []struct {
			EnableIPv6 bool
			IPAM       struct {
				Config []struct {
					Subnet, Gateway, IPRange string
					AuxiliaryAddresses       map[string]string
				}
			}
			Options map[string]string
		}
		must(t, json.Unmarshal([]byte(harness.RunAs(t, u, "network", "inspect", nw).OK(t).Stdout), &doc))
		if len(doc) != 1 || !doc[0].EnableIPv6 || len(doc[0].IPAM.Config) != 2 || doc[0].IPAM.Config[0].IPRange != "10.234.1.128/25" ||
			doc[0].IPAM.Config[0].AuxiliaryAddresses["router"] != "10.234.1.128" || doc[0].IPAM.Config[1].Gateway != "fd00:5a:1::1" ||
			doc[0].Options["com.docker.network.driver.mtu"] != "1400" {
			t.Errorf("network inspect %s: %+v", nw, doc)
		}
		a := lcName("opt-a")
		runDetachedAs(t, u, bb, a, []string{"--network", nw}, idleCmd...)
		// The first address of the range but the auxiliary one, the first
		// IPv6 one after the gateway, the MTU.
		out := harness.RunAs(t, u, "exec", a, "sh", "-c", "ip addr show eth0; cat /sys/class/net/eth0/mtu").OK(t).Stdout
		for _, want := range []string{"inet 10.234.1.129/24", "inet6 fd00:5a:1::2/64", "\n1400\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("container on %s: no %q in\n%s", nw, want, out)
			}
		}
		out = isoRun(t, u, bb, []string{"--network", nw, "--ip6", "fd00:5a:1::99"}, "sh", "-c", "ip -6 addr show eth0 | grep -o 'fd00:5a:1::99/64'; ping -c1 -W5 fd00:5a:1::2 >/dev/null && echo reached")
		if out != "fd00:5a:1::99/64\nreached\n" {
			t.Errorf("--ip6 fd00:5a:1::99 and a ping to the other container: %q", out)
		}
		var eps map[string]struct {
			GlobalIPv6Address string
			IPv6Gateway       string
		}
		must(t, json.Unmarshal(inspectAs(t, u, a).NetworkSettings["Networks"], &eps))
		if e := eps[nw]; e.GlobalIPv6Address != "fd00:5a:1::2" || e.IPv6Gateway != "fd00:5a:1::1" {
			t.Errorf("inspect %s: IPv6 endpoint %+v", a, e)
		}
		if u.IsRoot() {
			if _, err := os.Stat("/sys/class/net/" + bridge); err != nil {
				t.Errorf("-o com.docker.network.bridge.name=%s: no such bridge on the host: %v", bridge, err)
			}
		}
		isoRefused(t, u, bb, []string{"--network", nw, "--ip", "10.234.1.128"}, "already in use")
		isoRefused(t, u, bb, []string{"--network", nw, "--ip6", "fd00:5a:2::1"}, "fd00:5a:1::/64")
	})
}

func TestNetworkOptionsConnect(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	eachUser(t, []*harness.User{harness.E2E, harness.Root}, func(t *testing.T, u *harness.User, bb string) {
		n1, n2 := unNet("conn1"), unNet("conn2")
		unCreate(t, u, n1, "--subnet", "10.234.2.0/24")
		unCreate(t, u, n2, "--ipv6", "--subnet", "10.234.3.0/24", "--subnet", "fd00:5a:3::/64")
		db, app := lcName("conn-db"), lcName("conn-app")
		runDetachedAs(t, u, bb, db, []string{"--network", n1}, idleCmd...)
		harness.RunAs(t, u, "network", "connect", "--ip", "10.234.3.40", "--ip6", "fd00:5a:3::40", n2, db).OK(t)
		out := harness.RunAs(t, u, "exec", db, "ip", "addr").OK(t).Stdout
		if !strings.Contains(out, "inet 10.234.3.40/24") || !strings.Contains(out, "inet6 fd00:5a:3::40/64") {
			t.Errorf("network connect --ip --ip6: addresses in\n%s", out)
		}
		// --link on a container created but not started: its alias from
		// its first start.
		rmOnCleanup(t, u, app)
		harness.RunAs(t, u, "create", "--name", app, "--network", n1, bb, "sh", "-c", "grep dbalias /etc/hosts").OK(t)
		harness.RunAs(t, u, "network", "connect", "--link", db+":dbalias", n2, app).OK(t)
		if out := harness.RunAs(t, u, "start", "-a", app).OK(t).Stdout; !strings.Contains(out, "dbalias") {
			t.Errorf("network connect --link %s:dbalias: /etc/hosts %q", db, out)
		}
		// A container on n2 only, refused on n1.
		x := lcName("conn-x")
		rmOnCleanup(t, u, x)
		harness.RunAs(t, u, "create", "--name", x, "--network", n2, bb, "true").OK(t)
		harness.RunAs(t, u, "network", "connect", "--driver-opt", "x=y", n1, x).LastErrorLine(t, errExit, "--driver-opt")
		harness.RunAs(t, u, "network", "connect", "--ip", "10.234.9.9", n1, x).LastErrorLine(t, errExit, "10.234.2.0/24")
		harness.RunAs(t, u, "network", "connect", "--ip6", "fd00:5a:3::77", n1, x).LastErrorLine(t, errExit, "IPv6")
	})
}

func TestNetworkOptionsRefused(t *testing.T) {
	parallel(t)
	for _, tc := range []struct {
		args  []string
		words []string
	}{
		{[]string{"--ipv4=false"}, []string{"--ipv4"}},
		{[]string{"--config-only"}, []string{"--config-only"}},
		{[]string{"--config-from", "other"}, []string{"--config-from"}},
		{[]string{"--scope", "swarm"}, []string{"swarm"}},
		{[]string{"--ipam-driver", "dhcp"}, []string{"dhcp"}},
		{[]string{"--ipam-opt", "a=b"}, []string{"--ipam-opt"}},
		{[]string{"-o", "com.example.x=1"}, []string{"com.example.x"}},
		{[]string{"-o", "com.docker.network.driver.mtu=9"}, []string{"mtu"}},
		{[]string{"--subnet", "10.234.4.0/24", "--subnet", "10.234.5.0/24"}, []string{"one IPv4"}},
		{[]string{"--subnet", "fd00:5a:4::/64"}, []string{"--ipv6"}},
		{[]string{"--subnet", "10.234.4.0/24", "--ip-range", "10.234.6.0/25"}, []string{"10.234.6.0/25"}},
		{[]string{"--subnet", "10.234.4.0/24", "--aux-address", "x=10.234.7.1"}, []string{"x=10.234.7.1"}},
		{[]string{"--aux-address", "x=10.234.7.1"}, []string{"--subnet"}},
	} {
		name := unNet("refused")
		unRmOnCleanup(t, harness.E2E, name)
		args := append(append([]string{"network", "create"}, tc.args...), name)
		skiff(t, args...).ErrorLine(t, errExit, tc.words...)
		if contains(unNetNames(t, harness.E2E), name) {
			t.Errorf("network create %s: the network was created", strings.Join(tc.args, " "))
		}
	}
}
