package e2e

// User-defined networks (`skiff network create|ls|inspect|rm|prune|connect|
// disconnect`, `run --network NAME --network-alias A`), as the unprivileged
// user unless a test says otherwise, Docker's CLI as the contract.
//
// Conventions:
//   - every network gets a unique name (unNet) and a t.Cleanup `network rm`
//     registered before its containers' `rm -f`, so it runs after them;
//   - tests that pick a subnet take a fresh 10.B.N.0/24 from unSubnet (B is
//     random per test binary, at least 91, N counts up), so parallel tests
//     never overlap; the others use the default allocation and assume only
//     that it is some 10.89.N.0/24;
//   - reachability is checked with busybox `ping -c1` (its "PING name (ip)"
//     line tells whether a name resolved, apart from whether it answered)
//     and `wget` against busybox httpd, all bounded;
//   - the tests that prune or check the whole list are not parallel (see
//     network_user_cleanup_test.go); concurrent creates and joins are in
//     network_user_concurrent_test.go, root mode in network_user_root_test.go.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// unExecTimeout bounds every exec, ping and wget these tests run.
const unExecTimeout = 30 * time.Second

var networkIDRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// unNet returns a network name unique to this run: un-<what>-<hex>.
func unNet(what string) string { return "un-" + what + "-" + harness.UniqueSuffix() }

// unCtr returns a container name unique to this run.
func unCtr(what string) string { return lcName("un-" + what) }

var (
	unSubnetOnce sync.Once
	unSubnetB    int
	unSubnetN    atomic.Int32
)

// unSubnet returns a /24 no other test of this binary uses: its CIDR and
// the first three octets with a trailing dot ("10.123.4.").
func unSubnet(t testing.TB) (cidr, prefix string) {
	t.Helper()
	unSubnetOnce.Do(func() { unSubnetB = 91 + rand.IntN(160) })
	n := unSubnetN.Add(1) - 1
	if n > 255 {
		t.Fatalf("unSubnet: out of subnets")
	}
	prefix = fmt.Sprintf("10.%d.%d.", unSubnetB, n)
	return prefix + "0/24", prefix
}

// userNetJSON is the part of Docker's network inspect output the tests check.
type userNetJSON struct {
	Name     string
	Id       string
	Created  string
	Scope    string
	Driver   string
	Internal bool
	IPAM     struct {
		Driver string
		Config []struct {
			Subnet  string
			Gateway string
		}
	}
	Containers map[string]struct {
		Name        string
		IPv4Address string
		Aliases     []string
	}
	Labels map[string]string
}

// subnet is IPAM.Config[0].Subnet, or "".
func (n userNetJSON) subnet() string {
	if len(n.IPAM.Config) == 0 {
		return ""
	}
	return n.IPAM.Config[0].Subnet
}

// gateway is IPAM.Config[0].Gateway, or "".
func (n userNetJSON) gateway() string {
	if len(n.IPAM.Config) == 0 {
		return ""
	}
	return n.IPAM.Config[0].Gateway
}

// unCreate runs `network create FLAGS NAME` as u, checks it printed the
// 64-hex ID alone, registers `network rm` for the end of the test and
// returns the ID.
func unCreate(t *testing.T, u *harness.User, name string, flags ...string) string {
	t.Helper()
	unRmOnCleanup(t, u, name)
	args := append(append([]string{"network", "create"}, flags...), name)
	r := harness.RunAs(t, u, args...).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !networkIDRe.MatchString(id) || r.Stdout != id+"\n" {
		t.Fatalf("%s: stdout %q, want the 64-hex network ID and a newline\n%s", r.Cmdline(), r.Stdout, r.Output())
	}
	return id
}

// unRmOnCleanup removes the networks (as u) when the test ends.
func unRmOnCleanup(t *testing.T, u *harness.User, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, n := range names {
			r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 30 * time.Second}, "network", "rm", n)
			if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "not found") {
				t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
			}
		}
	})
}

// unInspectAs runs `network inspect NAME` as u and decodes the one element.
func unInspectAs(t testing.TB, u *harness.User, name string) userNetJSON {
	t.Helper()
	r := harness.RunAs(t, u, "network", "inspect", name).OK(t)
	var out []userNetJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%s: output is not a JSON array: %v\n%s", r.Cmdline(), err, r.Output())
	}
	if len(out) != 1 {
		t.Fatalf("%s: want 1 element, got %d\n%s", r.Cmdline(), len(out), r.Output())
	}
	return out[0]
}

func unInspect(t testing.TB, name string) userNetJSON {
	t.Helper()
	return unInspectAs(t, harness.E2E, name)
}

// unNetNames lists `network ls --format {{.Name}}`.
func unNetNames(t testing.TB, u *harness.User) []string {
	t.Helper()
	return harness.RunAs(t, u, "network", "ls", "--format", "{{.Name}}").OK(t).Lines()
}

// ctrEndpoint is one entry of a container's NetworkSettings.Networks.
type ctrEndpoint struct {
	NetworkID   string
	Aliases     []string
	IPAddress   string
	Gateway     string
	IPPrefixLen int
}

// ctrNetworks decodes NetworkSettings.Networks of a container's inspect.
func ctrNetworks(t testing.TB, u *harness.User, name string) map[string]ctrEndpoint {
	t.Helper()
	ins := inspectAs(t, u, name)
	out := map[string]ctrEndpoint{}
	if raw, ok := ins.NetworkSettings["Networks"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("inspect %s: NetworkSettings.Networks %s: %v", name, raw, err)
		}
	}
	return out
}

// unExecAs runs `exec CTR sh -c SCRIPT` as u, bounded.
func unExecAs(t testing.TB, u *harness.User, ctr, script string) *harness.Result {
	t.Helper()
	needRootless(t, u)
	return harness.RunAsWith(t, u, harness.RunOptions{Timeout: unExecTimeout}, "exec", ctr, "sh", "-c", script)
}

func unExec(t testing.TB, ctr, script string) *harness.Result {
	t.Helper()
	return unExecAs(t, harness.E2E, ctr, script)
}

var pingResolvedRe = regexp.MustCompile(`(?m)^PING (\S+) \(([0-9.]+)\)`)

