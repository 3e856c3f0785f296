package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// networkCreateFlags are network create's address and driver flags.
func networkCreateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "subnet", Usage: "subnet in CIDR form: one IPv4 (default: a free 10.89.N.0/24) and, with --ipv6, one IPv6"},
		&cli.StringSliceFlag{Name: "gateway", Usage: "gateway inside a subnet (default: its first address)"},
		&cli.StringSliceFlag{Name: "ip-range", Usage: "give containers IPv4 addresses from this CIDR inside the subnet"},
		&cli.StringSliceFlag{Name: "aux-address", Usage: "NAME=IP an address containers do not get"},
		&cli.BoolFlag{Name: "ipv6", Usage: "an IPv6 subnet too (--subnet's, or a free fd89:0:0:N::/64)"},
		&cli.BoolFlag{Name: "ipv4", Value: true, Usage: "IPv4 (always)"},
		&cli.StringSliceFlag{Name: "opt", Aliases: []string{"o"}, Usage: "driver option: com.docker.network.driver.mtu=N, com.docker.network.bridge.name=NAME"},
		&cli.BoolFlag{Name: "attachable", Usage: "containers can be attached (every network here is)"},
		&cli.StringFlag{Name: "ipam-driver", Value: "default", Usage: "IP address management driver: default"},
		&cli.StringSliceFlag{Name: "ipam-opt", Usage: "IPAM driver options (the default driver has none)"},
		&cli.BoolFlag{Name: "config-only", Usage: "swarm configuration-only network (not supported)"},
		&cli.StringFlag{Name: "config-from", Usage: "swarm network to copy the configuration of (not supported)"},
		&cli.StringFlag{Name: "scope", Value: "local", Usage: "the network's scope: local"},
	}
}

// networkCreateOptions reads networkCreateFlags.
func networkCreateOptions(c *cli.Context) (engine.NetworkCreateOptions, error) {
	ipam, err := engine.NetworkIPAMFromFlags(c.StringSlice("subnet"), c.StringSlice("gateway"), c.StringSlice("ip-range"), c.StringSlice("aux-address"))
	if err != nil {
		return engine.NetworkCreateOptions{}, err
	}
	opts, err := parseKV(c.StringSlice("opt"), "--opt")
	if err != nil {
		return engine.NetworkCreateOptions{}, err
	}
	ipamOpts, err := parseKV(c.StringSlice("ipam-opt"), "--ipam-opt")
	if err != nil {
		return engine.NetworkCreateOptions{}, err
	}
	return engine.NetworkCreateOptions{
		IPAM: ipam, IPv6: c.Bool("ipv6"), DisableIPv4: !c.Bool("ipv4"), Options: opts,
		IPAMDriver: c.String("ipam-driver"), IPAMOptions: ipamOpts, Attachable: c.Bool("attachable"),
		ConfigOnly: c.Bool("config-only"), ConfigFrom: c.String("config-from"), Scope: c.String("scope"),
	}, nil
}
