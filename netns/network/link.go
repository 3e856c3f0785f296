package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"

	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/trace"
	skiffnetns "github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
)

// infraPath is where the namespace holding the bridges is pinned.
func infraPath() string { return filepath.Join(paths.RuntimeDir(), "netns-infra") }

// infra returns the bridges' namespace, creating it on first use.
func infra() (vnetns.NsHandle, error) {
	if hostMode() {
		return vnetns.GetFromPath("/proc/self/ns/net") // root: the host's own
	}
	p := infraPath()
	if h, err := vnetns.GetFromPath(p); err == nil {
		if isNetNS(h) {
			return h, nil
		}
		h.Close()
		skiffnetns.RemovePinned(p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, err
	}
	if err := skiffnetns.NewPinned(p); err != nil {
		return 0, err
	}
	h, err := vnetns.GetFromPath(p)
	if err != nil {
		return 0, fmt.Errorf("opening the networks' namespace: %w", err)
	}
	if hi, err := handleAt(h); err == nil {
		if lo, err := hi.LinkByName("lo"); err == nil {
			_ = hi.LinkSetUp(lo)
		}
		hi.Close()
	}
	return h, nil
}

// handleAt opens a netlink handle in ns. The library moves the calling
// thread into ns to open the handle's socket and back afterwards; rootless,
// the way back is refused (the host's namespace belongs to the initial
// user namespace), and the thread would go back to Go's pool inside the
// container's namespace: a long-lived process (the API service) would
// then dial and listen from there. So the handle is opened on a thread of
// its own, locked and never unlocked, which ends with its goroutine. The
// socket stays in ns; using it needs no particular thread.
func handleAt(ns vnetns.NsHandle) (*netlink.Handle, error) {
	type opened struct {
		h   *netlink.Handle
		err error
	}
	c := make(chan opened, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netlink.NewHandleAt(ns)
		c <- opened{h, err}
	}()
	o := <-c
	return o.h, o.err
}

// isNetNS tells a live pinned namespace from a stale file left by a
// namespace that ended (after skiff system migrate).
func isNetNS(h vnetns.NsHandle) bool {
	var st, self unixStat
	return fstat(int(h), &st) == nil && stat("/proc/self/ns/net", &self) == nil && st.Dev == self.Dev
}

// bridgeName is n's bridge: -o com.docker.network.bridge.name, a fixed
// one for root's default network (a record made again, after its data
// directory was wiped, finds the same bridge and NAT rules instead of
// adding a second bridge on the same subnet, as docker0), else one
// named after the ID.
func bridgeName(n *Network) string {
	switch {
	case n.Options[OptBridgeName] != "":
		return n.Options[OptBridgeName]
	case n.Name == DefaultName:
		return "skb-default"
	}
	return "skb-" + n.ID[:10]
}

func randomName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// ensureBridge creates n's bridge with the gateway address, once.
func ensureBridge(h *netlink.Handle, n *Network) (netlink.Link, error) {
	if l, err := h.LinkByName(bridgeName(n)); err == nil {
		return l, nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName(n), MTU: n.mtu()}}
	if err := h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("creating the bridge of network %s: %w", n.Name, err)
	}
	l, err := h.LinkByName(bridgeName(n))
	if err != nil {
		return nil, err
	}
	addr, err := netlink.ParseAddr(fmt.Sprintf("%s/%d", n.Gateway, n.prefix()))
	if err != nil {
		return nil, err
	}
	if err := h.AddrAdd(l, addr); err != nil {
		return nil, fmt.Errorf("addressing the bridge of network %s: %w", n.Name, err)
	}
	if err := addIPv6(h, l, n.Gateway6, n.Subnet6); err != nil {
		return nil, fmt.Errorf("addressing the bridge of network %s: %w", n.Name, err)
	}
	if hostMode() {
		if err := addNAT(n); err != nil {
			_ = h.LinkDel(l)
			return nil, err
		}
	}
	return l, h.LinkSetUp(l)
}

func removeBridge(n *Network) {
	if hostMode() {
		removeNAT(n)
	}
	h, err := infra()
	if err != nil {
		return
	}
	defer h.Close()
	hi, err := handleAt(h)
	if err != nil {
		return
	}
	defer hi.Close()
	if l, err := hi.LinkByName(bridgeName(n)); err == nil {
		_ = hi.LinkDel(l)
	}
}

// Member describes a container joining networks.
type Member struct {
	ID       string
	Name     string
	NetNS    string // the container's pinned network namespace
	Hosts    string // its /etc/hosts file on the host, rewritten in place
	Hostname string
	IP       string // the address asked for (--ip), "" for the next free one
	IP6      string // likewise, IPv6 (--ip6)
}