// pingResult is what one `ping -c1` from a container showed.
type pingResult struct {
	resolved string // the address the name resolved to ("" when it did not)
	answered bool   // exit 0: a reply came back
	out      string // the command and its output, for messages
}

// pingAs runs `ping -c1 -W wait target` in ctr as u. A failed name lookup
// shows as resolved == "" (busybox: "ping: bad address 'x'").
func pingAs(t testing.TB, u *harness.User, ctr, target string, wait int) pingResult {
	t.Helper()
	r := unExecAs(t, u, ctr, fmt.Sprintf("ping -c1 -W%d %s 2>&1", wait, target))
	pr := pingResult{answered: r.ExitCode == 0, out: r.Cmdline() + "\n" + r.Output()}
	if m := pingResolvedRe.FindStringSubmatch(r.Stdout); m != nil {
		pr.resolved = m[2]
	}
	return pr
}

func ping(t testing.TB, ctr, target string, wait int) pingResult {
	t.Helper()
	return pingAs(t, harness.E2E, ctr, target, wait)
}

// hostsOf returns a container's /etc/hosts for messages.
func hostsOf(t testing.TB, u *harness.User, ctr string) string {
	t.Helper()
	return unExecAs(t, u, ctr, "cat /etc/hosts").Stdout
}

// wantPing fails unless ctr reaches target by ping (and, when wantIP is
// set, target resolved to it).
func wantPing(t testing.TB, u *harness.User, ctr, target, wantIP string) {
	t.Helper()
	p := pingAs(t, u, ctr, target, 3)
	if !p.answered {
		// Once more: on a loaded 2-core host a neighbour entry left FAILED
		// by an earlier, expected-to-fail ping can take a second probe.
		p = pingAs(t, u, ctr, target, 3)
	}
	if !p.answered || (wantIP != "" && target != wantIP && p.resolved != wantIP) {
		neigh := unExecAs(t, u, ctr, "ip neigh show").Stdout
		t.Errorf("from %s: ping %s: want a reply (from %s)\n%s\n/etc/hosts of %s:\n%s\nip neigh of %s:\n%s", ctr, target, wantIP, p.out, ctr, hostsOf(t, u, ctr), ctr, neigh)
	}
}

// wantNoName fails if name resolves in ctr.
func wantNoName(t testing.TB, ctr, name, why string) {
	t.Helper()
	p := ping(t, ctr, name, 1)
	if p.resolved != "" {
		t.Errorf("from %s: %s resolves to %s, want no such name (%s)\n%s\n/etc/hosts of %s:\n%s", ctr, name, p.resolved, why, p.out, ctr, hostsOf(t, harness.E2E, ctr))
	}
}

// ipOn returns the container's address on network net from its inspect.
func ipOn(t testing.TB, u *harness.User, ctr, net string) string {
	t.Helper()
	eps := ctrNetworks(t, u, ctr)
	ep, ok := eps[net]
	if !ok || ep.IPAddress == "" {
		t.Fatalf("inspect %s: NetworkSettings.Networks has no address on %s: %+v", ctr, net, eps)
	}
	return ep.IPAddress
}

// ctrInterfaces lists the interfaces a running container sees.
func ctrInterfaces(t testing.TB, ctr string) []string {
	t.Helper()
	return interfaces(unExec(t, ctr, "cat /proc/net/dev").OK(t).Stdout)
}

// httpdIdle serves content from /www on port 80 until SIGTERM.
func httpdIdle(content string) []string {
	return []string{"sh", "-c", "mkdir -p /www && echo " + content + " > /www/index.html && httpd -p 80 -h /www && " + idleScript}
}

// wgetFrom fetches url in ctr (bounded) and returns the result.
func wgetFrom(t testing.TB, ctr, url string) *harness.Result {
	t.Helper()
	return unExec(t, ctr, "timeout 10 wget -q -O - "+url)
}

// ---------------------------------------------------------------------------

