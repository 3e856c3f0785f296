package e2e

// As root, published ports keep the client's address (iptables DNAT to
// the container's bridge address, as Docker); 127.0.0.1 still goes
// through the supervisor's relay; the rules go with the container.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// hostAddress is the host's own IPv4 address on its default route.
func hostAddress(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "route", "get", "1.1.1.1").Output()
	if err != nil {
		t.Skipf("the host has no IPv4 default route to reach its own non-loopback address through (ip route get: %v)", err)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "src" && net.ParseIP(f[i+1]) != nil && !net.ParseIP(f[i+1]).IsLoopback() {
			return f[i+1]
		}
	}
	t.Skipf("the host has no non-loopback IPv4 address (ip route get 1.1.1.1: %s)", strings.TrimSpace(string(out)))
	return ""
}

// rulesNaming is iptables-save's lines (with counters) naming container id.
func rulesNaming(t *testing.T, id string) []string {
	t.Helper()
	out, err := exec.Command("iptables-save", "-c").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, id) {
			lines = append(lines, l)
		}
	}
	return lines
}

func wantNoRules(t *testing.T, id, after string) {
	t.Helper()
	if left := rulesNaming(t, id); len(left) > 0 {
		t.Errorf("after %s: iptables rules still name container %s:\n%s", after, id[:12], strings.Join(left, "\n"))
	}
}

// peerScript serves on 8080 a CGI printing the client's address and
// echoes UDP datagrams on 8081.
const peerScript = `mkdir -p /www/cgi-bin
printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' > /www/cgi-bin/addr
chmod +x /www/cgi-bin/addr
httpd -p 8080 -h /www
exec /h/netecho 8081`

