package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// networkRow is one line of `network ls`, with Docker's field names.
type networkRow struct {
	ID        string
	Name      string
	Driver    string
	Scope     string
	IPv6      string
	Internal  string
	Labels    string
	CreatedAt string
}

// builtinNetworks are the modes every container can use, listed like
// Docker's bridge, host and none.
var builtinNetworks = []networkRow{
	{ID: "private", Name: "private", Driver: "slirp4netns", Scope: "local", IPv6: "false", Internal: "false"},
	{ID: "host", Name: "host", Driver: "host", Scope: "local", IPv6: "false", Internal: "false"},
	{ID: "none", Name: "none", Driver: "null", Scope: "local", IPv6: "false", Internal: "false"},
}

func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "Manage networks",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a network",
				ArgsUsage: "NAME",
				UsageText: "skiff network create [OPTIONS] NAME\n\nExample: skiff network create --subnet 10.90.0.0/24 backend",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "subnet", Usage: "IPv4 subnet in CIDR form (default: a free 10.89.N.0/24)"},
					&cli.StringFlag{Name: "gateway", Usage: "gateway address inside the subnet (default: the first)"},
					&cli.BoolFlag{Name: "internal", Usage: "no outbound access for containers on it"},
					&cli.StringSliceFlag{Name: "label", Usage: "set metadata KEY=VALUE"},
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "bridge", Usage: "only bridge exists"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, 1, "network create [OPTIONS] NAME"); err != nil {
						return err
					}
					if d := c.String("driver"); d != "bridge" {
						return errdefs.Invalid("invalid --driver %q: only bridge exists", d)
					}
					labels, err := parseLabels(c.StringSlice("label"))
					if err != nil {
						return err
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						n, err := network.Create(c.Args().First(), network.CreateOptions{
							Subnet: c.String("subnet"), Gateway: c.String("gateway"), Internal: c.Bool("internal"), Labels: labels,
						})
						if err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, n.ID)
						return nil
					})
				},
			},
			{
				Name:    "ls",
				Aliases: []string{"list"},
				Usage:   "List networks",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display network IDs"},
					&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
					&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: name=, id=, driver=, label=KEY[=VALUE]"},
					&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Name}}'"},
				},
				Action: networkList,
			},
			{
				Name:      "inspect",
				Usage:     "Display detailed information on networks",
				ArgsUsage: "NETWORK [NETWORK...]",
				Flags:     []cli.Flag{formatFlag()},
				Action: func(c *cli.Context) error {
					return inspectEach(c, "network inspect [OPTIONS] NETWORK [NETWORK...]", func(ref string) (any, error) {
						n, err := network.Lookup(ref)
						if err != nil {
							return nil, err
						}
						return networkInspect(n), nil
					})
				},
			},
			{
				Name:      "rm",
				Aliases:   []string{"remove"},
				Usage:     "Remove one or more networks",
				ArgsUsage: "NETWORK [NETWORK...]",
				Action: func(c *cli.Context) error {
					return eachArg(c, "network rm NETWORK [NETWORK...]", func(ctx context.Context, st *storage.Store, ref string) error {
						_, err := network.Remove(ref)
						return err
					})
				},
			},
			{
				Name:  "prune",
				Usage: "Remove all networks no container uses",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"}},
				Action: func(c *cli.Context) error {
					if !c.Bool("force") && !confirm("WARNING! This will remove all custom networks not used by at least one container.") {
						return nil
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						all, err := network.List()
						if err != nil {
							return err
						}
						var removed []string
						for _, n := range all {
							if len(n.Containers) == 0 && !usedByContainers(n.Name) {
								if _, err := network.Remove(n.Name); err == nil {
									removed = append(removed, n.Name)
								}
							}
						}
						if len(removed) > 0 {
							fmt.Fprintln(c.App.Writer, "Deleted Networks:")
							for _, r := range removed {
								fmt.Fprintln(c.App.Writer, r)
							}
						}
						return nil
					})
				},
			},
			{
				Name:      "connect",
				Usage:     "Connect a container to a network",
				ArgsUsage: "NETWORK CONTAINER",
				UsageText: "skiff network connect [--alias NAME] NETWORK CONTAINER\n\nExample: skiff network connect --alias db backend pg1",
				Flags:     []cli.Flag{&cli.StringSliceFlag{Name: "alias", Usage: "another name for the container on this network"}},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 2, 2, "network connect [OPTIONS] NETWORK CONTAINER"); err != nil {
						return err
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						return runtime.Connect(c.Args().Get(1), c.Args().Get(0), c.StringSlice("alias"))
					})
				},
			},
			{
				Name:      "disconnect",
				Usage:     "Disconnect a container from a network",
				ArgsUsage: "NETWORK CONTAINER",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "accepted for compatibility"}},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 2, 2, "network disconnect NETWORK CONTAINER"); err != nil {
						return err
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						return runtime.Disconnect(c.Args().Get(1), c.Args().Get(0))
					})
				},
			},
		},
	}
}