// TestNetworkUserCreateInspectLs: create prints the ID; inspect shows what
// was asked (and the defaults); ls lists it next to the built-ins, with
// -q, --no-trunc, filters and --format; rm takes several.
func TestNetworkUserCreateInspectLs(t *testing.T) {
	parallel(t)
	needRootless(t, harness.E2E)
	subnet, prefix := unSubnet(t)
	gw := prefix + "254"
	n1, n2 := unNet("ls-a"), unNet("ls-b")
	id1 := unCreate(t, harness.E2E, n1, "--subnet", subnet, "--gateway", gw, "--label", "team=blue", "--label", "tier=db", "-d", "bridge")
	id2 := unCreate(t, harness.E2E, n2, "--internal")

	i1 := unInspect(t, n1)
	if i1.Name != n1 || i1.Id != id1 || i1.Driver != "bridge" || i1.Internal || i1.Scope != "local" {
		t.Errorf("network inspect %s: Name %q Id %q Driver %q Internal %v Scope %q, want %s %s bridge false local", n1, i1.Name, i1.Id, i1.Driver, i1.Internal, i1.Scope, n1, id1)
	}
	if i1.subnet() != subnet || i1.gateway() != gw {
		t.Errorf("network inspect %s: IPAM.Config %+v, want subnet %s gateway %s", n1, i1.IPAM.Config, subnet, gw)
	}
	if len(i1.Containers) != 0 {
		t.Errorf("network inspect %s: Containers %v, want none", n1, i1.Containers)
	}
	if !maps.Equal(i1.Labels, map[string]string{"team": "blue", "tier": "db"}) {
		t.Errorf("network inspect %s: Labels %v, want team=blue tier=db", n1, i1.Labels)
	}
	if _, err := time.Parse(time.RFC3339Nano, i1.Created); err != nil {
		t.Errorf("network inspect %s: Created %q is not an RFC 3339 time", n1, i1.Created)
	}

	// The default allocation: some free 10.89.N.0/24 with the gateway at .1.
	i2 := unInspect(t, n2)
	if !i2.Internal || i2.Id != id2 {
		t.Errorf("network inspect %s: Internal %v Id %q, want true %s", n2, i2.Internal, i2.Id, id2)
	}
	if m := regexp.MustCompile(`^10\.89\.(\d+)\.0/24$`).FindStringSubmatch(i2.subnet()); m == nil || i2.gateway() != "10.89."+m[1]+".1" {
		t.Errorf("network inspect %s: IPAM.Config %+v, want a 10.89.N.0/24 with gateway 10.89.N.1", n2, i2.IPAM.Config)
	}

	// inspect by ID and ID prefix, several at once, --format.
	if got := unInspect(t, id1[:12]); got.Name != n1 {
		t.Errorf("network inspect %s (ID prefix): Name %q, want %s", id1[:12], got.Name, n1)
	}
	r := skiff(t, "network", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Internal}}", n1, id2).OK(t)
	r.StdoutIs(t, fmt.Sprintf("%s bridge false\n%s bridge true\n", n1, n2))
	r = skiff(t, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", n1).OK(t)
	r.StdoutIs(t, subnet+" "+gw+"\n")

	// ls: Docker's columns, the built-ins, short IDs.
	tb := parseTable(t, skiff(t, "network", "ls").OK(t).Stdout)
	if !slices.Equal(tb.header, []string{"NETWORK ID", "NAME", "DRIVER", "SCOPE"}) {
		t.Errorf("network ls: header %q, want NETWORK ID, NAME, DRIVER, SCOPE", tb.header)
	}
	for _, b := range []string{"private", "host", "none"} {
		if tb.rowWith("NAME", b) == nil {
			t.Errorf("network ls: no built-in %s row: %v", b, tb.rows)
		}
	}
	for name, id := range map[string]string{n1: id1, n2: id2} {
		row := tb.rowWith("NAME", name)
		if row == nil {
			t.Errorf("network ls: no row for %s: %v", name, tb.rows)
			continue
		}
		if row["NETWORK ID"] != id[:12] || row["DRIVER"] != "bridge" || row["SCOPE"] != "local" {
			t.Errorf("network ls: row %v, want ID %s DRIVER bridge SCOPE local", row, id[:12])
		}
	}
	q := skiff(t, "network", "ls", "-q").OK(t).Lines()
	if !contains(q, id1[:12]) || !contains(q, id2[:12]) {
		t.Errorf("network ls -q: %v, want %s and %s among them", q, id1[:12], id2[:12])
	}
	for _, l := range q {
		if strings.ContainsAny(l, " \t") {
			t.Errorf("network ls -q: line %q is not a bare ID", l)
		}
	}
	q = skiff(t, "network", "ls", "-q", "--no-trunc").OK(t).Lines()
	if !contains(q, id1) || !contains(q, id2) {
		t.Errorf("network ls -q --no-trunc: %v, want the full IDs %s and %s", q, id1, id2)
	}
	if row := parseTable(t, skiff(t, "network", "ls", "--no-trunc").OK(t).Stdout).rowWith("NAME", n1); row == nil || row["NETWORK ID"] != id1 {
		t.Errorf("network ls --no-trunc: row %v, want the full ID %s", row, id1)
	}

	// Filters.
	filtered := func(args ...string) []string {
		t.Helper()
		a := append([]string{"network", "ls", "--format", "{{.Name}}"}, args...)
		return skiff(t, a...).OK(t).Lines()
	}
	if got := filtered("--filter", "name="+n1); !slices.Equal(got, []string{n1}) {
		t.Errorf("network ls --filter name=%s: %v, want [%s]", n1, got, n1)
	}
	if got := filtered("--filter", "id="+id2[:10]); !slices.Equal(got, []string{n2}) {
		t.Errorf("network ls --filter id=%s: %v, want [%s]", id2[:10], got, n2)
	}
	if got := filtered("--filter", "driver=bridge"); !contains(got, n1) || !contains(got, n2) || contains(got, "private") || contains(got, "host") || contains(got, "none") {
		t.Errorf("network ls --filter driver=bridge: %v, want %s and %s and no built-in", got, n1, n2)
	}
	if got := filtered("--filter", "label=team=blue"); !slices.Equal(got, []string{n1}) {
		t.Errorf("network ls --filter label=team=blue: %v, want [%s]", got, n1)
	}
	if got := filtered("--filter", "label=tier"); !slices.Equal(got, []string{n1}) {
		t.Errorf("network ls --filter label=tier: %v, want [%s]", got, n1)
	}
	if got := filtered("--filter", "label=team=red"); len(got) != 0 {
		t.Errorf("network ls --filter label=team=red: %v, want nothing", got)
	}
	if got := filtered("--filter", "name="+n1, "--filter", "driver=bridge"); !slices.Equal(got, []string{n1}) {
		t.Errorf("network ls --filter name=%s --filter driver=bridge: %v, want [%s]", n1, got, n1)
	}
	r = skiff(t, "network", "ls", "--filter", "name="+n1, "--format", "{{.ID}} {{.Name}} {{.Driver}}").OK(t)
	r.StdoutIs(t, fmt.Sprintf("%s %s bridge\n", id1[:12], n1))
	r = skiff(t, "network", "ls", "--filter", "name="+n2, "--format", "json").OK(t)
	var js map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &js); err != nil || js["Name"] != n2 {
		t.Errorf("network ls --format json: %q, want one JSON object with Name %s (%v)", r.Stdout, n2, err)
	}

	// rm takes several and prints each.
	skiff(t, "network", "rm", n1, id2[:12]).OK(t).StdoutIs(t, n1+"\n"+id2[:12]+"\n")
	left := unNetNames(t, harness.E2E)
	if contains(left, n1) || contains(left, n2) {
		t.Errorf("after network rm: ls still lists %v", left)
	}
	skiff(t, "network", "inspect", n1).ErrorLine(t, errExit, n1)
}

