package engine

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	netpkg "github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/runtime"
)

// NetworkCreateOptions are `network create`'s.
type NetworkCreateOptions struct {
	Driver   string // only bridge
	Subnet   string // IPv4 CIDR; "" picks a free 10.89.N.0/24
	Gateway  string
	Internal bool
	Labels   map[string]string
	// IPAM are the subnets (Subnet and Gateway are one more): at most
	// one IPv4 and one IPv6 (engine/network_options.go).
	IPAM        []NetworkIPAM
	IPv6        bool // an IPv6 subnet too: IPAM's, or a free fd89:0:0:N::/64
	DisableIPv4 bool // --ipv4=false, refused
	// Options are -o: com.docker.network.driver.mtu and
	// com.docker.network.bridge.name.
	Options     map[string]string
	IPAMDriver  string // default only
	IPAMOptions map[string]string
	Attachable  bool // every network here is
	ConfigOnly  bool // refused (swarm)
	ConfigFrom  string
	Scope       string // local only
}

// NetworkCreate makes a user-defined network.
func (e *Engine) NetworkCreate(ctx context.Context, name string, o NetworkCreateOptions) (network.CreateResponse, error) {
	if o.Driver != "" && o.Driver != "bridge" {
		return network.CreateResponse{}, errdefs.Invalid("invalid --driver %q: only bridge exists", o.Driver)
	}
	co, err := networkCreateOptions(o)
	if err != nil {
		return network.CreateResponse{}, err
	}
	n, err := netpkg.Create(name, co)
	if err != nil {
		return network.CreateResponse{}, err
	}
	networkEvent("create", n.ID, n.Name, nil)
	return network.CreateResponse{ID: n.ID}, nil
}

// NetworkInspect is Docker's network inspect document; each container
// entry also lists its aliases on the network.
type NetworkInspect struct {
	network.Network
	Containers map[string]NetworkEndpoint `json:"Containers"`
}

// NetworkEndpoint is a container on a network.
type NetworkEndpoint struct {
	network.EndpointResource
	Aliases []string `json:"Aliases"`
}

// builtinNetworks are the modes every container can use, listed as
// Docker lists bridge, host and none.
var builtinNetworks = []network.Summary{
	{Network: network.Network{Name: "private", ID: "private", Driver: "slirp4netns", Scope: "local", EnableIPv4: true}},
	{Network: network.Network{Name: "host", ID: "host", Driver: "host", Scope: "local"}},
	{Network: network.Network{Name: "none", ID: "none", Driver: "null", Scope: "local"}},
}

// NetworkList lists the built-in modes and the user-defined networks.
// Filters: name, id, driver, label, type (builtin or custom), scope.
func (e *Engine) NetworkList(ctx context.Context, f Filters) ([]network.Summary, error) {
	if err := f.check("name", "id", "driver", "label", "type", "scope"); err != nil {
		return nil, err
	}
	for _, t := range f["type"] {
		if t != "builtin" && t != "custom" {
			return nil, errdefs.Invalid("invalid filter type=%s: want builtin or custom", t)
		}
	}
	nets, err := netpkg.List()
	if err != nil {
		return nil, err
	}
	var out []network.Summary
	for _, b := range builtinNetworks {
		if matchNetwork(f, b.Network, "builtin") {
			out = append(out, b)
		}
	}
	for _, n := range nets {
		sm := network.Summary{Network: dockerNetwork(n)}
		if matchNetwork(f, sm.Network, "custom") {
			out = append(out, sm)
		}
	}
	return out, nil
}

func matchNetwork(f Filters, n network.Network, typ string) bool {
	return f.any("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
		f.any("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		f.any("driver", func(v string) bool { return n.Driver == v }) &&
		f.any("type", func(v string) bool { return v == typ }) &&
		f.any("scope", func(v string) bool { return n.Scope == v }) &&
		f.labels("label", n.Labels)
}

func dockerNetwork(n *netpkg.Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver, EnableIPv4: true,
		Internal: n.Internal, Attachable: true, Options: map[string]string{}, Labels: n.Labels,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}},
	}
	cfg := network.IPAMConfig{}
	cfg.Subnet, _ = netip.ParsePrefix(n.Subnet)
	cfg.Gateway, _ = netip.ParseAddr(n.Gateway)
	out.IPAM.Config = []network.IPAMConfig{cfg}
	networkOptions(n, &out)
	return out
}

