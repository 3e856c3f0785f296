package crash

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// As root, port forwarding rules naming a container that no network
// holds (a network record deleted, a crash between the two) are reported
// by system check and removed by --repair: a later container given that
// address must not receive the ports.
func TestSystemCheckRemovesOrphanForwardingRoot(t *testing.T) {
	harness.Need(t)
	if _, err := exec.LookPath("iptables-save"); err != nil {
		t.Skip("iptables is not installed: root networks need Debian's iptables package")
	}
	u := harness.Root
	bb := harness.Images["busybox"].Ref
	harness.RunAs(t, u, "pull", "-q", bb).OK(t)
	// A bridge and the forwarding chain exist once a container ran with a port.
	harness.RunAs(t, u, "run", "--rm", "-p", "0:80", bb, "true").OK(t)
	fake := strings.Repeat("0f", 32)
	tag := "skiff:" + fake
	rule := []string{"-t", "nat", "-A", "SKIFF-DNAT", "-p", "tcp", "--dport", "9", "-m", "comment", "--comment", tag, "-j", "DNAT", "--to-destination", "10.88.255.254:9"}
	if out, err := exec.Command("iptables", append([]string{"-w"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %s: %v\n%s", strings.Join(rule, " "), err, out)
	}
	t.Cleanup(func() { rule[2] = "-D"; _ = exec.Command("iptables", append([]string{"-w"}, rule...)...).Run() })

	r := harness.RunAs(t, u, "system", "check", "--quick")
	if r.ExitCode != 1 || !strings.Contains(r.Stdout, fake[:12]) || !strings.Contains(r.Stdout, "iptables") {
		t.Fatalf("system check with a rule naming container %s that no network holds: want it named and exit 1\n%s", fake[:12], r.Output())
	}
	r = harness.RunAs(t, u, "system", "check", "--repair", "--force", "--quick")
	if !strings.Contains(r.Stdout, fake[:12]) || !strings.Contains(r.Stdout, "repaired") {
		t.Errorf("system check --repair: want the rules of %s removed\n%s", fake[:12], r.Output())
	}
	out, err := exec.Command("iptables-save").Output()
	must(t, err)
	if strings.Contains(string(out), tag) {
		t.Errorf("after system check --repair a rule still names %s:\n%s", fake[:12], out)
	}
}