// TestNetworkUserNameResolution: containers on one network reach each
// other by IP, name and alias; /etc/hosts follows containers that come
// and go; inspect shows the endpoints.
func TestNetworkUserNameResolution(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	subnet, prefix := unSubnet(t)
	nw := unNet("res")
	nid := unCreate(t, harness.E2E, nw, "--subnet", subnet)
	web, client := unCtr("res-web"), unCtr("res-client")
	webID := runDetached(t, web, []string{"--network", nw, "--network-alias", "webalias", "--network-alias", "www2"}, httpdIdle("hello-from-web")...)
	clientID := runDetached(t, client, []string{"--network", nw}, idleCmd...)

	webIP, clientIP := ipOn(t, harness.E2E, web, nw), ipOn(t, harness.E2E, client, nw)
	for name, ip := range map[string]string{web: webIP, client: clientIP} {
		if !strings.HasPrefix(ip, prefix) || ip == prefix+"1" || ip == prefix+"0" || ip == prefix+"255" {
			t.Errorf("inspect %s: address %s on %s, want a host address of %s other than the gateway", name, ip, nw, subnet)
		}
	}
	if webIP == clientIP {
		t.Errorf("both containers got %s", webIP)
	}
	eps := ctrNetworks(t, harness.E2E, web)
	if ep := eps[nw]; ep.NetworkID != nid || ep.Gateway != prefix+"1" || ep.IPPrefixLen != 24 || !contains(ep.Aliases, "webalias") {
		t.Errorf("inspect %s: NetworkSettings.Networks[%s] = %+v, want NetworkID %s, Gateway %s1, IPPrefixLen 24, Aliases with webalias", web, nw, ep, nid, prefix)
	}
	// The container's own interface has that address.
	if out := unExec(t, web, "ip -o -4 addr show").OK(t).Stdout; !strings.Contains(out, webIP+"/24") {
		t.Errorf("exec %s ip addr: no %s/24\n%s", web, webIP, out)
	}

	// network inspect lists both, Docker's shape.
	ni := unInspect(t, nw)
	if len(ni.Containers) != 2 {
		t.Errorf("network inspect %s: Containers %+v, want %s and %s", nw, ni.Containers, web, client)
	}
	if e, ok := ni.Containers[webID]; !ok || e.Name != web || e.IPv4Address != webIP+"/24" || !contains(e.Aliases, "webalias") || !contains(e.Aliases, "www2") {
		t.Errorf("network inspect %s: Containers[%s] = %+v, want Name %s IPv4Address %s/24 Aliases with webalias and www2", nw, webID[:12], e, web, webIP)
	}
	if e, ok := ni.Containers[clientID]; !ok || e.Name != client || e.IPv4Address != clientIP+"/24" {
		t.Errorf("network inspect %s: Containers[%s] = %+v, want Name %s IPv4Address %s/24", nw, clientID[:12], e, client, clientIP)
	}

	// By IP, by name, by each alias; ping and HTTP.
	for _, target := range []string{webIP, web, "webalias", "www2"} {
		wantPing(t, harness.E2E, client, target, webIP)
		r := wgetFrom(t, client, "http://"+target+"/")
		if r.ExitCode != 0 || r.Stdout != "hello-from-web\n" {
			t.Errorf("from %s: wget http://%s/: want hello-from-web\n%s", client, target, r.Output())
		}
	}
	// The container started first resolves the one started after it, and
	// each resolves its own name.
	wantPing(t, harness.E2E, web, client, clientIP)
	wantPing(t, harness.E2E, web, web, webIP)

	// A third container, started later, is resolvable from both at once.
	late := unCtr("res-late")
	runDetached(t, late, []string{"--network", nw}, idleCmd...)
	lateIP := ipOn(t, harness.E2E, late, nw)
	wantPing(t, harness.E2E, web, late, lateIP)
	wantPing(t, harness.E2E, client, late, lateIP)
	wantPing(t, harness.E2E, late, "webalias", webIP)

	// Removed, it stops resolving everywhere.
	skiff(t, "rm", "-f", late).OK(t)
	wantNoName(t, web, late, "removed")
	wantNoName(t, client, late, "removed")
	if got := unInspect(t, nw).Containers; len(got) != 2 {
		t.Errorf("network inspect %s after rm -f %s: Containers %+v, want %s and %s only", nw, late, got, web, client)
	}

	// One that exits on its own (kill) leaves the others' hosts files.
	killed := unCtr("res-killed")
	runDetached(t, killed, []string{"--network", nw}, idleCmd...)
	if h := hostsOf(t, harness.E2E, client); !hostsHas(h, killed) {
		t.Errorf("%s started: not in /etc/hosts of %s\n%s", killed, client, h)
	}
	skiff(t, "kill", killed).OK(t)
	eventually(t, 10*time.Second, killed+" (killed) leaving /etc/hosts of "+client, func() (bool, string) {
		h := hostsOf(t, harness.E2E, client)
		return !hostsHas(h, killed), h
	})

	// A stopped container stops resolving too, and is back after start.
	skiff(t, "stop", client).OK(t)
	wantNoName(t, web, client, "stopped")
	if _, ok := unInspect(t, nw).Containers[clientID]; ok {
		t.Errorf("network inspect %s: stopped %s is still listed", nw, client)
	}
	skiff(t, "start", client).OK(t)
	if h := hostsOf(t, harness.E2E, web); !hostsHas(h, client) {
		t.Errorf("%s restarted: not in /etc/hosts of %s\n%s", client, web, h)
	}
	// The restarted one pings first: web's neighbour entry for client's
	// address is refreshed by its ARP request (TestNetworkUserAddressReuse
	// checks the other order).
	wantPing(t, harness.E2E, client, "webalias", webIP)
	wantPing(t, harness.E2E, web, client, "")

	// Renamed, it resolves by its new name, not the old one (as Docker's
	// DNS does); its aliases stay.
	renamed := web + "-new"
	rmOnCleanup(t, harness.E2E, renamed)
	skiff(t, "rename", web, renamed).OK(t)
	wantPing(t, harness.E2E, client, renamed, webIP)
	wantNoName(t, client, web, "renamed")
	wantPing(t, harness.E2E, client, "webalias", webIP)
	if e := unInspect(t, nw).Containers[webID]; e.Name != renamed {
		t.Errorf("network inspect %s after rename: Containers[%s].Name = %q, want %s", nw, webID[:12], e.Name, renamed)
	}
}

// hostsHas reports whether a hosts file maps name (outside comments).
func hostsHas(hosts, name string) bool {
	for _, l := range strings.Split(hosts, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if f := strings.Fields(l); len(f) > 1 && slices.Contains(f[1:], name) {
			return true
		}
	}
	return false
}

