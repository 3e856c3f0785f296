package e2e

// --dns, --dns-search, --dns-option (the container's /etc/resolv.conf) and
// --add-host (its /etc/hosts), as the unprivileged user, Docker's
// behaviour as the contract. Nothing here sends a DNS query: the files are
// read, and names from /etc/hosts are used to reach a server on the host's
// loopback through the default network's gateway (10.0.2.2).

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// slirpGateway is the host's loopback as the default private network sees it.
const slirpGateway = "10.0.2.2"

// resolvConf is the parsed content of a resolv.conf.
type resolvConf struct {
	nameservers, search, options []string
}

func parseResolvConf(s string) resolvConf {
	var rc resolvConf
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.nameservers = append(rc.nameservers, f[1])
		case "search", "domain":
			rc.search = append(rc.search, f[1:]...)
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc
}

// hostsEntries maps each name in a hosts file to the addresses it has, in order.
func hostsEntries(s string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(s, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		for _, name := range f[1:] {
			m[name] = append(m[name], f[0])
		}
	}
	return m
}

func TestNetworkDNSOptions(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	flags := []string{
		"--dns", "1.2.3.4", "--dns", "5.6.7.8",
		"--dns-search", "example.com", "--dns-search", "corp.example",
		"--dns-option", "ndots:2", "--dns-option", "timeout:3",
	}
	out := runOut(t, flags, "cat", "/etc/resolv.conf")
	rc := parseResolvConf(out)
	if !slices.Equal(rc.nameservers, []string{"1.2.3.4", "5.6.7.8"}) {
		t.Errorf("resolv.conf nameservers %v, want exactly [1.2.3.4 5.6.7.8] in order\n%s", rc.nameservers, out)
	}
	if !slices.Equal(rc.search, []string{"example.com", "corp.example"}) {
		t.Errorf("resolv.conf search %v, want [example.com corp.example]\n%s", rc.search, out)
	}
	if !slices.Contains(rc.options, "ndots:2") || !slices.Contains(rc.options, "timeout:3") {
		t.Errorf("resolv.conf options %v, want ndots:2 and timeout:3\n%s", rc.options, out)
	}

	// inspect keeps them in HostConfig.
	name := lcName("dns-inspect")
	createContainer(t, name, flags, "true")
	ins, _ := inspectNet(t, name)
	if !slices.Equal(ins.HostConfig.Dns, []string{"1.2.3.4", "5.6.7.8"}) ||
		!slices.Equal(ins.HostConfig.DnsSearch, []string{"example.com", "corp.example"}) ||
		!slices.Equal(ins.HostConfig.DnsOptions, []string{"ndots:2", "timeout:3"}) {
		t.Errorf("inspect HostConfig Dns %v DnsSearch %v DnsOptions %v, want the flags' values", ins.HostConfig.Dns, ins.HostConfig.DnsSearch, ins.HostConfig.DnsOptions)
	}
}

// TestNetworkDNSSearchOnly: --dns-search (or --dns-option) alone keeps the
// default nameservers.
func TestNetworkDNSSearchOnly(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	def := parseResolvConf(runOut(t, nil, "cat", "/etc/resolv.conf"))
	if len(def.nameservers) == 0 {
		t.Errorf("default network: resolv.conf has no nameserver")
	}
	out := runOut(t, []string{"--dns-search", "example.com"}, "cat", "/etc/resolv.conf")
	rc := parseResolvConf(out)
	if !slices.Equal(rc.search, []string{"example.com"}) {
		t.Errorf("--dns-search example.com: search %v\n%s", rc.search, out)
	}
	if !slices.Equal(rc.nameservers, def.nameservers) {
		t.Errorf("--dns-search alone: nameservers %v, want the default ones %v\n%s", rc.nameservers, def.nameservers, out)
	}
	out = runOut(t, []string{"--dns-option", "ndots:5"}, "cat", "/etc/resolv.conf")
	rc = parseResolvConf(out)
	if !slices.Contains(rc.options, "ndots:5") || !slices.Equal(rc.nameservers, def.nameservers) {
		t.Errorf("--dns-option ndots:5 alone: options %v nameservers %v (default %v)\n%s", rc.options, rc.nameservers, def.nameservers, out)
	}
}

