package engine

import (
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/errdefs"
	netpkg "github.com/skiff-project/skiff/netns/network"
)

// NetworkIPAM is one of a network's subnets with its gateway, address
// range and auxiliary addresses (Docker's IPAM.Config).
type NetworkIPAM struct {
	Subnet       string
	Gateway      string
	IPRange      string
	AuxAddresses map[string]string
}

// NetworkIPAMFromFlags pairs network create's --gateway, --ip-range and
// --aux-address with the --subnet that holds them, as Docker's CLI does.
func NetworkIPAMFromFlags(subnets, gateways, ranges, aux []string) ([]NetworkIPAM, error) {
	out := make([]NetworkIPAM, len(subnets))
	nets := make([]*net.IPNet, len(subnets))
	for i, s := range subnets {
		_, c, err := net.ParseCIDR(s)
		if err != nil {
			return nil, errdefs.Invalid("invalid --subnet %q: a CIDR like 10.90.0.0/24 or fd00:1::/64", s)
		}
		out[i].Subnet, nets[i] = s, c
	}
	find := func(flag, v string, ip net.IP) (int, error) {
		for i, c := range nets {
			if ip != nil && c.Contains(ip) {
				return i, nil
			}
		}
		return 0, errdefs.Invalid("%s %s: no matching --subnet: give the subnet it belongs to", flag, v)
	}
	for _, g := range gateways {
		i, err := find("--gateway", g, net.ParseIP(g))
		if err != nil {
			return nil, err
		}
		if out[i].Gateway != "" {
			return nil, errdefs.Invalid("--gateway %s: subnet %s already has gateway %s", g, out[i].Subnet, out[i].Gateway)
		}
		out[i].Gateway = g
	}
	for _, r := range ranges {
		ip, _, err := net.ParseCIDR(r)
		if err != nil {
			return nil, errdefs.Invalid("invalid --ip-range %q: a CIDR inside a --subnet", r)
		}
		i, err := find("--ip-range", r, ip)
		if err != nil {
			return nil, err
		}
		out[i].IPRange = r
	}
	for _, a := range aux {
		name, ip, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, errdefs.Invalid("invalid --aux-address %q: want NAME=IP", a)
		}
		i, err := find("--aux-address", a, net.ParseIP(ip))
		if err != nil {
			return nil, err
		}
		if out[i].AuxAddresses == nil {
			out[i].AuxAddresses = map[string]string{}
		}
		out[i].AuxAddresses[name] = ip
	}
	if len(subnets) == 0 && len(gateways)+len(ranges)+len(aux) > 0 {
		return nil, errdefs.Invalid("--gateway, --ip-range and --aux-address need --subnet")
	}
	return out, nil
}

// networkCreateOptions checks o and turns it into the network package's
// options: at most one IPv4 and one IPv6 subnet.
func networkCreateOptions(o NetworkCreateOptions) (netpkg.CreateOptions, error) {
	co := netpkg.CreateOptions{Subnet: o.Subnet, Gateway: o.Gateway, Internal: o.Internal, Labels: o.Labels, IPv6: o.IPv6, Options: o.Options}
	switch {
	case o.ConfigOnly || o.ConfigFrom != "":
		return co, errdefs.Invalid("--config-only and --config-from are for swarm networks, which skiff does not have: create the network with its options directly")
	case o.DisableIPv4:
		return co, errdefs.Invalid("--ipv4=false: skiff's networks always have IPv4 (their names resolve through /etc/hosts addresses)")
	case o.Scope != "" && o.Scope != "local":
		return co, errdefs.Invalid("invalid --scope %q: skiff's networks are local", o.Scope)
	case o.IPAMDriver != "" && o.IPAMDriver != "default":
		return co, errdefs.Invalid("invalid --ipam-driver %q: only default exists", o.IPAMDriver)
	case len(o.IPAMOptions) > 0:
		return co, errdefs.Invalid("--ipam-opt %s: the default IPAM driver takes no options", slices.Sorted(maps.Keys(o.IPAMOptions))[0])
	}
	for _, c := range o.IPAM {
		ip, _, err := net.ParseCIDR(c.Subnet)
		switch {
		case err != nil:
			return co, errdefs.Invalid("invalid --subnet %q: a CIDR", c.Subnet)
		case ip.To4() != nil && co.Subnet != "":
			return co, errdefs.Invalid("--subnet %s: a network here has one IPv4 subnet (and one IPv6 with --ipv6)", c.Subnet)
		case ip.To4() != nil:
			co.Subnet, co.Gateway, co.IPRange = c.Subnet, c.Gateway, c.IPRange
		case co.Subnet6 != "":
			return co, errdefs.Invalid("--subnet %s: a network here has one IPv6 subnet (and one IPv4)", c.Subnet)
		default:
			co.Subnet6, co.Gateway6 = c.Subnet, c.Gateway
			if c.IPRange != "" {
				return co, errdefs.Invalid("--ip-range %s: IPv6 ranges are not supported: addresses come from the whole subnet", c.IPRange)
			}
		}
		for k, v := range c.AuxAddresses {
			if co.AuxAddresses == nil {
				co.AuxAddresses = map[string]string{}
			}
			co.AuxAddresses[k] = v
		}
	}
	return co, nil
}

// networkOptions adds a network's IPv6 subnet, address range, auxiliary
// addresses and driver options to its Docker document.
func networkOptions(n *netpkg.Network, out *network.Network) {
	c := &out.IPAM.Config[0]
	c.IPRange, _ = netip.ParsePrefix(n.IPRange)
	c6 := network.IPAMConfig{}
	for name, a := range n.AuxAddresses {
		ip, _ := netip.ParseAddr(a)
		target := c
		if ip.Is6() {
			target = &c6
		}
		if target.AuxAddress == nil {
			target.AuxAddress = map[string]netip.Addr{}
		}
		target.AuxAddress[name] = ip
	}
	if n.Subnet6 != "" {
		out.EnableIPv6 = true
		c6.Subnet, _ = netip.ParsePrefix(n.Subnet6)
		c6.Gateway, _ = netip.ParseAddr(n.Gateway6)
		out.IPAM.Config = append(out.IPAM.Config, c6)
	}
	maps.Copy(out.Options, n.Options)
}

// address6 is an endpoint's IPv6 address with the network's prefix.
func address6(n *netpkg.Network, ip string) netip.Prefix {
	p, _ := netip.ParsePrefix(n.Subnet6)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, p.Bits())
}