// TestNetworkUserIsolation: containers on different networks cannot reach
// each other by IP nor resolve each other's names.
func TestNetworkUserIsolation(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	sa, _ := unSubnet(t)
	sb, _ := unSubnet(t)
	na, nb := unNet("iso-a"), unNet("iso-b")
	unCreate(t, harness.E2E, na, "--subnet", sa)
	unCreate(t, harness.E2E, nb, "--subnet", sb)
	a1, a2, b1 := unCtr("iso-a1"), unCtr("iso-a2"), unCtr("iso-b1")
	runDetached(t, a1, []string{"--network", na}, idleCmd...)
	runDetached(t, a2, []string{"--network", na}, idleCmd...)
	runDetached(t, b1, []string{"--network", nb}, httpdIdle("hello-from-b1")...)
	a2IP, b1IP := ipOn(t, harness.E2E, a2, na), ipOn(t, harness.E2E, b1, nb)

	// Positive control: same network.
	wantPing(t, harness.E2E, a1, a2IP, "")
	// Across networks: no reply, no HTTP, no name.
	if p := ping(t, a1, b1IP, 2); p.answered {
		t.Errorf("from %s (on %s): ping %s of %s (on %s) answered, want the networks isolated\n%s", a1, na, b1IP, b1, nb, p.out)
	}
	if r := unExec(t, a1, "timeout 5 wget -q -O - http://"+b1IP+"/"); r.ExitCode == 0 || strings.Contains(r.Stdout, "hello") {
		t.Errorf("from %s: wget http://%s/ (%s on another network) succeeded\n%s", a1, b1IP, b1, r.Output())
	}
	wantNoName(t, a1, b1, "on another network")
	wantNoName(t, b1, a1, "on another network")
	if p := ping(t, b1, a2IP, 2); p.answered {
		t.Errorf("from %s (on %s): ping %s (on %s) answered\n%s", b1, nb, a2IP, na, p.out)
	}
}

// TestNetworkUserOutbound: a user network reaches the host's loopback
// through 10.0.2.2 as the default network does; an --internal one does
// not, but its containers still reach each other.
func TestNetworkUserOutbound(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello-from-host-loopback")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("http://%s:%d/", slirpGatewayAddr, port)
	img := busybox(t)

	nw, internal := unNet("out"), unNet("out-int")
	unCreate(t, harness.E2E, nw)
	unCreate(t, harness.E2E, internal, "--internal")

	skiffWith(t, harness.RunOptions{Timeout: unExecTimeout}, "run", "--rm", "--network", nw, img, "timeout", "20", "wget", "-q", "-O", "-", url).
		OK(t).StdoutIs(t, "hello-from-host-loopback")

	r := skiffWith(t, harness.RunOptions{Timeout: unExecTimeout}, "run", "--rm", "--network", internal, img, "timeout", "10", "wget", "-q", "-O", "-", url)
	if r.ExitCode == 0 || strings.Contains(r.Stdout, "hello") {
		t.Errorf("--internal network reached the host's loopback at %s\n%s", url, r.Output())
	}

	// Inside the internal network.
	i1, i2 := unCtr("out-i1"), unCtr("out-i2")
	runDetached(t, i1, []string{"--network", internal}, httpdIdle("hello-internal")...)
	runDetached(t, i2, []string{"--network", internal}, idleCmd...)
	if r := wgetFrom(t, i2, "http://"+i1+"/"); r.ExitCode != 0 || r.Stdout != "hello-internal\n" {
		t.Errorf("on --internal %s: wget http://%s/ from %s: want hello-internal\n%s", internal, i1, i2, r.Output())
	}
	wantPing(t, harness.E2E, i1, i2, "")
	if r := wgetFrom(t, i2, url); r.ExitCode == 0 || strings.Contains(r.Stdout, "hello") {
		t.Errorf("detached container on --internal %s reached %s\n%s", internal, url, r.Output())
	}
	// Its only interfaces are lo and the network's.
	if ifs := ctrInterfaces(t, i2); len(ifs) != 2 || !contains(ifs, "lo") || contains(ifs, "tap0") {
		t.Errorf("container on --internal %s: interfaces %v, want lo and one veth, no slirp4netns tap", internal, ifs)
	}
	// Connected to a network with outbound access, it has it at once (in
	// Docker the new network provides the default route).
	skiff(t, "network", "connect", nw, i2).OK(t)
	if r := wgetFrom(t, i2, url); r.ExitCode != 0 || r.Stdout != "hello-from-host-loopback" {
		t.Errorf("container on --internal %s, connected to %s (not internal): wget %s: want hello-from-host-loopback\n%s\nip route:\n%s", internal, nw, url, r.Output(), unExec(t, i2, "ip route").Stdout)
	}
	if r := wgetFrom(t, i2, "http://"+i1+"/"); r.ExitCode != 0 || r.Stdout != "hello-internal\n" {
		t.Errorf("after connecting %s to %s: wget http://%s/ on the internal network: want hello-internal\n%s", i2, nw, i1, r.Output())
	}
}

// slirpGatewayAddr is the host's loopback from a network with outbound access.
const slirpGatewayAddr = "10.0.2.2"

// TestNetworkUserPublish: -p works with a user network.
func TestNetworkUserPublish(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	nw := unNet("pub")
	unCreate(t, harness.E2E, nw)
	hp := freePort(t)
	web := unCtr("pub-web")
	runDetached(t, web, []string{"--network", nw, "-p", fmt.Sprintf("127.0.0.1:%d:80", hp)}, httpdIdle("hello-published")...)
	url := fmt.Sprintf("http://127.0.0.1:%d/", hp)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	eventually(t, 20*time.Second, "GET "+url, func() (bool, string) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b := make([]byte, 100)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode == 200 && string(b[:n]) == "hello-published\n", fmt.Sprintf("%s %q", resp.Status, b[:n])
	})
	if out := skiff(t, "port", web, "80").OK(t).Stdout; out != fmt.Sprintf("127.0.0.1:%d\n", hp) {
		t.Errorf("port %s 80 = %q, want 127.0.0.1:%d", web, out, hp)
	}
	// Its peers still reach it by name on the container port.
	peer := unCtr("pub-peer")
	runDetached(t, peer, []string{"--network", nw}, idleCmd...)
	if r := wgetFrom(t, peer, "http://"+web+"/"); r.ExitCode != 0 || r.Stdout != "hello-published\n" {
		t.Errorf("from %s: wget http://%s/: want hello-published\n%s", peer, web, r.Output())
	}
}

