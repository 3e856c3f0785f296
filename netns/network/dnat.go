package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	if err := ensureChain("nat", dnatChain); err != nil {
		return err
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

// forwardRules are rules by table, as iptables-save prints them.
type forwardRules struct{ nat, filter []string }

// dnatRules forward pm's bindings to ip on n's bridge for container id;
// none when no binding can be (only IPv4 host addresses other than
// loopback can).
func dnatRules(n *Network, ip, id string, pm skiffnetns.PortMap) forwardRules {
	br := bridgeName(n)
	tag := strconv.Quote(ruleTag(id))
	var r forwardRules
	for _, key := range pm.Keys() {
		port, proto, _ := strings.Cut(key, "/")
		if proto != "tcp" && proto != "udp" {
			continue
		}
		made := len(r.nat)
		for _, b := range pm[key] {
			dst, ok := dnatDestination(b.HostIP)
			if !ok || b.HostPort == "" {
				continue
			}
			r.nat = append(r.nat, fmt.Sprintf("-A %s ! -i %s%s -p %s -m %s --dport %s -m comment --comment %s -j DNAT --to-destination %s:%s",
				dnatChain, br, dst, proto, proto, b.HostPort, tag, ip, port))
		}
		if len(r.nat) > made {
			r.filter = append(r.filter, fmt.Sprintf("-A %s -d %s/32 ! -i %s -o %s -p %s -m %s --dport %s -m comment --comment %s -j ACCEPT",
				chain, ip, br, br, proto, proto, port, tag))
		}
	}
	return r
}

// batch is the iptables-restore input that deletes stale and adds r.
func (r forwardRules) batch(stale forwardRules) string {
	var b strings.Builder
	for _, t := range []struct {
		name      string
		del, adds []string
	}{{"nat", stale.nat, r.nat}, {"filter", stale.filter, r.filter}} {
		if len(t.del)+len(t.adds) == 0 {
			continue
		}
		b.WriteString("*" + t.name + "\n")
		for _, l := range t.del {
			b.WriteString("-D " + strings.TrimPrefix(l, "-A ") + "\n")
		}
		for _, l := range t.adds {
			b.WriteString(l + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// staleRules are the rules in saved (iptables-save's output) of other
// containers that would take traffic meant for container id: those that
// send to its address ip (left by a container whose records were wiped:
// the address was given again) and those for a host port of its own
// (the relay holds the port, so no other container has it).
func staleRules(saved []byte, id, ip string, mine forwardRules) forwardRules {
	var stale forwardRules
	table := ""
	for _, line := range strings.Split(string(saved), "\n") {
		if strings.HasPrefix(line, "*") {
			table = line[1:]
			continue
		}
		owner := ruleOwner(line)
		other := owner != "" && owner != id
		switch {
		case !other:
		case table == "nat" && strings.HasPrefix(line, "-A "+dnatChain+" ") &&
			(strings.HasSuffix(line, "--to-destination "+ip) || strings.Contains(line, "--to-destination "+ip+":") || clashes(line, mine.nat)):
			stale.nat = append(stale.nat, line)
		case table == "filter" && strings.HasPrefix(line, "-A "+chain+" ") && strings.Contains(line, " -d "+ip+"/32 "):
			stale.filter = append(stale.filter, line)
		}
	}
	return stale
}

// clashes reports whether a DNAT rule catches the same host port as one
// of mine: the same protocol and port, and the same host address or
// either for every address.
func clashes(line string, mine []string) bool {
	for _, m := range mine {
		if flag(line, "-p") == flag(m, "-p") && flag(line, "--dport") == flag(m, "--dport") &&
			(flag(line, "-d") == "" || flag(m, "-d") == "" || flag(line, "-d") == flag(m, "-d")) {
			return true
		}
	}
	return false
}

// flag is the value after name in a rule line, "" when absent.
func flag(line, name string) string {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == name {
			return f[i+1]
		}
	}
	return ""
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

func restore(batch string) error {
	path, err := exec.LookPath("iptables-restore")
	if err != nil {
		return fmt.Errorf("published ports as root need iptables-restore: install Debian's iptables package: %w", errdefs.ErrUnavailable)
	}
	cmd := exec.Command(path, "-w", "--noflush")
	cmd.Stdin = strings.NewReader(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %s: %w", strings.TrimSpace(string(out)), err)
	}
	return nil
}

func failed(err error) func() error { return func() error { return err } }

// Forward has the host send connections to container id's published
// ports (pm: the bindings made) straight to its address on network ref,
// so that its servers see the clients' addresses (root only; not for an
// internal network). Rules of other containers that would take its
// traffic go in the same step. The rules are made while the caller goes
// on: the returned func waits for them. Nothing is done where no binding
// can be forwarded.
func Forward(ref, id string, pm skiffnetns.PortMap) (wait func() error) {
	if !hostMode() || len(pm) == 0 {
		return failed(nil)
	}
	n, ip, rules, err := markForwarded(ref, id, pm)
	if err != nil || len(rules.nat) == 0 {
		return failed(err)
	}
	done := make(chan error, 1)
	go func() {
		err := install(id, ip, rules)
		if err != nil {
			// The chain is missing (a bridge made by an older skiff, or
			// rules flushed), or a stale rule went meanwhile: make the
			// chains and this network's rules, and again.
			if err = addNAT(n); err == nil {
				err = install(id, ip, rules)
			}
		}
		if err == nil {
			err = dropIfLeft(ref, id)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// install adds rules, deleting in the same step what would take their
// traffic: one iptables-save and one iptables-restore.
func install(id, ip string, rules forwardRules) error {
	saved, err := save()
	if err != nil {
		return err
	}
	return restore(rules.batch(staleRules(saved, id, ip, rules)))
}

func save() ([]byte, error) {
	path, err := exec.LookPath("iptables-save")
	if err != nil {
		return nil, fmt.Errorf("published ports as root need iptables-save: install Debian's iptables package: %w", errdefs.ErrUnavailable)
	}
	out, err := exec.Command(path).Output()
	if err != nil {
		return nil, fmt.Errorf("iptables-save: %w", err)
	}
	return out, nil
}

// markPath marks container id as having forwarding rules. It is a file
// of its own, not a field of the network's record, which other
// writers (an older skiff) would drop.
func markPath(id string) string { return filepath.Join(dir(), "forwarded", id) }

// forwardedOn is the network whose address id's rules send to, "" when
// it has none.
func forwardedOn(id string) string {
	b, err := os.ReadFile(markPath(id))
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(string(b), "\n")
	return name
}

// The mark holds the network's name, then the rules as made, so that
// they can be deleted without reading them back first.
func markText(n *Network, rules forwardRules) []byte {
	return []byte(n.Name + "\n" + rules.batch(forwardRules{}))
}

// markedDeletion is the iptables-restore input deleting the rules the
// mark of id lists, "" when it lists none.
func markedDeletion(id string) string {
	b, err := os.ReadFile(markPath(id))
	if err != nil {
		return ""
	}
	_, rules, _ := strings.Cut(string(b), "\n")
	var out strings.Builder
	for _, l := range strings.SplitAfter(rules, "\n") {
		if after, ok := strings.CutPrefix(l, "-A "); ok {
			l = "-D " + after
		}
		out.WriteString(l)
	}
	return out.String()
}

// markForwarded marks id as having rules (before they are made: a
// clean-up after a crash then finds them) and returns its address and
// the rules to make.
func markForwarded(ref, id string, pm skiffnetns.PortMap) (*Network, string, forwardRules, error) {
	unlock, err := lockAll()
	if err != nil {
		return nil, "", forwardRules{}, err
	}
	defer unlock()
	n, err := Lookup(ref)
	if err != nil {
		return nil, "", forwardRules{}, err
	}
	e := n.Containers[id]
	if e == nil || n.Internal || e.IP == "" {
		return n, "", forwardRules{}, nil
	}
	rules := dnatRules(n, e.IP, id, pm)
	if len(rules.nat) == 0 {
		return n, e.IP, rules, nil
	}
	if err := os.MkdirAll(filepath.Dir(markPath(id)), 0o700); err != nil {
		return nil, "", forwardRules{}, err
	}
	return n, e.IP, rules, os.WriteFile(markPath(id), markText(n, rules), 0o600)
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

// unforward removes every rule naming container id: those its mark
// lists in one step, else (some went already) whatever iptables-save
// shows naming it.
func unforward(id string) error {
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		return nil // no iptables, no rules
	}
	if batch := markedDeletion(id); batch == "" || restore(batch) != nil {
		out, err := save()
		if err != nil {
			return err
		}
		if batch := deleteBatch(out, id); batch != "" {
			if err := restore(batch); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(markPath(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
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
	var b strings.Builder
	table, written := "", ""
	for _, line := range bytes.Split(saved, []byte("\n")) {
		s := string(line)
		if strings.HasPrefix(s, "*") {
			table = s
			continue
		}
		if !strings.HasPrefix(s, "-A ") || ruleOwner(s) != id {
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

// ruleOwner is the container a rule line's skiff comment names (quoted,
// as iptables-save prints it, or not), "" when it has none.
func ruleOwner(line string) string {
	id, ok := strings.CutPrefix(strings.Trim(flag(line, "--comment"), `"`), ruleTag(""))
	if !ok {
		return ""
	}
	return id
}

// Unforwarded lists the containers that rules name but no network holds
// (a network record deleted by hand, rules left by a crash): system check
// removes their rules. The rules are read before the networks: a
// container is recorded on its network before its rules are made.
func Unforwarded() ([]string, error) {
	if !hostMode() {
		return nil, nil
	}
	out, err := save()
	if errors.Is(err, errdefs.ErrUnavailable) {
		return nil, nil // no iptables, no rules
	}
	if err != nil {
		return nil, err
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
		if id := ruleOwner(line); id != "" && !held[id] {
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
