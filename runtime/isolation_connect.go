package runtime

import (
	"fmt"
	"net"
	"strings"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns/network"
)

// ConnectOptions are network connect's: --alias, --ip, --ip6, --link and
// --driver-opt.
type ConnectOptions struct {
	Aliases    []string
	IPv4       string
	IPv6       string
	Links      []string // NAME[:ALIAS]
	DriverOpts map[string]string
	// LinkLocalIPs are refused: see CheckLinkLocal.
	LinkLocalIPs []string
}

// CheckLinkLocal refuses --link-local-ip (the API's
// IPAMConfig.LinkLocalIPs): skiff's bridges give containers no
// link-local addresses of their own choosing.
func CheckLinkLocal(ips []string) error {
	if len(ips) > 0 {
		return errdefs.Invalid("--link-local-ip %s: skiff's networks give containers no link-local addresses of their own: leave it out (--ip and --ip6 set fixed addresses)", ips[0])
	}
	return nil
}

// check checks o for c joining n and returns its links resolved.
func (o ConnectOptions) check(c *container.Container, n *network.Network) ([]container.Link, error) {
	for k := range o.DriverOpts {
		return nil, errdefs.Invalid("network connect --driver-opt %s: the bridge driver here takes no endpoint options", k)
	}
	if err := CheckLinkLocal(o.LinkLocalIPs); err != nil {
		return nil, err
	}
	if o.IPv4 != "" {
		if ip := net.ParseIP(o.IPv4); ip == nil || ip.To4() == nil {
			return nil, errdefs.Invalid("invalid --ip %q: an IPv4 address", o.IPv4)
		}
		if err := n.CheckAddress(o.IPv4); err != nil {
			return nil, err
		}
	}
	if o.IPv6 != "" {
		if err := n.CheckAddress6(o.IPv6); err != nil {
			return nil, err
		}
	}
	var links []container.Link
	for _, l := range o.Links {
		name, alias, _ := strings.Cut(l, ":")
		t, err := container.Lookup(name)
		if name == "" || strings.HasSuffix(l, ":") {
			return nil, errdefs.Invalid("invalid --link %q: want NAME[:ALIAS]", l)
		}
		if err != nil {
			return nil, fmt.Errorf("--link %s: %w", name, err)
		}
		links = append(links, container.Link{ID: t.ID, Name: t.Name, Alias: firstNonEmpty(alias, t.Name)})
	}
	if len(links) > 0 && c.State.Running {
		return nil, fmt.Errorf("network connect --link: %s is running and its /etc/hosts is made at start: stop it first, or connect without --link: %w", c.Name, errdefs.ErrConflict)
	}
	return links, nil
}

// ipam is the endpoint's fixed address, nil for none.
func (o ConnectOptions) ipam() *container.EndpointIPAM {
	if o.IPv4 == "" && o.IPv6 == "" {
		return nil
	}
	return &container.EndpointIPAM{IPv4Address: o.IPv4, IPv6Address: o.IPv6}
}