// TestNetworkUserConnectDisconnect: connect and disconnect on a running
// container act at once (interface, names both ways, inspect); on a
// stopped one they take effect at its next start.
func TestNetworkUserConnectDisconnect(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	sa, _ := unSubnet(t)
	sb, pb := unSubnet(t)
	na, nb := unNet("conn-a"), unNet("conn-b")
	unCreate(t, harness.E2E, na, "--subnet", sa)
	nbID := unCreate(t, harness.E2E, nb, "--subnet", sb)
	c1, c2 := unCtr("conn-1"), unCtr("conn-2")
	c1ID := runDetached(t, c1, []string{"--network", na}, idleCmd...)
	runDetached(t, c2, []string{"--network", nb}, httpdIdle("hello-from-c2")...)
	c2IP := ipOn(t, harness.E2E, c2, nb)
	before := ctrInterfaces(t, c1)
	wantNoName(t, c1, c2, "not connected yet")

	// connect --alias on the running c1.
	skiff(t, "network", "connect", "--alias", "c1alias", nb, c1).OK(t).StdoutIs(t, "")
	after := ctrInterfaces(t, c1)
	if len(after) != len(before)+1 {
		t.Errorf("after network connect: %s has interfaces %v, before %v: want one more", c1, after, before)
	}
	eps := ctrNetworks(t, harness.E2E, c1)
	c1IPb := eps[nb].IPAddress
	if _, onA := eps[na]; !onA || !strings.HasPrefix(c1IPb, pb) || eps[nb].NetworkID != nbID || !contains(eps[nb].Aliases, "c1alias") {
		t.Errorf("inspect %s after connect: Networks %+v, want %s and %s (address in %s, alias c1alias)", c1, eps, na, nb, sb)
	}
	if out := unExec(t, c1, "ip -o -4 addr show").OK(t).Stdout; c1IPb == "" || !strings.Contains(out, c1IPb+"/24") {
		t.Errorf("exec %s ip addr after connect: no %s/24\n%s", c1, c1IPb, out)
	}
	if e, ok := unInspect(t, nb).Containers[c1ID]; !ok || e.Name != c1 || !contains(e.Aliases, "c1alias") {
		t.Errorf("network inspect %s after connect: Containers[%s] = %+v, want %s with alias c1alias", nb, c1ID[:12], e, c1)
	}
	wantPing(t, harness.E2E, c1, c2, c2IP)
	if r := wgetFrom(t, c1, "http://"+c2+"/"); r.ExitCode != 0 || r.Stdout != "hello-from-c2\n" {
		t.Errorf("from %s after connect: wget http://%s/: want hello-from-c2\n%s", c1, c2, r.Output())
	}
	wantPing(t, harness.E2E, c2, c1, c1IPb)
	wantPing(t, harness.E2E, c2, "c1alias", c1IPb)

	// disconnect: the interface, the address and the names go.
	skiff(t, "network", "disconnect", nb, c1).OK(t).StdoutIs(t, "")
	if got := ctrInterfaces(t, c1); !slices.Equal(got, before) {
		t.Errorf("after network disconnect: %s has interfaces %v, want %v as before connect", c1, got, before)
	}
	if eps := ctrNetworks(t, harness.E2E, c1); len(eps) != 1 || eps[na].IPAddress == "" {
		t.Errorf("inspect %s after disconnect: Networks %+v, want only %s", c1, eps, na)
	}
	if _, ok := unInspect(t, nb).Containers[c1ID]; ok {
		t.Errorf("network inspect %s after disconnect: still lists %s", nb, c1)
	}
	wantNoName(t, c1, c2, "disconnected")
	wantNoName(t, c2, c1, "disconnected")
	wantNoName(t, c2, "c1alias", "disconnected")
	if p := ping(t, c2, c1IPb, 2); p.answered {
		t.Errorf("from %s: %s's old address %s still answers after disconnect\n%s", c2, c1, c1IPb, p.out)
	}
	// c1 is still on its first network.
	a2 := unCtr("conn-a2")
	runDetached(t, a2, []string{"--network", na}, idleCmd...)
	wantPing(t, harness.E2E, a2, c1, "")

	// A stopped container: connect takes effect at its next start.
	c3 := unCtr("conn-3")
	c3ID := createContainer(t, c3, []string{"--network", na}, idleCmd...)
	skiff(t, "network", "connect", "--alias", "c3alias", nb, c3).OK(t)
	if _, ok := ctrNetworks(t, harness.E2E, c3)[nb]; !ok {
		t.Errorf("inspect %s (created) after connect: Networks %+v, want %s among them", c3, ctrNetworks(t, harness.E2E, c3), nb)
	}
	skiff(t, "start", c3).OK(t)
	c3IPb := ipOn(t, harness.E2E, c3, nb)
	// c3 pings first: it may have got c1's old address on nb, which c2
	// still has a neighbour entry for (see TestNetworkUserAddressReuse).
	wantPing(t, harness.E2E, c3, c2, c2IP)
	wantPing(t, harness.E2E, c2, c3, c3IPb)
	wantPing(t, harness.E2E, c2, "c3alias", c3IPb)
	wantPing(t, harness.E2E, c3, a2, "") // still on its first network too
	wantPing(t, harness.E2E, a2, c3, "")
	if e, ok := unInspect(t, nb).Containers[c3ID]; !ok || e.Name != c3 {
		t.Errorf("network inspect %s after start: Containers[%s] = %+v, want %s", nb, c3ID[:12], e, c3)
	}

	// disconnect while stopped: off that network at the next start.
	skiff(t, "stop", c3).OK(t)
	skiff(t, "network", "disconnect", nb, c3).OK(t)
	skiff(t, "start", c3).OK(t)
	if _, ok := ctrNetworks(t, harness.E2E, c3)[nb]; ok {
		t.Errorf("inspect %s: still on %s after disconnect while stopped and start", c3, nb)
	}
	wantNoName(t, c2, c3, "disconnected while stopped")
	wantNoName(t, c3, c2, "disconnected while stopped")
	wantPing(t, harness.E2E, c3, a2, "")
	wantPing(t, harness.E2E, a2, c3, "")
}

