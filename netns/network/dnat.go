package network

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/skiff-project/skiff/errdefs"
	skiffnetns "github.com/skiff-project/skiff/netns"
)

// As root, published ports keep the client's address, as Docker's do:
// the nat table sends connections to the host's ports straight to the
// container's address on its bridge (DNAT), so the server sees the
// client's address; the supervisor's relay still holds each port and
// serves what DNAT cannot reach: connections to 127.0.0.1 (and IPv6,
// and containers reaching a published port through the host). Each rule
// carries a comment naming its container; the rules go when the
// container leaves the network (Detach: its stop, removal, or the
// clean-up of a container whose supervisor was killed), before its
// address can go to another container.

// dnatChain is jumped to from PREROUTING and OUTPUT for packets to the
// host's own addresses; each bridge returns from it first (its
// containers reach published ports through the relay, as before).
const dnatChain = "SKIFF-DNAT"

func ruleTag(id string) string { return "skiff:" + id }

// dnatChainRules are the jumps to dnatChain, as iptables arguments.
var dnatChainRules = [][]string{
	{"-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", dnatChain},
	{"-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", dnatChain},
}

// ensureDNATChain makes dnatChain and its jumps, once.
func ensureDNATChain() error {
	if iptables("-t", "nat", "-n", "-L", dnatChain) != nil {
		if err := iptables("-t", "nat", "-N", dnatChain); err != nil {
			return err
		}
	}
	for _, r := range dnatChainRules {
		if err := ensureRule(r); err != nil {
			return err
		}
	}
	return nil
}

// ensureRule adds rule r (with -A or -I) unless it is there.
func ensureRule(r []string) error {
	if iptables(withVerb(r, "-C")...) == nil {
		return nil
	}
	return iptables(r...)
}

// withVerb is rule r with its -A or -I replaced by verb.
func withVerb(r []string, verb string) []string {
	out := append([]string(nil), r...)
	for i, a := range out {
		if a == "-A" || a == "-I" {
			out[i] = verb
			break
		}
	}
	return out
}

// dnatBatch is the iptables-restore input that forwards pm's bindings to
// ip on n's bridge for container id; "" when no binding can be (only
// IPv4 host addresses other than loopback can).
func dnatBatch(n *Network, ip, id string, pm skiffnetns.PortMap) string {
	br := bridgeName(n)
	tag := strconv.Quote(ruleTag(id))
	var nat, filter strings.Builder
	for _, key := range pm.Keys() {
		port, proto, _ := strings.Cut(key, "/")
		if proto != "tcp" && proto != "udp" {
			continue
		}
		made := nat.Len()
		for _, b := range pm[key] {
			dst, ok := dnatDestination(b.HostIP)
			if !ok || b.HostPort == "" {
				continue
			}
			fmt.Fprintf(&nat, "-A %s ! -i %s%s -p %s -m %s --dport %s -m comment --comment %s -j DNAT --to-destination %s:%s\n",
				dnatChain, br, dst, proto, proto, b.HostPort, tag, ip, port)
		}
		if nat.Len() > made {
			fmt.Fprintf(&filter, "-A %s -d %s/32 ! -i %s -o %s -p %s -m %s --dport %s -m comment --comment %s -j ACCEPT\n",
				chain, ip, br, br, proto, proto, port, tag)
		}
	}
	if nat.Len() == 0 {
		return ""
	}
	return "*nat\n" + nat.String() + "COMMIT\n*filter\n" + filter.String() + "COMMIT\n"
}

// dnatDestination is the -d match for a binding's host address, and
// whether DNAT can serve it.
func dnatDestination(hostIP string) (string, bool) {
	if hostIP == "" || hostIP == "0.0.0.0" {
		return "", true
	}
	ip := net.ParseIP(hostIP)
	if ip == nil || ip.To4() == nil || ip.IsLoopback() {
		return "", false
	}
	return " -d " + ip.String() + "/32", true
}

func restore(batch string) error { return startRestore(batch)() }

// startRestore starts iptables-restore on batch; the returned func waits
// for it.
func startRestore(batch string) func() error {
	path, err := exec.LookPath("iptables-restore")
	if err != nil {
		return failed(fmt.Errorf("published ports as root need iptables-restore: install Debian's iptables package: %w", errdefs.ErrUnavailable))
	}
	var out bytes.Buffer
	cmd := exec.Command(path, "-w", "--noflush")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(batch), &out, &out
	if err := cmd.Start(); err != nil {
		return failed(fmt.Errorf("iptables-restore: %w", err))
	}
	return func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("iptables-restore: %s: %w", strings.TrimSpace(out.String()), err)
		}
		return nil
	}
}

func failed(err error) func() error { return func() error { return err } }

