package cmd

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/moby/moby/api/types/network"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func topCommand() *cli.Command {
	return &cli.Command{
		Name:            "top",
		Usage:           "Display the running processes of a container",
		ArgsUsage:       "CONTAINER [ps OPTIONS]",
		UsageText:       "skiff top CONTAINER [ps OPTIONS]",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if first := c.Args().First(); first == "--help" || first == "-h" {
				return cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name)
			}
			if c.NArg() < 1 {
				return errdefs.Invalid("\"top\" needs a container: usage: skiff top CONTAINER [ps OPTIONS]")
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				top, err := e.ContainerTop(ctx, c.Args().First(), c.Args().Tail())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(c.App.Writer, 20, 1, 3, ' ', 0)
				fmt.Fprintln(w, strings.Join(top.Titles, "\t"))
				for _, p := range top.Processes {
					fmt.Fprintln(w, strings.Join(p, "\t"))
				}
				return w.Flush()
			})
		},
	}
}

func portCommand() *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "List port mappings for the container",
		ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		UsageText: "skiff port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "port CONTAINER [PRIVATE_PORT[/PROTO]]"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				ctr, err := e.ContainerInspect(ctx, c.Args().First(), false)
				if err != nil {
					return err
				}
				pm := ctr.NetworkSettings.Ports
				if c.NArg() == 2 {
					p, err := network.ParsePort(c.Args().Get(1))
					if err != nil {
						return errdefs.Invalid("invalid port %q: want PORT[/PROTO]", c.Args().Get(1))
					}
					bs, ok := pm[p]
					if !ok || bs == nil {
						return errdefs.NotFound("no public port '%s' published for %s", c.Args().Get(1), ctr.Name[1:])
					}
					for _, b := range bs {
						fmt.Fprintln(c.App.Writer, net.JoinHostPort(hostIP(b), b.HostPort))
					}
					return nil
				}
				keys := make([]network.Port, 0, len(pm))
				for k := range pm {
					keys = append(keys, k)
				}
				sort.Slice(keys, func(i, j int) bool {
					if keys[i].Num() != keys[j].Num() {
						return keys[i].Num() < keys[j].Num()
					}
					return keys[i].Proto() < keys[j].Proto()
				})
				for _, k := range keys {
					for _, b := range pm[k] {
						fmt.Fprintf(c.App.Writer, "%s -> %s\n", k, net.JoinHostPort(hostIP(b), b.HostPort))
					}
				}
				return nil
			})
		},
	}
}

func hostIP(b network.PortBinding) string {
	if !b.HostIP.IsValid() {
		return ""
	}
	return b.HostIP.String()
}
