package network

import (
	"fmt"
	"net"

	"github.com/skiff-project/skiff/errdefs"
)

// CheckAddress checks that ip (--ip) lies in n's subnet, is not its
// gateway, network or broadcast address, and no member has it.
func (n *Network) CheckAddress(ip string) error {
	_, c, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return err
	}
	a := net.ParseIP(ip).To4()
	if a == nil || !c.Contains(a) {
		return errdefs.Invalid("--ip %s: no matching subnet: network %s has %s: give an address inside it", ip, n.Name, n.Subnet)
	}
	switch {
	case a.Equal(c.IP), a.Equal(broadcast(c)):
		return errdefs.Invalid("--ip %s: the network or broadcast address of %s: give another", ip, n.Subnet)
	case n.reserved()[ip]:
		return fmt.Errorf("--ip %s: address already in use: it is network %s's gateway or an --aux-address: %w", ip, n.Name, errdefs.ErrConflict)
	}
	for _, e := range n.Containers {
		if e.IP == ip {
			return fmt.Errorf("--ip %s: address already in use on network %s by %s: %w", ip, n.Name, e.Name, errdefs.ErrConflict)
		}
	}
	return nil
}

// take is the address for a new member: ip when asked for (checked), or
// the next free one.
func (n *Network) take(ip string) (string, error) {
	if ip == "" {
		return n.allocate()
	}
	if err := n.CheckAddress(ip); err != nil {
		return "", err
	}
	return ip, nil
}

// broadcast is an IPv4 subnet's last address.
func broadcast(c *net.IPNet) net.IP {
	b := make(net.IP, 4)
	for i := range b {
		b[i] = c.IP.To4()[i] | ^c.Mask[i]
	}
	return b
}