// Forward has the host send connections to container id's published
// ports (pm: the bindings made) straight to its address on network ref,
// so that its servers see the clients' addresses (root only; not for an
// internal network). The rules are made while the caller goes on: the
// returned func waits for them. Nothing is done where no binding can be
// forwarded.
func Forward(ref, id string, pm skiffnetns.PortMap) (wait func() error) {
	if !hostMode() || len(pm) == 0 {
		return failed(nil)
	}
	n, batch, err := markForwarded(ref, id, pm)
	if err != nil || batch == "" {
		return failed(err)
	}
	made := startRestore(batch)
	return func() error {
		if err := made(); err != nil {
			// The chain is missing (a bridge made by an older skiff, or
			// rules flushed): make it, and this network's rules, and again.
			if err := addNAT(n); err != nil {
				return err
			}
			if err := restore(batch); err != nil {
				return err
			}
		}
		return dropIfLeft(ref, id)
	}
}

// markForwarded records on id's endpoint that it has rules (before they
// are made: a clean-up after a crash then finds them) and returns the
// rules to make.
func markForwarded(ref, id string, pm skiffnetns.PortMap) (*Network, string, error) {
	unlock, err := lockAll()
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	n, err := Lookup(ref)
	if err != nil {
		return nil, "", err
	}
	e := n.Containers[id]
	if e == nil || n.Internal || e.IP == "" {
		return n, "", nil
	}
	batch := dnatBatch(n, e.IP, id, pm)
	if batch == "" || e.Forwarded {
		return n, batch, nil
	}
	e.Forwarded = true
	return n, batch, n.save()
}

// dropIfLeft removes the rules just made if the container left the
// network meanwhile (removed while it started).
func dropIfLeft(ref, id string) error {
	unlock, err := lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	if n, err := Lookup(ref); err == nil && n.Containers[id] != nil {
		return nil
	}
	return unforward(id)
}

// unforward removes every rule naming container id.
func unforward(id string) error {
	path, err := exec.LookPath("iptables-save")
	if err != nil {
		return nil // no iptables, no rules
	}
	out, err := exec.Command(path).Output()
	if err != nil {
		return fmt.Errorf("iptables-save: %w", err)
	}
	batch := deleteBatch(out, id)
	if batch == "" {
		return nil
	}
	return restore(batch)
}

// forgetFlows drops the connection tracking entries of flows forwarded
// to ip, so that a UDP client that keeps sending does not reach a later
// container given the address (as Docker does).
func forgetFlows(ip string) {
	addr := net.ParseIP(ip)
	if addr == nil {
		return
	}
	f := &netlink.ConntrackFilter{}
	if f.AddIP(netlink.ConntrackReplySrcIP, addr) == nil {
		_, _ = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.InetFamily(netlink.FAMILY_V4), f)
	}
}

// deleteBatch turns iptables-save's rules naming id into deletions.
func deleteBatch(saved []byte, id string) string {
	tag := ruleTag(id)
	var b strings.Builder
	table, written := "", ""
	for _, line := range bytes.Split(saved, []byte("\n")) {
		s := string(line)
		if strings.HasPrefix(s, "*") {
			table = s
			continue
		}
		if !strings.HasPrefix(s, "-A ") || !hasTag(s, tag) {
			continue
		}
		if written != table {
			if written != "" {
				b.WriteString("COMMIT\n")
			}
			b.WriteString(table + "\n")
			written = table
		}
		b.WriteString("-D " + s[len("-A "):] + "\n")
	}
	if written != "" {
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// hasTag reports whether rule line s carries comment tag exactly.
func hasTag(s, tag string) bool {
	return strings.Contains(s, "--comment "+strconv.Quote(tag)+" ") || strings.Contains(s, "--comment "+tag+" ") ||
		strings.HasSuffix(s, "--comment "+strconv.Quote(tag)) || strings.HasSuffix(s, "--comment "+tag)
}

// Unforwarded lists the containers that rules name but no network holds
// (a network record deleted by hand, rules left by a crash): system check
// removes their rules. The rules are read before the networks: a
// container is recorded on its network before its rules are made.
func Unforwarded() ([]string, error) {
	path, err := exec.LookPath("iptables-save")
	if err != nil || !hostMode() {
		return nil, nil
	}
	out, err := exec.Command(path).Output()
	if err != nil {
		return nil, fmt.Errorf("iptables-save: %w", err)
	}
	held := map[string]bool{}
	all, err := List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		for id := range n.Containers {
			held[id] = true
		}
	}
	var left []string
	for _, line := range strings.Split(string(out), "\n") {
		_, rest, ok := strings.Cut(line, `--comment "`+ruleTag(""))
		id, _, _ := strings.Cut(rest, `"`)
		if ok && id != "" && !held[id] {
			held[id] = true // once
			left = append(left, id)
		}
	}
	sort.Strings(left)
	return left, nil
}

// RemoveForwarding removes every rule naming container id.
func RemoveForwarding(id string) error {
	unlock, err := lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	return unforward(id)
}