// NetworkInspect returns a network's document.
func (e *Engine) NetworkInspect(ctx context.Context, ref string) (*NetworkInspect, error) {
	n, err := netpkg.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return networkInspect(n), nil
}

// networkInspect is a network's document.
func networkInspect(n *netpkg.Network) *NetworkInspect {
	out := &NetworkInspect{Network: dockerNetwork(n), Containers: map[string]NetworkEndpoint{}}
	for id, ep := range n.Containers {
		r := NetworkEndpoint{Aliases: nonNil(ep.Aliases)}
		r.Name = ep.Name
		r.IPv4Address, _ = netip.ParsePrefix(fmt.Sprintf("%s/%d", ep.IP, n.PrefixLen()))
		r.IPv6Address = address6(n, ep.IP6)
		out.Containers[id] = r
	}
	return out
}

// NetworkRemove removes a network no running container is on.
func (e *Engine) NetworkRemove(ctx context.Context, ref string) error {
	n, err := netpkg.Remove(ref)
	if err != nil {
		return err
	}
	networkEvent("destroy", n.ID, n.Name, nil)
	return nil
}

// NetworkPrune removes the networks no container uses (filters: label,
// until) and returns their names.
func (e *Engine) NetworkPrune(ctx context.Context, f Filters) (network.PruneReport, error) {
	var rep network.PruneReport
	if err := f.check("label", "label!", "until"); err != nil {
		return rep, err
	}
	until, err := untilFilter(f)
	if err != nil {
		return rep, err
	}
	ids := map[string]string{}
	rep.NetworksDeleted, err = netpkg.Prune(func(n *netpkg.Network) (bool, error) {
		if !f.labels("label", n.Labels) || labelsMatchAny(f["label!"], n.Labels) || !until.IsZero() && !n.Created.Before(until) {
			return true, nil // not this prune's to take
		}
		ids[n.Name] = n.ID
		return usedByContainers(n.Name)
	})
	for _, name := range rep.NetworksDeleted {
		networkEvent("destroy", ids[name], name, nil)
	}
	if err == nil {
		pruneEvent(events.NetworkEventType, nil)
	}
	return rep, err
}

// usedByContainers reports whether a container (in any state) names the
// network; it joins it at its next start.
func usedByContainers(name string) (bool, error) {
	all, err := container.List()
	if err != nil {
		return false, fmt.Errorf("listing the containers that use network %s: %w", name, err)
	}
	for _, c := range all {
		if _, ok := c.NetworkSettings.Networks[name]; ok {
			return true, nil
		}
	}
	return false, nil
}

// NetworkConnect puts a container on a network: at once when it runs, at
// its next start otherwise.
func (e *Engine) NetworkConnect(ctx context.Context, networkRef, ctr string, aliases []string) error {
	if err := runtime.Connect(ctr, networkRef, aliases); err != nil {
		return err
	}
	connectEvent("connect", networkRef, ctr)
	return nil
}

// NetworkConnectOptions are network connect's: --alias, --ip, --ip6,
// --link and --driver-opt.
type NetworkConnectOptions = runtime.ConnectOptions

// NetworkConnectWith is NetworkConnect with all of network connect's
// options.
func (e *Engine) NetworkConnectWith(ctx context.Context, networkRef, ctr string, o NetworkConnectOptions) error {
	if err := runtime.ConnectWith(ctr, networkRef, o); err != nil {
		return err
	}
	connectEvent("connect", networkRef, ctr)
	return nil
}

// NetworkDisconnect takes a container off a network.
func (e *Engine) NetworkDisconnect(ctx context.Context, networkRef, ctr string) error {
	if err := runtime.Disconnect(ctr, networkRef); err != nil {
		return err
	}
	connectEvent("disconnect", networkRef, ctr)
	return nil
}

// connectEvent records a network's connect or disconnect of a container.
func connectEvent(action events.Action, networkRef, ctr string) {
	n, err := netpkg.Lookup(networkRef)
	c, cerr := container.Lookup(ctr)
	if err == nil && cerr == nil {
		networkEvent(action, n.ID, n.Name, map[string]string{"container": c.ID})
	}
}
