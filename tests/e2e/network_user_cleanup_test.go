package e2e

// User-defined networks: the default subnet allocation, prune, and the
// state left after everything is removed. These tests look at (and prune)
// every network of the user, so they are not parallel: Go runs them before
// any parallel test's body starts, when no other test has networks.

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

var builtinNetworkIDs = []string{"host", "none", "private"}

// allNetworkIDs lists `network ls -q --no-trunc`, sorted.
func allNetworkIDs(t testing.TB) []string {
	t.Helper()
	ids := skiff(t, "network", "ls", "-q", "--no-trunc").OK(t).Lines()
	slices.Sort(ids)
	return ids
}

// usedSubnets returns the subnets of every user network now.
func usedSubnets(t testing.TB) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	for _, name := range unNetNames(t, harness.E2E) {
		if contains(builtinNetworkIDs, name) {
			continue
		}
		if _, c, err := net.ParseCIDR(unInspect(t, name).subnet()); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// firstFree89 is the first 10.89.N.0/24 that overlaps none of used.
func firstFree89(t testing.TB, used []*net.IPNet) int {
	t.Helper()
	for i := 0; i < 256; i++ {
		_, c, _ := net.ParseCIDR(fmt.Sprintf("10.89.%d.0/24", i))
		free := true
		for _, u := range used {
			if u.Contains(c.IP) || c.Contains(u.IP) {
				free = false
			}
		}
		if free {
			return i
		}
	}
	t.Fatalf("no free 10.89.N.0/24 left")
	return -1
}

// TestNetworkUserDefaultSubnets: without --subnet a network gets the first
// free 10.89.N.0/24 (gateway .1), skipping subnets given explicitly and
// reusing freed ones.
func TestNetworkUserDefaultSubnets(t *testing.T) {
	harness.Need(t)
	needRootless(t, harness.E2E)
	want := func(name string, n int) {
		t.Helper()
		ni := unInspect(t, name)
		if s, g := fmt.Sprintf("10.89.%d.0/24", n), fmt.Sprintf("10.89.%d.1", n); ni.subnet() != s || ni.gateway() != g {
			t.Errorf("network %s: subnet %s gateway %s, want the first free one %s with gateway %s", name, ni.subnet(), ni.gateway(), s, g)
		}
	}
	d1, d2, ex, d3, d4 := unNet("def-1"), unNet("def-2"), unNet("def-explicit"), unNet("def-3"), unNet("def-4")
	k1 := firstFree89(t, usedSubnets(t))
	unCreate(t, harness.E2E, d1)
	want(d1, k1)
	k2 := firstFree89(t, usedSubnets(t))
	unCreate(t, harness.E2E, d2)
	want(d2, k2)
	// An explicit subnet where the next default would go is skipped.
	k3 := firstFree89(t, usedSubnets(t))
	unCreate(t, harness.E2E, ex, "--subnet", fmt.Sprintf("10.89.%d.0/24", k3))
	k4 := firstFree89(t, usedSubnets(t))
	if k4 == k3 {
		t.Fatalf("firstFree89 did not skip 10.89.%d.0/24", k3)
	}
	unCreate(t, harness.E2E, d3)
	want(d3, k4)
	// A freed subnet is the first free again.
	skiff(t, "network", "rm", d1).OK(t)
	unCreate(t, harness.E2E, d4)
	want(d4, k1)
	skiff(t, "network", "rm", d2, ex, d3, d4).OK(t).StdoutIs(t, strings.Join([]string{d2, ex, d3, d4}, "\n")+"\n")
}

// TestNetworkUserPruneAndCleanup: prune removes only networks no container
// uses (running, created or exited); after rm -f of every container and
// network rm, only the built-in networks are listed and no process of
// those containers is left.
func TestNetworkUserPruneAndCleanup(t *testing.T) {
	harness.Need(t)
	harness.Requires(t, "slirp4netns")
	needRootless(t, harness.E2E)
	baseline := allNetworkIDs(t)
	if !slices.Equal(baseline, builtinNetworkIDs) {
		t.Logf("before this test, network ls -q --no-trunc lists %v, not only the built-ins %v; comparing against that", baseline, builtinNetworkIDs)
	}
	hostIfsBefore := hostInterfaces(t)

	unused, running, created, exited := unNet("prune-unused"), unNet("prune-running"), unNet("prune-created"), unNet("prune-exited")
	for _, n := range []string{unused, running, created, exited} {
		unCreate(t, harness.E2E, n)
	}
	cr, cc, ce, peer := unCtr("prune-r"), unCtr("prune-c"), unCtr("prune-e"), unCtr("prune-peer")
	marker := markerSleep()
	idR := runDetached(t, cr, []string{"--network", running}, "sh", "-c", "trap 'exit 0' TERM; sleep "+marker+" & wait")
	idP := runDetached(t, peer, []string{"--network", running}, idleCmd...)
	idC := createContainer(t, cc, []string{"--network", created}, "true")
	idE := runDetached(t, ce, []string{"--network", exited}, "true")
	waitStatus(t, harness.E2E, ce, "exited", 20*time.Second)
	wantPing(t, harness.E2E, peer, cr, "")

	// Without -f it asks; "n" keeps everything.
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("n\n")}, "network", "prune").OK(t)
	if names := unNetNames(t, harness.E2E); !contains(names, unused) {
		t.Errorf("network prune answered n: %s was removed (ls: %v)", unused, names)
	}

	r := skiff(t, "network", "prune", "-f").OK(t)
	lines := r.Lines()
	if len(lines) < 2 || lines[0] != "Deleted Networks:" || !contains(lines, unused) {
		t.Errorf("%s: stdout %q, want \"Deleted Networks:\" then %s", r.Cmdline(), r.Stdout, unused)
	}
	names := unNetNames(t, harness.E2E)
	for _, n := range []string{running, created, exited} {
		if contains(lines, n) || !contains(names, n) {
			t.Errorf("network prune -f removed %s, which a container uses (output %q, ls %v)", n, r.Stdout, names)
		}
	}
	if contains(names, unused) {
		t.Errorf("network prune -f: unused %s is still listed", unused)
	}
	// Nothing left to prune: nothing printed (as Docker).
	skiff(t, "network", "prune", "-f").OK(t).StdoutIs(t, "")
	// The running containers did not notice.
	wantPing(t, harness.E2E, peer, cr, "")

	// Remove everything.
	skiff(t, "rm", "-f", cr, cc, ce, peer).OK(t)
	for _, n := range []string{running, created, exited} {
		if got := unInspect(t, n).Containers; len(got) != 0 {
			t.Errorf("network inspect %s after rm -f of every container: Containers %+v, want none", n, got)
		}
	}
	skiff(t, "network", "rm", running, created, exited).OK(t).StdoutIs(t, running+"\n"+created+"\n"+exited+"\n")
	if got := allNetworkIDs(t); !slices.Equal(got, baseline) {
		t.Errorf("after removing every container and network: network ls -q --no-trunc = %v, want %v", got, baseline)
	}
	if got := skiff(t, "network", "ls", "--format", "{{.Name}}").OK(t).Lines(); len(got) != len(baseline) {
		t.Errorf("after removing everything: network ls names %v, want %d (the built-ins)", got, len(baseline))
	}

	// No process of those containers remains: supervisors, slirp4netns,
	// the containers' own processes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for _, id := range []string{idR, idP, idC, idE} {
			left = append(left, unProcsOf(id)...)
			for _, pid := range supervisorPIDs(id) {
				left = append(left, fmt.Sprintf("%d: supervisor of %s", pid, id[:12]))
			}
		}
		for _, pid := range sleepPIDs(marker) {
			left = append(left, fmt.Sprintf("%d: sleep %s (the container's process)", pid, marker))
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("5 s after rm -f, processes of the removed containers remain:\n  %s\nall processes of %s:\n%s", strings.Join(left, "\n  "), harness.E2E.Name, userProcesses(harness.E2E))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Nothing leaked into the host's network namespace.
	if got := hostInterfaces(t); !slices.Equal(got, hostIfsBefore) {
		t.Errorf("host interfaces changed: %v, before %v", got, hostIfsBefore)
	}
}

// hostInterfaces lists the host's interfaces whose names skiff's bridges
// and veths use (skb*, skv*, skp*).
func hostInterfaces(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/dev")
	must(t, err)
	var out []string
	for _, i := range interfaces(string(data)) {
		if strings.HasPrefix(i, "skb") || strings.HasPrefix(i, "skv") || strings.HasPrefix(i, "skp") {
			out = append(out, i)
		}
	}
	return out
}
