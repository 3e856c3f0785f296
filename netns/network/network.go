// Package network owns user-defined networks: their records, address
// management, the bridges that join their containers, and the hosts files
// that let containers find each other by name.
//
// Rootless, every bridge lives in one per-user "infra" network namespace
// (pinned in the runtime directory, kept alive by the user namespace's
// pause process); each container on a network gets a veth pair from its
// own namespace to that network's bridge, with an address from the
// network's subnet. Outbound traffic still leaves through the
// container's own slirp4netns (none for --internal networks), so the
// bridges need no NAT and are not routed to each other: containers on
// different networks cannot reach each other. Names resolve through
// /etc/hosts files rewritten in place whenever a container joins or
// leaves, so no resident DNS server is needed.
package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/paths"
)

// Network is one user-defined network's record.
type Network struct {
	Name       string               `json:"Name"`
	ID         string               `json:"Id"`
	Created    time.Time            `json:"Created"`
	Driver     string               `json:"Driver"`
	Subnet     string               `json:"Subnet"`
	Gateway    string               `json:"Gateway"`
	Internal   bool                 `json:"Internal"`
	Labels     map[string]string    `json:"Labels"`
	Containers map[string]*Endpoint `json:"Containers"` // by container ID
	// Subnet6 and Gateway6 are an IPv6 network's (create --ipv6).
	Subnet6  string `json:"Subnet6,omitempty"`
	Gateway6 string `json:"Gateway6,omitempty"`
	// IPRange is where containers' IPv4 addresses come from (--ip-range).
	IPRange string `json:"IPRange,omitempty"`
	// AuxAddresses are addresses no container gets (--aux-address).
	AuxAddresses map[string]string `json:"AuxAddresses,omitempty"`
	// Options are the driver options (-o): OptMTU, OptBridgeName.
	Options map[string]string `json:"Options,omitempty"`
}

// Endpoint is one container's attachment to a network.
type Endpoint struct {
	Name     string   `json:"Name"`
	IP       string   `json:"IPv4Address"` // without the prefix
	IP6      string   `json:"IPv6Address,omitempty"`
	Aliases  []string `json:"Aliases"`
	HostVeth string   `json:"HostVeth"`
	Hosts    string   `json:"HostsFile"` // the container's /etc/hosts on the host
}

// CreateOptions are `network create`'s flags.
type CreateOptions struct {
	Subnet   string
	Gateway  string
	Internal bool
	Labels   map[string]string
	// IPv6 gives the network an IPv6 subnet too: Subnet6, or a free one.
	IPv6         bool
	Subnet6      string
	Gateway6     string
	IPRange      string
	AuxAddresses map[string]string
	Options      map[string]string
}

// Reserved names are the built-in modes.
var Reserved = map[string]bool{"none": true, "host": true, "private": true, "bridge": true, "default": true, "slirp4netns": true}

func dir() string { return filepath.Join(paths.DataDir(), "networks") }

func recordPath(name string) string { return filepath.Join(dir(), name+".json") }

// lockAll serialises changes to networks (address allocation, hosts files).
func lockAll() (func(), error) { return ondisk.Lock(filepath.Join(dir(), ".lock")) }

// Lock takes the lock that serialises changes to networks, for a caller
// that must keep a network from being removed between finding it and
// recording a container on it. Functions of this package that change
// networks take it themselves: do not call them while holding it.
func Lock() (func(), error) { return lockAll() }

func read(name string) (*Network, error) {
	n := &Network{}
	if err := ondisk.ReadJSON(recordPath(name), n, fmt.Sprintf("network %s not found: create it with skiff network create %s", name, name)); err != nil {
		return nil, err
	}
	if n.Containers == nil {
		n.Containers = map[string]*Endpoint{}
	}
	return n, nil
}

func (n *Network) save() error { return ondisk.WriteJSON(recordPath(n.Name), n, 0o600) }