// Attach joins a running container's namespace to network ref: a veth
// pair to the bridge, an address, and every member's hosts file updated.
// It returns the address.
func Attach(ref string, m Member, aliases []string) (string, error) {
	unlock, err := lockAll()
	if err != nil {
		return "", err
	}
	defer unlock()
	n, err := Lookup(ref)
	if err != nil {
		return "", err
	}
	if _, ok := n.Containers[m.ID]; ok {
		return "", fmt.Errorf("container %s is already connected to network %s: %w", m.Name, n.Name, errdefs.ErrConflict)
	}
	ip, err := n.take(m.IP)
	if err != nil {
		return "", err
	}
	ip6, err := n.take6(m.IP6)
	if err != nil {
		return "", err
	}
	hostVeth, err := plug(n, m, ip, ip6)
	if err != nil {
		return "", err
	}
	n.Containers[m.ID] = &Endpoint{Name: m.Name, IP: ip, IP6: ip6, Aliases: aliases, HostVeth: hostVeth, Hosts: m.Hosts}
	if err := n.save(); err != nil {
		return "", err
	}
	return ip, writeHosts()
}

// plug makes the veth pair and configures the container's end.
func plug(n *Network, m Member, ip, ip6 string) (string, error) {
	inf, err := infra()
	if err != nil {
		return "", err
	}
	defer inf.Close()
	hi, err := handleAt(inf)
	if err != nil {
		return "", err
	}
	defer hi.Close()
	br, err := ensureBridge(hi, n)
	if err != nil {
		return "", err
	}
	ctr, err := vnetns.GetFromPath(m.NetNS)
	if err != nil {
		return "", fmt.Errorf("opening the network namespace of %s: %w", m.Name, err)
	}
	defer ctr.Close()
	hc, err := handleAt(ctr)
	if err != nil {
		return "", err
	}
	defer hc.Close()
	hostName, peerName := randomName("skv"), randomName("skp")
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName, MasterIndex: br.Attrs().Index, MTU: n.mtu()}, PeerName: peerName}
	if err := hi.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("creating a veth pair for %s: %w", m.Name, err)
	}
	fail := func(err error) (string, error) {
		if l, lerr := hi.LinkByName(hostName); lerr == nil {
			_ = hi.LinkDel(l)
		}
		return "", err
	}
	peer, err := hi.LinkByName(peerName)
	if err != nil {
		return fail(err)
	}
	if err := hi.LinkSetNsFd(peer, int(ctr)); err != nil {
		return fail(fmt.Errorf("moving the veth into %s: %w", m.Name, err))
	}
	if host, err := hi.LinkByName(hostName); err == nil {
		if err := hi.LinkSetUp(host); err != nil {
			return fail(err)
		}
	}
	p, err := hc.LinkByName(peerName)
	if err != nil {
		return fail(err)
	}
	ifName := nextEth(hc)
	if err := hc.LinkSetName(p, ifName); err != nil {
		return fail(err)
	}
	// The MAC follows from the address, as Docker's does, so peers'
	// neighbour caches stay right when an address is used again.
	if ip4 := net.ParseIP(ip).To4(); ip4 != nil {
		_ = hc.LinkSetHardwareAddr(p, net.HardwareAddr{0x02, 0x42, ip4[0], ip4[1], ip4[2], ip4[3]})
	}
	addr, err := netlink.ParseAddr(fmt.Sprintf("%s/%d", ip, n.prefix()))
	if err != nil {
		return fail(err)
	}
	if err := hc.AddrAdd(p, addr); err != nil {
		return fail(fmt.Errorf("addressing %s in %s: %w", ifName, m.Name, err))
	}
	if err := addIPv6(hc, p, ip6, n.Subnet6); err != nil {
		return fail(fmt.Errorf("addressing %s in %s: %w", ifName, m.Name, err))
	}
	if err := hc.LinkSetUp(p); err != nil {
		return fail(err)
	}
	if lo, err := hc.LinkByName("lo"); err == nil {
		_ = hc.LinkSetUp(lo)
	}
	if hostMode() && !n.Internal {
		// Root: out through the bridge's gateway (NAT), once per container.
		gw := net.ParseIP(n.Gateway)
		if routes, _ := hc.RouteList(nil, netlink.FAMILY_V4); !hasDefault(routes) {
			if err := hc.RouteAdd(&netlink.Route{LinkIndex: p.Attrs().Index, Gw: gw}); err != nil {
				return fail(fmt.Errorf("routing %s through %s: %w", m.Name, n.Gateway, err))
			}
		}
	}
	return hostName, nil
}

func hasDefault(routes []netlink.Route) bool {
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			return true
		}
	}
	return false
}

func nextEth(h *netlink.Handle) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("eth%d", i)
		if _, err := h.LinkByName(name); err != nil {
			return name
		}
	}
}

