package network

import (
	"fmt"
	"math/big"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
)

// Driver options of network create -o that skiff's bridges honour.
const (
	OptMTU        = "com.docker.network.driver.mtu"
	OptBridgeName = "com.docker.network.bridge.name"
)

// withOptions checks and records create's IPv6 subnet, address range,
// auxiliary addresses and driver options on n.
func (n *Network) withOptions(o CreateOptions, others []*Network) error {
	if err := n.withIPv6(o, others); err != nil {
		return err
	}
	if o.IPRange != "" {
		_, r, err := net.ParseCIDR(o.IPRange)
		_, s, _ := net.ParseCIDR(n.Subnet)
		if err != nil || r.IP.To4() == nil || !s.Contains(r.IP) || prefixOf(r) < prefixOf(s) {
			return errdefs.Invalid("invalid --ip-range %q: an IPv4 CIDR inside the subnet %s", o.IPRange, n.Subnet)
		}
		n.IPRange = r.String()
	}
	for name, ip := range o.AuxAddresses {
		a := net.ParseIP(ip)
		if a == nil || !n.inSubnets(a) {
			return errdefs.Invalid("invalid --aux-address %s=%s: an address inside the network's subnets", name, ip)
		}
		if n.AuxAddresses == nil {
			n.AuxAddresses = map[string]string{}
		}
		n.AuxAddresses[name] = a.String()
	}
	for k, v := range o.Options {
		switch k {
		case OptMTU:
			if m, err := strconv.Atoi(v); err != nil || m < 68 || m > 65535 {
				return errdefs.Invalid("invalid -o %s=%s: an MTU from 68 to 65535", k, v)
			}
		case OptBridgeName:
			if v == "" || len(v) > 15 || !validIfName(v) {
				return errdefs.Invalid("invalid -o %s=%s: an interface name of at most 15 letters, digits, '-', '_' or '.'", k, v)
			}
			for _, other := range others {
				if bridgeName(other) == v {
					return fmt.Errorf("-o %s=%s: network %s has that bridge: %w", k, v, other.Name, errdefs.ErrConflict)
				}
			}
		default:
			return errdefs.Invalid("unknown driver option -o %s: the bridge driver here takes %s and %s", k, OptMTU, OptBridgeName)
		}
		if n.Options == nil {
			n.Options = map[string]string{}
		}
		n.Options[k] = v
	}
	return nil
}

func validIfName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func prefixOf(c *net.IPNet) int { ones, _ := c.Mask.Size(); return ones }

// withIPv6 gives n its IPv6 subnet: the one given, or a free
// fd89:0:0:N::/64.
func (n *Network) withIPv6(o CreateOptions, others []*Network) error {
	if !o.IPv6 {
		if o.Subnet6 != "" {
			return errdefs.Invalid("--subnet %s is IPv6: add --ipv6", o.Subnet6)
		}
		return nil
	}
	overlaps := func(a *net.IPNet) bool {
		for _, x := range others {
			if _, b, err := net.ParseCIDR(x.Subnet6); err == nil && (a.Contains(b.IP) || b.Contains(a.IP)) {
				return true
			}
		}
		return false
	}
	if o.Subnet6 == "" {
		for i := 0; i < 65536; i++ {
			_, c, _ := net.ParseCIDR(fmt.Sprintf("fd89:0:0:%x::/64", i))
			if !overlaps(c) {
				n.Subnet6, n.Gateway6 = c.String(), nthIP(c, 1).String()
				return nil
			}
		}
		return fmt.Errorf("no free IPv6 subnet left in fd89::/48: give --subnet: %w", errdefs.ErrUnavailable)
	}
	ip, c, err := net.ParseCIDR(o.Subnet6)
	if err != nil || ip.To4() != nil || prefixOf(c) > 126 {
		return errdefs.Invalid("invalid --subnet %q: an IPv6 CIDR like fd00:1::/64", o.Subnet6)
	}
	if overlaps(c) {
		return fmt.Errorf("--subnet %s overlaps another network's: %w", o.Subnet6, errdefs.ErrConflict)
	}
	n.Subnet6, n.Gateway6 = c.String(), nthIP(c, 1).String()
	if o.Gateway6 != "" {
		g := net.ParseIP(o.Gateway6)
		if g == nil || !c.Contains(g) {
			return errdefs.Invalid("invalid --gateway %q: an address inside %s", o.Gateway6, c)
		}
		n.Gateway6 = g.String()
	}
	return nil
}