// List returns every network, by name.
func List() ([]*Network, error) {
	entries, err := os.ReadDir(dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if n, err := read(name); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup finds a network by name, full ID or unique ID prefix.
func Lookup(ref string) (*Network, error) {
	if n, err := read(ref); err == nil {
		return n, nil
	}
	all, err := List()
	if err != nil {
		return nil, err
	}
	var match []*Network
	for _, n := range all {
		if strings.HasPrefix(n.ID, ref) && len(ref) >= 3 {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, errdefs.NotFound("network %s not found: create it with skiff network create %s", ref, ref)
	}
	return nil, fmt.Errorf("network ID prefix %q matches %d networks: %w", ref, len(match), errdefs.ErrConflict)
}

// Create makes a network record; its bridge appears with its first container.
func Create(name string, o CreateOptions) (*Network, error) {
	if !names.Valid(name) || len(name) > 64 {
		return nil, errdefs.Invalid("invalid network name %q: letters, digits, _, . and -, starting with a letter or digit", name)
	}
	if Reserved[name] {
		return nil, errdefs.Invalid("network name %q is reserved for a built-in network mode", name)
	}
	unlock, err := lockAll()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := read(name); err == nil {
		return nil, fmt.Errorf("network with name %s already exists: %w", name, errdefs.ErrConflict)
	}
	all, err := List()
	if err != nil {
		return nil, err
	}
	subnet, gateway, err := pickSubnet(o.Subnet, o.Gateway, all)
	if err != nil {
		return nil, err
	}
	n := newNetwork(name, subnet, gateway, o)
	if err := n.withOptions(o, all); err != nil {
		return nil, err
	}
	return n, n.save()
}

func newNetwork(name, subnet, gateway string, o CreateOptions) *Network {
	n := &Network{
		Name: name, ID: names.NewID(), Created: time.Now().UTC(), Driver: "bridge",
		Subnet: subnet, Gateway: gateway, Internal: o.Internal, Labels: o.Labels,
		Containers: map[string]*Endpoint{},
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	return n
}

// pickSubnet checks a given subnet (and gateway) or picks the first free
// 10.89.N.0/24, as Podman does.
func pickSubnet(subnet, gateway string, others []*Network) (string, string, error) {
	overlaps := func(a *net.IPNet) bool {
		for _, o := range others {
			_, b, err := net.ParseCIDR(o.Subnet)
			if err == nil && (a.Contains(b.IP) || b.Contains(a.IP)) {
				return true
			}
		}
		return false
	}
	if subnet == "" {
		if gateway != "" {
			return "", "", errdefs.Invalid("--gateway needs --subnet")
		}
		for i := 0; i < 256; i++ {
			_, c, _ := net.ParseCIDR(fmt.Sprintf("10.89.%d.0/24", i))
			if !overlaps(c) {
				return c.String(), fmt.Sprintf("10.89.%d.1", i), nil
			}
		}
		return "", "", fmt.Errorf("no free subnet left in 10.89.0.0/16: give --subnet: %w", errdefs.ErrUnavailable)
	}
	ip, c, err := net.ParseCIDR(subnet)
	if err != nil || ip.To4() == nil {
		return "", "", errdefs.Invalid("invalid --subnet %q: an IPv4 CIDR like 10.90.0.0/24", subnet)
	}
	if ones, _ := c.Mask.Size(); ones > 30 {
		return "", "", errdefs.Invalid("invalid --subnet %q: too small for a gateway and containers", subnet)
	}
	if overlaps(c) {
		return "", "", fmt.Errorf("--subnet %s overlaps another network's: %w", subnet, errdefs.ErrConflict)
	}
	if gateway == "" {
		g := c.IP.To4()
		gateway = net.IPv4(g[0], g[1], g[2], g[3]+1).String()
	} else if gip := net.ParseIP(gateway); gip == nil || !c.Contains(gip) {
		return "", "", errdefs.Invalid("invalid --gateway %q: an address inside %s", gateway, c)
	}
	return c.String(), gateway, nil
}

// Remove deletes a network that no running container is connected to.
func Remove(ref string) (*Network, error) {
	unlock, err := lockAll()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := Lookup(ref)
	if err != nil {
		return nil, err
	}
	if len(n.Containers) > 0 {
		var names []string
		for _, e := range n.Containers {
			names = append(names, e.Name)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("network %s has active endpoints (%s): disconnect or remove them first: %w", n.Name, strings.Join(names, ", "), errdefs.ErrConflict)
	}
	if n.Name == DefaultName {
		return nil, errdefs.Invalid("the default network %s cannot be removed", n.Name)
	}
	return n, remove(n)
}

func remove(n *Network) error {
	removeBridge(n)
	return os.Remove(recordPath(n.Name))
}

// Prune removes every network no container is connected to and inUse
// says no container names, the default bridge excepted. It holds the lock
// from the check to the removal; an error from inUse stops it.
func Prune(inUse func(n *Network) (bool, error)) ([]string, error) {
	unlock, err := lockAll()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range all {
		if len(n.Containers) > 0 || n.Name == DefaultName {
			continue
		}
		used, err := inUse(n)
		if err != nil {
			return removed, err
		}
		if used {
			continue
		}
		if err := remove(n); err != nil {
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// allocate picks the next free address of n's subnet (of its --ip-range
// when it has one).
func (n *Network) allocate() (string, error) {
	_, c, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return "", err
	}
	used := n.reserved()
	for _, e := range n.Containers {
		used[e.IP] = true
	}
	first, end := 2, -1 // the network's own address, the gateway's usual one, its broadcast
	if n.IPRange != "" {
		used[c.IP.String()], used[broadcast(c).String()] = true, true
		_, c, _ = net.ParseCIDR(n.IPRange)
		first, end = 0, 0
	}
	base := c.IP.To4()
	ones, bits := c.Mask.Size()
	size := 1 << (bits - ones)
	for i := first; i < size+end; i++ {
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		v += uint32(i)
		ip := net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).String()
		if !used[ip] {
			return ip, nil
		}
	}
	return "", fmt.Errorf("network %s has no free address left: %w", n.Name, errdefs.ErrUnavailable)
}

// PrefixLen is the subnet's prefix length.
func (n *Network) PrefixLen() int { return n.prefix() }

func (n *Network) prefix() int {
	_, c, _ := net.ParseCIDR(n.Subnet)
	ones, _ := c.Mask.Size()
	return ones
}