// TestPublishRootKeepsClientAddress: as root a client connecting to the
// host's address is seen by the container with its own address, not the
// container's or the bridge gateway's; 127.0.0.1 still answers; UDP is
// forwarded too; stop, rm -f, rm -f after a killed supervisor and network
// disconnect leave no rule naming the container.
func TestPublishRootKeepsClientAddress(t *testing.T) {
	parallel(t)
	host := hostAddress(t)
	if _, err := exec.LookPath("iptables-save"); err != nil {
		t.Skip("iptables-save is not installed: root networks need Debian's iptables package")
	}
	bb := pulled(t, harness.Root, "busybox")
	dir := netEchoDir(t)
	hp, up := netPort(t), netPort(t)
	name := lcName("dnat")
	id := runDetachedAs(t, harness.Root, bb, name, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("%d:8080", hp), "-p", fmt.Sprintf("%d:8081/udp", up)}, "sh", "-c", peerScript)
	ctrIP := ipOn(t, harness.Root, name, "bridge")

	byHost := fmt.Sprintf("http://%s:%d/cgi-bin/addr", host, hp)
	waitPeer := func(when string) {
		t.Helper()
		eventually(t, 20*time.Second, "GET "+byHost+" "+when, func() (bool, string) {
			body, err := portGet(byHost)
			return err == nil && peerAddress(body) == host, fmt.Sprintf("%q, %v (want %s, the client's address; the container is %s)", body, err, host, ctrIP)
		})
	}
	waitPeer("after run")
	if lines := rulesNaming(t, id); len(lines) < 4 {
		t.Errorf("want DNAT and FORWARD rules for tcp and udp naming %s, found:\n%s", id[:12], strings.Join(lines, "\n"))
	}
	// 127.0.0.1 cannot be DNATed: the relay serves it.
	if body, err := portGet(fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/addr", hp)); err != nil || peerAddress(body) != ctrIP {
		t.Errorf("GET through 127.0.0.1:%d: %q, %v; want an answer from the relay, from the container's own address %s", hp, body, err, ctrIP)
	}
	udpThroughDNAT(t, id, host, up)
	flow := fmt.Sprintf("src=%s dst=%s sport=8081 ", ctrIP, host) // the reply direction of the UDP client's flow
	if !strings.Contains(procText(t, "/proc/net/nf_conntrack"), flow) {
		t.Errorf("no connection tracking entry %q for the forwarded UDP client:\n%s", flow, procText(t, "/proc/net/nf_conntrack"))
	}

	// stop, then start: the rules go (and the forwarded flows: a client
	// that keeps sending must not reach a later holder of the address)
	// and come back.
	harness.RunAsRoot(t, "stop", "-t", "2", name).OK(t)
	wantNoRules(t, id, "stop")
	if ct := procText(t, "/proc/net/nf_conntrack"); strings.Contains(ct, flow) {
		t.Errorf("after stop the UDP flow to %s is still tracked (%q):\n%s", ctrIP, flow, ct)
	}
	harness.RunAsRoot(t, "start", name).OK(t)
	waitPeer("after stop and start")
	harness.RunAsRoot(t, "rm", "-f", name).OK(t)
	wantNoRules(t, id, "rm -f")

	// A rule left for the port by a container whose records were wiped
	// is replaced, not put first; then a supervisor killed: its rules go
	// with rm -f.
	fake := strings.Repeat("0e", 32)
	stale := []string{"-w", "-t", "nat", "-I", "SKIFF-DNAT", "-p", "tcp", "--dport", fmt.Sprint(hp), "-m", "comment", "--comment", "skiff:" + fake, "-j", "DNAT", "--to-destination", "10.88.255.254:8080"}
	if out, err := exec.Command("iptables", stale...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %s: %v\n%s", strings.Join(stale, " "), err, out)
	}
	t.Cleanup(func() { stale[3] = "-D"; _ = exec.Command("iptables", stale...).Run() })
	name2 := lcName("dnat-kill")
	id2 := runDetachedAs(t, harness.Root, bb, name2, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", peerScript)
	waitPeer("for a second container, with a stale rule for its port")
	wantNoRules(t, fake, "a container took the port of a stale rule")
	sup := supervisorPIDs(id2)
	if len(sup) != 1 {
		t.Fatalf("want one supervisor of %s, found %v", id2[:12], sup)
	}
	must(t, syscall.Kill(sup[0], syscall.SIGKILL))
	eventually(t, 10*time.Second, "the supervisor gone", func() (bool, string) {
		return !harness.ProcessAlive(sup[0]), fmt.Sprint(sup[0])
	})
	harness.RunAsRoot(t, "rm", "-f", name2).OK(t)
	wantNoRules(t, id2, "a killed supervisor and rm -f")

	// Leaving the network takes its rules too.
	name3 := lcName("dnat-disc")
	id3 := runDetachedAs(t, harness.Root, bb, name3, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", peerScript)
	waitPeer("for a third container")
	harness.RunAsRoot(t, "network", "disconnect", "bridge", name3).OK(t)
	wantNoRules(t, id3, "network disconnect")
}

// peerAddress is the address busybox httpd's CGI saw ("[::ffff:IP]" on
// its dual-stack socket) as plain IPv4.
func peerAddress(body string) string {
	a := strings.Trim(strings.TrimSpace(body), "[]")
	return strings.TrimPrefix(a, "::ffff:")
}

// udpThroughDNAT sends a datagram to the host's address and wants the
// echo, carried by the container's UDP DNAT rule (its counter moves).
func udpThroughDNAT(t *testing.T, id, host string, port int) {
	t.Helper()
	c, err := net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(port)))
	must(t, err)
	defer c.Close()
	buf := make([]byte, 512)
	got := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got == ""; {
		if _, err := c.Write([]byte("ping")); err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "echo:ping" {
		t.Fatalf("UDP to %s:%d: answer %q, want echo:ping", host, port, got)
	}
	for _, l := range rulesNaming(t, id) {
		if strings.Contains(l, "-p udp") && strings.Contains(l, "DNAT") && !strings.HasPrefix(l, "[0:") {
			return
		}
	}
	t.Errorf("the UDP datagram to %s:%d did not go through the container's DNAT rule:\n%s", host, port, strings.Join(rulesNaming(t, id), "\n"))
}

func procText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("cannot read %s to see tracked connections: %v", path, err)
	}
	return string(b)
}