// usedByContainers reports whether a stopped container still names the
// network (it joins it at its next start).
func usedByContainers(name string) bool {
	all, _ := runtime.List()
	for _, c := range all {
		if _, ok := c.NetworkSettings.Networks[name]; ok {
			return true
		}
	}
	return false
}

func parseLabels(ls []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, errdefs.Invalid("invalid --label %q: want KEY=VALUE", l)
		}
		out[k] = v
	}
	return out, nil
}

func networkList(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "network ls [OPTIONS]"); err != nil {
		return err
	}
	type filter struct{ k, v string }
	var filters []filter
	for _, f := range c.StringSlice("filter") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "name" && k != "id" && k != "driver" && k != "label") {
			return errdefs.Invalid("invalid --filter %q: filters are name=, id=, driver= and label=", f)
		}
		filters = append(filters, filter{k, v})
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		nets, err := network.List()
		if err != nil {
			return err
		}
		rows := append([]networkRow(nil), builtinNetworks...)
		labelsOf := map[string]map[string]string{}
		for _, n := range nets {
			id := n.ID
			if !c.Bool("no-trunc") {
				id = n.ID[:12]
			}
			var ls []string
			for k, v := range n.Labels {
				ls = append(ls, k+"="+v)
			}
			sort.Strings(ls)
			rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: "false",
				Internal: fmt.Sprint(n.Internal), Labels: strings.Join(ls, ","), CreatedAt: n.Created.Local().Format(time.RFC3339)})
			labelsOf[n.Name] = n.Labels
		}
		var out []any
		for _, r := range rows {
			ok := true
			for _, f := range filters {
				switch f.k {
				case "name":
					ok = ok && strings.Contains(r.Name, f.v)
				case "id":
					ok = ok && strings.HasPrefix(r.ID, f.v)
				case "driver":
					ok = ok && r.Driver == f.v
				case "label":
					k, v, hasV := strings.Cut(f.v, "=")
					got, has := labelsOf[r.Name][k]
					ok = ok && has && (!hasV || got == v)
				}
			}
			if !ok {
				continue
			}
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, r.ID)
				continue
			}
			out = append(out, r)
		}
		if c.Bool("quiet") {
			return nil
		}
		lf := listFormat{format: c.String("format"), defTable: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
			header: headerFor(networkRow{}, map[string]string{"ID": "NETWORK ID", "CreatedAt": "CREATED"})}
		return lf.write(c.App.Writer, out)
	})
}

// networkInspect is Docker's network inspect shape.
func networkInspect(n *network.Network) map[string]any {
	ctrs := map[string]any{}
	for id, e := range n.Containers {
		ctrs[id] = map[string]any{"Name": e.Name, "IPv4Address": fmt.Sprintf("%s/%d", e.IP, n.PrefixLen()), "Aliases": nonNil(e.Aliases)}
	}
	return map[string]any{
		"Name": n.Name, "Id": n.ID, "Created": n.Created.Format(time.RFC3339Nano), "Scope": "local",
		"Driver": n.Driver, "EnableIPv6": false, "Internal": n.Internal, "Attachable": true,
		"IPAM":       map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": n.Subnet, "Gateway": n.Gateway}}},
		"Containers": ctrs, "Options": map[string]string{}, "Labels": n.Labels,
	}
}
