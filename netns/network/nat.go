package network

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
)

// As root, networks are Docker's kind: the bridges live in the host's
// namespace, containers route through their bridge's gateway, and
// iptables masquerades what leaves (unless the network is internal) and
// keeps bridges from forwarding to each other. Rootless, none of this is
// needed: the bridges sit in the user's infra namespace and every
// container has its own slirp4netns for outbound traffic.

// hostMode reports whether bridges live in the host's namespace (root).
func hostMode() bool { return !paths.Rootless() }

// DefaultName is the network root's default containers join, like
// Docker's bridge.
const DefaultName = "bridge"

const defaultSubnet = "10.88.0.0/16"

// EnsureDefault returns the default bridge network (root only),
// creating its record on first use.
func EnsureDefault() (*Network, error) {
	if n, err := read(DefaultName); err == nil {
		return n, nil
	}
	unlock, err := lockAll()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if n, err := read(DefaultName); err == nil {
		return n, nil
	}
	n := newNetwork(DefaultName, defaultSubnet, "10.88.0.1", CreateOptions{})
	return n, n.save()
}

const chain = "SKIFF-FORWARD"

func iptables(args ...string) error {
	path, err := exec.LookPath("iptables")
	if err != nil {
		return fmt.Errorf("networks as root need iptables: install Debian's iptables package: %w", errdefs.ErrUnavailable)
	}
	out, err := exec.Command(path, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %s: %w", strings.Join(args, " "), strings.TrimSpace(string(out)), err)
	}
	return nil
}

// ensureChain makes chain name in table unless it is there.
func ensureChain(table, name string) error {
	if iptables("-t", table, "-n", "-L", name) == nil {
		return nil
	}
	return iptables("-t", table, "-N", name)
}

// natRules are the rules of one network's bridge.
func natRules(n *Network) [][]string {
	br := bridgeName(n)
	rules := [][]string{
		{"-t", "nat", "-I", dnatChain, "-i", br, "-j", "RETURN"}, // dnat.go
		{"-A", chain, "-i", br, "-o", br, "-j", "ACCEPT"},
		{"-A", chain, "-i", br, "-o", "skb-+", "-j", "DROP"}, // no route to other networks
	}
	if n.Internal {
		rules = append(rules, []string{"-A", chain, "-i", br, "-j", "DROP"}, []string{"-A", chain, "-o", br, "-j", "DROP"})
		return rules
	}
	return append(rules,
		[]string{"-A", chain, "-i", br, "-j", "ACCEPT"},
		[]string{"-A", chain, "-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		[]string{"-t", "nat", "-A", "POSTROUTING", "-s", n.Subnet, "!", "-o", br, "-j", "MASQUERADE"},
	)
}

// addNAT installs n's rules (root), once per bridge.
func addNAT(n *Network) error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	if err := ensureChain("filter", chain); err != nil {
		return err
	}
	if iptables("-C", "FORWARD", "-j", chain) != nil {
		if err := iptables("-I", "FORWARD", "1", "-j", chain); err != nil {
			return err
		}
	}
	if err := ensureDNATChain(); err != nil {
		return err
	}
	for _, r := range natRules(n) {
		if err := ensureRule(r); err != nil {
			return err
		}
	}
	return nil
}

// removeNAT takes n's rules away again.
func removeNAT(n *Network) {
	for _, r := range natRules(n) {
		_ = iptables(withVerb(r, "-D")...)
	}
}
