package e2e

// User-defined networks in root mode: the same code as rootless.

import (
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestNetworkUserRoot(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	bb := pulled(t, harness.Root, "busybox")
	nw := unNet("root")
	id := unCreate(t, harness.Root, nw)
	a, b := unCtr("root-a"), unCtr("root-b")
	runDetachedAs(t, harness.Root, bb, a, []string{"--network", nw}, idleCmd...)
	runDetachedAs(t, harness.Root, bb, b, []string{"--network", nw, "--network-alias", "rootalias"}, httpdIdle("hello-root")...)
	bIP := ipOn(t, harness.Root, b, nw)
	if ni := unInspectAs(t, harness.Root, nw); ni.Id != id || len(ni.Containers) != 2 {
		t.Errorf("root: network inspect %s: Id %s, Containers %+v; want %s and 2 containers", nw, ni.Id, ni.Containers, id)
	}
	wantPing(t, harness.Root, a, b, bIP)
	wantPing(t, harness.Root, a, "rootalias", bIP)
	wantPing(t, harness.Root, b, a, "")
	if r := unExecAs(t, harness.Root, a, "timeout 10 wget -q -O - http://"+b+"/"); r.ExitCode != 0 || r.Stdout != "hello-root\n" {
		t.Errorf("root: from %s: wget http://%s/: want hello-root\n%s", a, b, r.Output())
	}
	// The rootless user does not see root's network.
	needRootless(t, harness.E2E)
	if contains(unNetNames(t, harness.E2E), nw) {
		t.Errorf("root's network %s shows in the rootless user's network ls", nw)
	}

	harness.RunAsRoot(t, "rm", "-f", a, b).OK(t)
	harness.RunAsRoot(t, "network", "rm", nw).OK(t).StdoutIs(t, nw+"\n")
	if contains(unNetNames(t, harness.Root), nw) {
		t.Errorf("root: network rm %s: still listed", nw)
	}
}