// Detach removes a container from network ref (its veth, its address,
// its name in the others' hosts files).
func Detach(ref, id string) error {
	unlock, err := lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := Lookup(ref)
	if err != nil {
		return err
	}
	e, ok := n.Containers[id]
	if !ok {
		return fmt.Errorf("container is not connected to network %s: %w", n.Name, errdefs.ErrNotFound)
	}
	// The forwarding rules go while the veth does (each waits for the
	// kernel), and before the address is given up.
	unforwarded := make(chan error, 1)
	go func() { unforwarded <- dropForwarding(n, id, e) }()
	if inf, err := infra(); err == nil {
		if hi, err := handleAt(inf); err == nil {
			if l, err := hi.LinkByName(e.HostVeth); err == nil {
				_ = hi.LinkDel(l) // also removes the container's end
			}
			hi.Close()
		}
		inf.Close()
	}
	if err := <-unforwarded; err != nil {
		return fmt.Errorf("removing the port forwarding of %s: %w", e.Name, err)
	}
	delete(n.Containers, id)
	if err := n.save(); err != nil {
		return err
	}
	return writeHosts()
}

// dropForwarding removes the rules and tracked flows forwarding ports to
// e, container id's endpoint on n, if it has any (dnat.go).
func dropForwarding(n *Network, id string, e *Endpoint) error {
	if forwardedOn(id) != n.Name {
		return nil // none, or to its address on another network
	}
	defer trace.Begin("remove the ports' forwarding (iptables)")()
	if err := unforward(id); err != nil {
		return err
	}
	forgetFlows(e.IP)
	return nil
}

// DetachAll removes a container from every network it is on.
func DetachAll(id string) {
	all, _ := List()
	for _, n := range all {
		if _, ok := n.Containers[id]; ok {
			_ = Detach(n.Name, id)
		}
	}
}

const hostsMark = "# skiff networks: names of the containers on this container's networks\n"

// writeHosts rewrites every member's /etc/hosts in place (the file is
// bind-mounted, so its inode must stay): the lines before the mark are
// the container's own, the ones after list its network peers.
func writeHosts() error {
	all, err := List()
	if err != nil {
		return err
	}
	type entry struct{ ip, names string }
	peers := map[string][]entry{} // hosts file -> entries
	for _, n := range all {
		var es []entry
		ids := make([]string, 0, len(n.Containers))
		for id := range n.Containers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			e := n.Containers[id]
			names := append([]string{e.Name}, e.Aliases...)
			names = append(names, id[:12])
			es = append(es, entry{e.IP, strings.Join(names, " ")})
		}
		for _, e := range n.Containers {
			peers[e.Hosts] = append(peers[e.Hosts], es...)
		}
	}
	var firstErr error
	for file, es := range peers {
		data, err := os.ReadFile(file)
		if err != nil {
			continue // the container was removed meanwhile
		}
		own, _, _ := strings.Cut(string(data), hostsMark)
		var b strings.Builder
		b.WriteString(own)
		b.WriteString(hostsMark)
		for _, e := range es {
			fmt.Fprintf(&b, "%s\t%s\n", e.ip, e.names)
		}
		// Written over in place, then cut to length: truncating first
		// would let a reader (the container's resolver, another member
		// joining) see an empty file.
		f, err := os.OpenFile(file, os.O_WRONLY, 0)
		if err != nil {
			if firstErr == nil && !errors.Is(err, os.ErrNotExist) {
				firstErr = err
			}
			continue
		}
		if _, err := f.WriteAt([]byte(b.String()), 0); err == nil {
			_ = f.Truncate(int64(b.Len()))
		}
		f.Close()
	}
	return firstErr
}

// Internal reports whether every network in refs is --internal, so the
// container gets no outbound path.
func Internal(refs []string) bool {
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs {
		n, err := Lookup(r)
		if err != nil || !n.Internal {
			return false
		}
	}
	return true
}

// Rename changes a container's name on every network it is on.
func Rename(id, name string) error {
	unlock, err := lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := List()
	if err != nil {
		return err
	}
	changed := false
	for _, n := range all {
		if e, ok := n.Containers[id]; ok {
			e.Name = name
			if err := n.save(); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return writeHosts()
}

// WaitForLink waits until a link of that name is up in the namespace at
// nsPath, or the time is over.
func WaitForLink(nsPath, name string, d time.Duration) bool {
	h, err := vnetns.GetFromPath(nsPath)
	if err != nil {
		return false
	}
	defer h.Close()
	hc, err := handleAt(h)
	if err != nil {
		return false
	}
	defer hc.Close()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if l, err := hc.LinkByName(name); err == nil && l.Attrs().Flags&net.FlagUp != 0 {
			if addrs, _ := hc.AddrList(l, netlink.FAMILY_V4); len(addrs) > 0 {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
