package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
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

func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "Manage networks",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a network",
				ArgsUsage: "NAME",
				UsageText: "skiff network create [OPTIONS] NAME",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "internal", Usage: "no outbound access for containers on it"},
					&cli.StringSliceFlag{Name: "label", Usage: "set metadata KEY=VALUE"},
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "bridge", Usage: "only bridge exists"},
				}, networkCreateFlags()...),
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, 1, "network create [OPTIONS] NAME"); err != nil {
						return err
					}
					labels, err := parseLabels(c.StringSlice("label"))
					if err != nil {
						return err
					}
					o, err := networkCreateOptions(c)
					if err != nil {
						return err
					}
					o.Driver, o.Internal, o.Labels = c.String("driver"), c.Bool("internal"), labels
					return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
						res, err := e.NetworkCreate(ctx, c.Args().First(), o)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, res.ID)
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
				Flags:     inspectFlags()[:1],
				Action: func(c *cli.Context) error {
					return inspectEach(c, "network inspect [OPTIONS] NETWORK [NETWORK...]", func(ctx context.Context, e *engine.Engine, ref string) (any, error) {
						return e.NetworkInspect(ctx, ref)
					})
				},
			},
			{
				Name:      "rm",
				Aliases:   []string{"remove"},
				Usage:     "Remove one or more networks",
				ArgsUsage: "NETWORK [NETWORK...]",
				UsageText: "skiff network rm [OPTIONS] NETWORK [NETWORK...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not error if the network does not exist"}},
				Action: func(c *cli.Context) error {
					return eachArg(c, "network rm NETWORK [NETWORK...]", func(ctx context.Context, e *engine.Engine, ref string) error {
						err := e.NetworkRemove(ctx, ref)
						if c.Bool("force") && isNotFound(err) {
							return errSkipArg // Docker: nothing said of it
						}
						return err
					})
				},
			},
			pruneCommand("Remove all networks no container uses", "skiff network prune [OPTIONS]",
				"WARNING! This will remove all custom networks not used by at least one container.", "label=KEY[=VALUE], label!=…, until=TIME", nil,
				func(ctx context.Context, c *cli.Context, e *engine.Engine, f engine.Filters) error {
					rep, err := e.NetworkPrune(ctx, f)
					printList(c.App.Writer, "Deleted Networks:", rep.NetworksDeleted, false)
					return err
				}),
			{
				Name:      "connect",
				Usage:     "Connect a container to a network",
				ArgsUsage: "NETWORK CONTAINER",
				UsageText: "skiff network connect [OPTIONS] NETWORK CONTAINER",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "alias", Usage: "another name for the container on this network"},
					&cli.StringFlag{Name: "ip", Usage: "IPv4 address on the network"},
					&cli.StringFlag{Name: "ip6", Usage: "IPv6 address on the network"},
					&cli.StringSliceFlag{Name: "link", Usage: "reach another container as NAME[:ALIAS] (from the next start)"},
					&cli.StringSliceFlag{Name: "driver-opt", Usage: "endpoint options of the driver (the bridge has none)"},
					linkLocalFlag(),
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 2, 2, "network connect [OPTIONS] NETWORK CONTAINER"); err != nil {
						return err
					}
					opts, err := parseKV(c.StringSlice("driver-opt"), "--driver-opt")
					if err != nil {
						return err
					}
					o := engine.NetworkConnectOptions{Aliases: c.StringSlice("alias"), IPv4: c.String("ip"), IPv6: c.String("ip6"), Links: c.StringSlice("link"), DriverOpts: opts, LinkLocalIPs: c.StringSlice("link-local-ip")}
					return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
						return e.NetworkConnectWith(ctx, c.Args().Get(0), c.Args().Get(1), o)
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
					return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
						return e.NetworkDisconnect(ctx, c.Args().Get(0), c.Args().Get(1))
					})
				},
			},
		},
	}
}

func networkList(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "network ls [OPTIONS]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		nets, err := e.NetworkList(ctx, f)
		if err != nil {
			return err
		}
		var rows []any
		for _, n := range nets {
			id := n.ID
			if !c.Bool("no-trunc") && len(id) > 12 {
				id = id[:12]
			}
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, id)
				continue
			}
			r := networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, IPv6: fmt.Sprint(n.EnableIPv6),
				Internal: fmt.Sprint(n.Internal), Labels: joinLabels(n.Labels)}
			if !n.Created.IsZero() {
				r.CreatedAt = n.Created.Local().Format(time.RFC3339)
			}
			rows = append(rows, r)
		}
		if c.Bool("quiet") {
			return nil
		}
		lf := listFormat{format: c.String("format"), defTable: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
			header: headerFor(networkRow{}, map[string]string{"ID": "NETWORK ID", "CreatedAt": "CREATED"})}
		return lf.write(c.App.Writer, rows)
	})
}