func TestNetworkAddHost(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	flags := []string{
		"--add-host", "foo:10.1.2.3",
		"--add-host", "gw:host-gateway",
		"--add-host", "bar=10.9.8.7", // Docker 25's name=ip
		"--add-host", "v6host:::1",
		"--add-host", "foo2:10.1.2.4",
	}
	out := runOut(t, flags, "cat", "/etc/hosts")
	h := hostsEntries(out)
	for name, want := range map[string]string{
		"foo": "10.1.2.3", "gw": slirpGateway, "bar": "10.9.8.7", "v6host": "::1", "foo2": "10.1.2.4",
		"host.containers.internal": slirpGateway, "host.docker.internal": slirpGateway,
		"localhost": "127.0.0.1",
	} {
		if !slices.Contains(h[name], want) {
			t.Errorf("/etc/hosts: %s has %v, want %s\n%s", name, h[name], want, out)
		}
	}
	// host.containers.internal is there without --add-host too.
	out = runOut(t, nil, "cat", "/etc/hosts")
	h = hostsEntries(out)
	for _, name := range []string{"host.containers.internal", "host.docker.internal"} {
		if !slices.Equal(h[name], []string{slirpGateway}) {
			t.Errorf("default /etc/hosts: %s has %v, want [%s]\n%s", name, h[name], slirpGateway, out)
		}
	}
	name := lcName("addhost-inspect")
	createContainer(t, name, flags[:4], "true")
	if ins, _ := inspectNet(t, name); !slices.Equal(ins.HostConfig.ExtraHosts, []string{"foo:10.1.2.3", "gw:host-gateway"}) {
		t.Errorf("inspect HostConfig.ExtraHosts %v, want [foo:10.1.2.3 gw:host-gateway]", ins.HostConfig.ExtraHosts)
	}
}

// TestNetworkHostNamesReachHost: names that /etc/hosts maps to the gateway
// reach a server on the host's loopback.
func TestNetworkHostNamesReachHost(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello-"+r.Host)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"gw", "host.containers.internal", "host.docker.internal"} {
		url := fmt.Sprintf("http://%s:%d/", host, port)
		r := skiff(t, "run", "--rm", "--add-host", "gw:host-gateway", busybox(t), "timeout", "30", "wget", "-q", "-O", "-", url)
		r.OK(t).StdoutIs(t, fmt.Sprintf("hello-%s:%d", host, port))
	}
}

// TestNetworkDNSBadValues: malformed --dns / --add-host values exit 125 with
// one "Error: " line, and nothing is created.
func TestNetworkDNSBadValues(t *testing.T) {
	parallel(t)
	img := busybox(t)
	for _, tc := range []struct {
		flag, value, word string
	}{
		{"--add-host", "foo", "foo"},
		{"--add-host", "foo:notanip", "notanip"},
		{"--add-host", ":1.2.3.4", "1.2.3.4"},
		{"--add-host", "foo:", "foo"},
		{"--add-host", "foo:1.2.3.400", "1.2.3.400"},
		{"--dns", "notanip", "notanip"},
		{"--dns", "1.2.3", "1.2.3"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range []string{"run", "create"} {
				name := lcName("dns-bad")
				rmOnCleanup(t, harness.E2E, name)
				args := []string{cmd, "--name", name, tc.flag, tc.value, img, "true"}
				if cmd == "run" {
					args = append([]string{"run", "--rm"}, args[1:]...)
				}
				line := skiff(t, args...).ErrorLine(t, runExit, tc.word)
				t.Logf("%s %s %q: %s", cmd, tc.flag, tc.value, line)
				if psListed(t, name) {
					t.Errorf("%s %s %q: container %s was created", cmd, tc.flag, tc.value, name)
				}
			}
		})
	}
}