// nthIP is the i-th address of c.
func nthIP(c *net.IPNet, i int64) net.IP {
	v := new(big.Int).SetBytes(c.IP)
	v.Add(v, big.NewInt(i))
	b := v.Bytes()
	out := make(net.IP, len(c.IP))
	copy(out[len(out)-len(b):], b)
	return out
}

// inSubnets reports whether ip is in n's IPv4 or IPv6 subnet.
func (n *Network) inSubnets(ip net.IP) bool {
	for _, s := range []string{n.Subnet, n.Subnet6} {
		if _, c, err := net.ParseCIDR(s); err == nil && c.Contains(ip) {
			return true
		}
	}
	return false
}

// reserved are the addresses no container gets: gateways and --aux-address.
func (n *Network) reserved() map[string]bool {
	r := map[string]bool{n.Gateway: true, n.Gateway6: true}
	for _, a := range n.AuxAddresses {
		r[a] = true
	}
	return r
}

// mtu is -o com.docker.network.driver.mtu, 0 for the default.
func (n *Network) mtu() int {
	m, _ := strconv.Atoi(n.Options[OptMTU])
	return m
}

// allocate6 picks the next free address of n's IPv6 subnet, "" when it
// has none.
func (n *Network) allocate6() (string, error) {
	if n.Subnet6 == "" {
		return "", nil
	}
	_, c, err := net.ParseCIDR(n.Subnet6)
	if err != nil {
		return "", err
	}
	used := n.reserved()
	for _, e := range n.Containers {
		used[e.IP6] = true
	}
	for i := int64(2); i < 65536; i++ {
		ip := nthIP(c, i)
		if !c.Contains(ip) {
			break
		}
		if !used[ip.String()] {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("network %s has no free IPv6 address left: %w", n.Name, errdefs.ErrUnavailable)
}

// take6 is the IPv6 address for a new member: ip6 when asked for
// (checked), or the next free one.
func (n *Network) take6(ip6 string) (string, error) {
	if ip6 == "" {
		return n.allocate6()
	}
	return ip6, n.CheckAddress6(ip6)
}

// CheckAddress6 checks that ip (--ip6) lies in n's IPv6 subnet and is free.
func (n *Network) CheckAddress6(ip string) error {
	_, c, err := net.ParseCIDR(n.Subnet6)
	if err != nil {
		return errdefs.Invalid("--ip6 %s: network %s has no IPv6 subnet: create it with --ipv6", ip, n.Name)
	}
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil || !c.Contains(a) {
		return errdefs.Invalid("--ip6 %s: no matching subnet: network %s has %s: give an address inside it", ip, n.Name, n.Subnet6)
	}
	if n.reserved()[a.String()] {
		return fmt.Errorf("--ip6 %s: address already in use: reserved on network %s: %w", ip, n.Name, errdefs.ErrConflict)
	}
	for _, e := range n.Containers {
		if e.IP6 == a.String() {
			return fmt.Errorf("--ip6 %s: address already in use on network %s by %s: %w", ip, n.Name, e.Name, errdefs.ErrConflict)
		}
	}
	return nil
}

// addIPv6 puts ip of subnet on link l (no duplicate address detection,
// so it is usable at once); nothing when ip is "".
func addIPv6(h *netlink.Handle, l netlink.Link, ip, subnet string) error {
	if ip == "" {
		return nil
	}
	_, c, err := net.ParseCIDR(subnet)
	if err != nil {
		return err
	}
	c.IP = net.ParseIP(ip)
	return h.AddrAdd(l, &netlink.Addr{IPNet: c, Flags: unix.IFA_F_NODAD})
}

// Address6 is container id's IPv6 address on n, "" for none.
func (n *Network) Address6(id string) string {
	if e := n.Containers[id]; e != nil {
		return e.IP6
	}
	return ""
}

// PrefixLen6 is the IPv6 subnet's prefix length, 0 for none.
func (n *Network) PrefixLen6() int {
	if _, c, err := net.ParseCIDR(n.Subnet6); err == nil {
		return prefixOf(c)
	}
	return 0
}