// TestNetworkUserAddressReuse: a peer that talked to a container reaches it
// right after it restarts (same address), and reaches a new container that
// got a removed one's address, as in Docker (whose MAC addresses follow
// the IP). A new random MAC on the same address leaves the peers'
// neighbour entries pointing at the old one for half a minute.
func TestNetworkUserAddressReuse(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	subnet, _ := unSubnet(t)
	nw := unNet("reuse")
	unCreate(t, harness.E2E, nw, "--subnet", subnet)
	a, c, b := unCtr("reuse-a"), unCtr("reuse-c"), unCtr("reuse-b")
	runDetached(t, a, []string{"--network", nw}, idleCmd...)
	runDetached(t, c, []string{"--network", nw}, idleCmd...)
	runDetached(t, b, []string{"--network", nw}, idleCmd...)
	bIP := ipOn(t, harness.E2E, b, nw)
	macOf := func(ctr, ip string) string {
		t.Helper()
		out := unExec(t, ctr, "ip -o addr show | grep -F ' "+ip+"/' | cut -d' ' -f2 | xargs -r ip -o link show").Stdout
		if m := regexp.MustCompile(`link/ether (\S+)`).FindStringSubmatch(out); m != nil {
			return m[1]
		}
		return "?"
	}
	oldMAC := macOf(b, bIP)
	// a and c learn b's MAC.
	wantPing(t, harness.E2E, a, b, bIP)
	wantPing(t, harness.E2E, c, b, bIP)

	// Restart: same address.
	skiff(t, "stop", b).OK(t)
	skiff(t, "start", b).OK(t)
	if ip := ipOn(t, harness.E2E, b, nw); ip != bIP {
		t.Logf("%s came back with %s, not %s: the stale-neighbour case does not arise", b, ip, bIP)
	}
	if p := ping(t, a, b, 3); !p.answered {
		t.Errorf("from %s: ping %s right after it restarted: no reply (%s had MAC %s, now %s)\n%s\nip neigh of %s:\n%s",
			a, b, b, oldMAC, macOf(b, bIP), p.out, a, unExec(t, a, "ip neigh show").Stdout)
	}

	// Recreate: rm -f, and a new container takes the freed address.
	skiff(t, "rm", "-f", b).OK(t)
	b2 := unCtr("reuse-b2")
	runDetached(t, b2, []string{"--network", nw}, idleCmd...)
	if ip := ipOn(t, harness.E2E, b2, nw); ip != bIP {
		t.Logf("%s got %s, not the freed %s: the stale-neighbour case does not arise", b2, ip, bIP)
	}
	if p := ping(t, c, b2, 3); !p.answered {
		t.Errorf("from %s: ping %s (new, on %s's old address %s): no reply (old MAC %s, new %s)\n%s\nip neigh of %s:\n%s",
			c, b2, b, bIP, oldMAC, macOf(b2, bIP), p.out, c, unExec(t, c, "ip neigh show").Stdout)
	}
}

// TestNetworkUserRmInUse: rm refuses a network with connected containers
// and names them; after they go it succeeds.
func TestNetworkUserRmInUse(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	nw := unNet("inuse")
	id := unCreate(t, harness.E2E, nw)
	c1, c2 := unCtr("inuse-1"), unCtr("inuse-2")
	runDetached(t, c1, []string{"--network", nw}, idleCmd...)
	runDetached(t, c2, []string{"--network", nw}, idleCmd...)
	line := skiff(t, "network", "rm", nw).ErrorLine(t, errExit, nw, c1, c2)
	t.Logf("network rm in use: %s", line)
	if got := unInspect(t, nw); got.Id != id || len(got.Containers) != 2 {
		t.Errorf("after the refused rm: inspect Id %s, %d containers; want %s and 2", got.Id, len(got.Containers), id)
	}
	// The containers are unharmed.
	wantPing(t, harness.E2E, c1, c2, "")

	// rm of several: the one in use is refused, the free one removed.
	free := unNet("inuse-free")
	unCreate(t, harness.E2E, free)
	r := skiff(t, "network", "rm", free, nw)
	r.ErrorLine(t, errExit, nw)
	if r.Stdout != free+"\n" {
		t.Errorf("%s: stdout %q, want %q (the one removed)", r.Cmdline(), r.Stdout, free+"\n")
	}
	if names := unNetNames(t, harness.E2E); contains(names, free) || !contains(names, nw) {
		t.Errorf("after %s: ls %v, want %s gone and %s kept", r.Cmdline(), names, free, nw)
	}

	skiff(t, "rm", "-f", c1, c2).OK(t)
	if got := unInspect(t, nw).Containers; len(got) != 0 {
		t.Errorf("network inspect %s after rm -f of its containers: Containers %+v, want none", nw, got)
	}
	skiff(t, "network", "rm", nw).OK(t).StdoutIs(t, nw+"\n")
	if contains(unNetNames(t, harness.E2E), nw) {
		t.Errorf("network rm %s: still listed", nw)
	}
}

// unListed reports whether `ps -a` lists a container called name.
func unListed(t testing.TB, name string) bool {
	t.Helper()
	return contains(skiff(t, "ps", "-a", "--format", "{{.Names}}").OK(t).Lines(), name)
}

