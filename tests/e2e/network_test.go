package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// interfaces parses /proc/net/dev content into sorted interface names.
func interfaces(procNetDev string) []string {
	var out []string
	for i, l := range strings.Split(procNetDev, "\n") {
		if i < 2 {
			continue
		}
		if name, _, ok := strings.Cut(l, ":"); ok {
			out = append(out, strings.TrimSpace(name))
		}
	}
	slices.Sort(out)
	return out
}

func TestNetworkNone(t *testing.T) {
	parallel(t)
	got := interfaces(runOut(t, []string{"--network", "none"}, "cat", "/proc/net/dev"))
	if !slices.Equal(got, []string{"lo"}) {
		t.Errorf("--network none: interfaces %v, want only lo", got)
	}
	// lo is up.
	out := runOut(t, []string{"--network", "none"}, "sh", "-c", "ip -o link show lo")
	if !strings.Contains(out, "UP") {
		t.Errorf("--network none: lo is not up: %q", out)
	}
}

func TestNetworkHost(t *testing.T) {
	parallel(t)
	host, err := os.ReadFile("/proc/net/dev")
	must(t, err)
	// Other tests' networks (skb-* bridges and their veths) come and go
	// meanwhile: compare the rest.
	settled := func(names []string) []string {
		return slices.DeleteFunc(names, func(n string) bool {
			return strings.HasPrefix(n, "skb-") || strings.HasPrefix(n, "veth") || strings.HasPrefix(n, "skv")
		})
	}
	want := settled(interfaces(string(host)))
	got := settled(interfaces(runOut(t, []string{"--network", "host"}, "cat", "/proc/net/dev")))
	if !slices.Equal(got, want) {
		t.Errorf("--network host: interfaces %v, want the host's %v", got, want)
	}
	// The host's network namespace itself.
	hostNS, err := os.Readlink("/proc/self/ns/net")
	must(t, err)
	if ns := strings.TrimSpace(runOut(t, []string{"--network", "host"}, "readlink", "/proc/self/ns/net")); ns != hostNS {
		t.Errorf("--network host: net namespace %s, host's %s", ns, hostNS)
	}
}

func TestNetworkDefaultReachesHostLoopback(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello-from-host-loopback")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	ifs := interfaces(runOut(t, nil, "cat", "/proc/net/dev"))
	if len(ifs) != 2 || !contains(ifs, "lo") {
		t.Errorf("default network: interfaces %v, want lo and one tap/eth interface", ifs)
	}
	// slirp4netns maps 10.0.2.2 to the host's loopback.
	url := fmt.Sprintf("http://10.0.2.2:%d/", port)
	// (busybox-static's wget -T crashes: bound it with timeout instead.)
	r := skiff(t, "run", "--rm", busybox(t), "timeout", "30", "wget", "-q", "-O", "-", url)
	r.OK(t).StdoutIs(t, "hello-from-host-loopback")

	// A private network namespace, not the host's.
	hostNS, err := os.Readlink("/proc/self/ns/net")
	must(t, err)
	if ns := strings.TrimSpace(runOut(t, nil, "readlink", "/proc/self/ns/net")); ns == hostNS {
		t.Errorf("the default network shares the host's namespace %s", ns)
	}
}