// TestNetworkUserErrors: every refusal exits 1 with one "Error: " line
// and changes nothing.
func TestNetworkUserErrors(t *testing.T) {
	parallel(t)
	needRootless(t, harness.E2E)
	subnet, prefix := unSubnet(t)
	existing := unNet("err-existing")
	exID := unCreate(t, harness.E2E, existing, "--subnet", subnet)

	for _, tc := range []struct {
		what  string
		args  []string // before the name; "" name means the args are complete
		name  string
		words []string
	}{
		{"duplicate name", []string{"network", "create"}, existing, []string{existing, "exists"}},
		{"reserved none", []string{"network", "create"}, "none", []string{"none"}},
		{"reserved host", []string{"network", "create"}, "host", []string{"host"}},
		{"reserved private", []string{"network", "create"}, "private", []string{"private"}},
		{"reserved bridge", []string{"network", "create"}, "bridge", []string{"bridge"}},
		{"bad name", []string{"network", "create"}, "bad/name", []string{"bad/name"}},
		{"subnet /33", []string{"network", "create", "--subnet", "10.0.0.0/33"}, unNet("err"), []string{"10.0.0.0/33"}},
		{"subnet nonsense", []string{"network", "create", "--subnet", "nonsense"}, unNet("err"), []string{"nonsense"}},
		{"overlapping subnet", []string{"network", "create", "--subnet", subnet}, unNet("err"), []string{"overlap"}},
		{"overlapping larger subnet", []string{"network", "create", "--subnet", prefix + "0/23"}, unNet("err"), []string{"overlap"}},
		{"gateway outside", []string{"network", "create", "--subnet", "10.250.251.0/24", "--gateway", "10.250.252.1"}, unNet("err"), []string{"10.250.252.1"}},
		{"gateway nonsense", []string{"network", "create", "--subnet", "10.250.251.0/24", "--gateway", "nonsense"}, unNet("err"), []string{"nonsense"}},
		{"unknown driver", []string{"network", "create", "-d", "overlay"}, unNet("err"), []string{"overlay"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			before := unNetNames(t, harness.E2E)
			if strings.HasPrefix(tc.name, "un-err-") && tc.name != existing {
				unRmOnCleanup(t, harness.E2E, tc.name) // if it was created after all
			}
			args := append(append([]string{}, tc.args...), tc.name)
			line := skiff(t, args...).ErrorLine(t, errExit, tc.words...)
			t.Logf("%s: %s", tc.what, line)
			after := unNetNames(t, harness.E2E)
			if tc.name != existing && !contains(before, tc.name) && contains(after, tc.name) {
				t.Errorf("%s: network %s was created", tc.what, tc.name)
			}
		})
	}
	if got := unInspect(t, existing); got.Id != exID || got.subnet() != subnet {
		t.Errorf("after the refused creates: %s has Id %s subnet %s, want %s %s", existing, got.Id, got.subnet(), exID, subnet)
	}

	skiff(t, "network", "ls", "--filter", "color=red").ErrorLine(t, errExit, "color")

	// Names that are not networks.
	nosuch := "nosuchnet-" + harness.UniqueSuffix()
	skiff(t, "network", "rm", nosuch).ErrorLine(t, errExit, nosuch)
	skiff(t, "network", "inspect", nosuch).ErrorLine(t, errExit, nosuch)
	img := busybox(t)
	for _, cmd := range []string{"run", "create"} {
		name := unCtr("err-nonet")
		rmOnCleanup(t, harness.E2E, name)
		args := []string{cmd, "--name", name, "--network", nosuch, img, "true"}
		if cmd == "run" {
			args = append([]string{"run", "--rm"}, args[1:]...)
		}
		// Docker: run exits 125, create 1 (the network is looked up when
		// the container is made).
		skiff(t, args...).ErrorLine(t, map[string]int{"create": errExit, "run": runExit}[cmd], nosuch)
		if unListed(t, name) {
			t.Errorf("%s --network %s: container %s was created", cmd, nosuch, name)
		}
		// --network-alias needs a user-defined network.
		for _, mode := range [][]string{nil, {"--network", "none"}} {
			name := unCtr("err-alias")
			rmOnCleanup(t, harness.E2E, name)
			args := append([]string{cmd, "--name", name, "--network-alias", "foo"}, mode...)
			args = append(args, img, "true")
			skiff(t, args...).ErrorLine(t, runExit, "alias")
			if unListed(t, name) {
				t.Errorf("%s --network-alias %v: container %s was created", cmd, mode, name)
			}
		}
	}

	// connect / disconnect refusals, on a running container.
	harness.Requires(t, "slirp4netns")
	other := unNet("err-other")
	unCreate(t, harness.E2E, other)
	c := unCtr("err-conn")
	id := runDetached(t, c, []string{"--network", existing}, idleCmd...)
	ifs := ctrInterfaces(t, c)
	skiff(t, "network", "connect", existing, c).ErrorLine(t, errExit, "already")
	skiff(t, "network", "connect", "--alias", "x", existing, c).ErrorLine(t, errExit, "already")
	skiff(t, "network", "disconnect", other, c).ErrorLine(t, errExit, "not connected")
	skiff(t, "network", "connect", nosuch, c).ErrorLine(t, errExit, nosuch)
	skiff(t, "network", "disconnect", nosuch, c).ErrorLine(t, errExit, nosuch)
	noctr := "no-such-ctr-" + harness.UniqueSuffix()
	skiff(t, "network", "connect", other, noctr).ErrorLine(t, errExit, noctr)
	if got := ctrInterfaces(t, c); !slices.Equal(got, ifs) {
		t.Errorf("after refused connects: %s has interfaces %v, want %v", c, got, ifs)
	}
	if eps := ctrNetworks(t, harness.E2E, c); len(eps) != 1 || eps[existing].IPAddress == "" {
		t.Errorf("after refused connects: inspect %s Networks %+v, want only %s", c, eps, existing)
	}
	if got := unInspect(t, existing).Containers; len(got) != 1 || got[id].Name != c {
		t.Errorf("after refused connects: network inspect %s Containers %+v, want only %s", existing, got, c)
	}
	if got := unInspect(t, other).Containers; len(got) != 0 {
		t.Errorf("after refused connects: network inspect %s Containers %+v, want none", other, got)
	}
	// A --network host container cannot join a network (Docker refuses too).
	hc := unCtr("err-host")
	runDetached(t, hc, []string{"--network", "host"}, idleCmd...)
	skiff(t, "network", "connect", other, hc).ErrorLine(t, errExit, "host")
	if got := unInspect(t, other).Containers; len(got) != 0 {
		t.Errorf("after connecting a --network host container: network inspect %s Containers %+v, want none", other, got)
	}
}

// unProcsOf lists host processes whose command line names the container
// (its full ID, or the ID prefix of its run directory).
func unProcsOf(id string) []string {
	var out []string
	for _, pid := range procByCmdline(func(args []string) bool {
		for _, a := range args {
			if strings.Contains(a, id) || strings.Contains(a, "/"+id[:20]) {
				return true
			}
		}
		return false
	}) {
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")))
	}
	return out
}
