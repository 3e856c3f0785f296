package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// volumeRow is one line of `volume ls`, with Docker's field names.
type volumeRow struct {
	Driver     string
	Name       string
	Mountpoint string
	Labels     string
	Scope      string
	Size       string
	Links      string
	CreatedAt  string
}

func volumeCommand() *cli.Command {
	return &cli.Command{
		Name:  "volume",
		Usage: "Manage volumes",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a volume",
				ArgsUsage: "[VOLUME]",
				UsageText: "skiff volume create [OPTIONS] [VOLUME]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "local", Usage: "only local exists"},
					&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata KEY=VALUE"},
					&cli.StringSliceFlag{Name: "opt", Aliases: []string{"o"}, Usage: "local driver option: type=tmpfs|none (as root any file system), device=tmpfs|/host/path, o=MOUNT-OPTIONS (o=bind for a host directory)"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 1, "volume create [OPTIONS] [VOLUME]"); err != nil {
						return err
					}
					labels, err := parseLabels(c.StringSlice("label"))
					if err != nil {
						return err
					}
					opts, err := parseKV(c.StringSlice("opt"), "--opt")
					if err != nil {
						return err
					}
					o := engine.VolumeCreateOptions{Driver: c.String("driver"), Labels: labels, Options: opts}
					return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
						v, err := e.VolumeCreate(ctx, c.Args().First(), o)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, v.Name)
						return nil
					})
				},
			},
			{
				Name:    "ls",
				Aliases: []string{"list"},
				Usage:   "List volumes",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display volume names"},
					&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: name=, label=KEY[=VALUE], dangling=true|false, driver="},
					&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Name}}'"},
				},
				Action: volumeList,
			},
			{
				Name:      "inspect",
				Usage:     "Display detailed information on volumes",
				ArgsUsage: "VOLUME [VOLUME...]",
				Flags:     inspectFlags()[:1],
				Action: func(c *cli.Context) error {
					return inspectEach(c, "volume inspect [OPTIONS] VOLUME [VOLUME...]", func(ctx context.Context, e *engine.Engine, name string) (any, error) {
						return e.VolumeInspect(ctx, name)
					})
				},
			},
			{
				Name:      "rm",
				Aliases:   []string{"remove"},
				Usage:     "Remove one or more volumes",
				ArgsUsage: "VOLUME [VOLUME...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "no error for a missing volume"}},
				Action: func(c *cli.Context) error {
					return eachArg(c, "volume rm [OPTIONS] VOLUME [VOLUME...]", func(ctx context.Context, e *engine.Engine, name string) error {
						return e.VolumeRemove(ctx, name, c.Bool("force"))
					})
				},
			},
			pruneCommand("Remove unused anonymous volumes (all unused ones with -a)", "skiff volume prune [OPTIONS]",
				"WARNING! This will remove anonymous local volumes not used by at least one container.",
				"label=KEY[=VALUE], label!=…, all=true|false", []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "named volumes too"}},
				func(ctx context.Context, c *cli.Context, e *engine.Engine, f engine.Filters) error {
					rep, err := e.VolumePrune(ctx, c.Bool("all"), f)
					if err != nil {
						return err
					}
					printList(c.App.Writer, "Deleted Volumes:", rep.VolumesDeleted, true)
					fmt.Fprintf(c.App.Writer, "Total reclaimed space: %s\n", humanBytes(int64(rep.SpaceReclaimed)))
					return nil
				}),
		},
	}
}

func volumeList(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "volume ls [OPTIONS]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		vols, err := e.VolumeList(ctx, f)
		if err != nil {
			return err
		}
		var rows []any
		for _, v := range vols {
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, v.Name)
				continue
			}
			created := v.CreatedAt
			if t, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil {
				created = t.Local().Format(time.RFC3339)
			}
			rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Labels: joinLabels(v.Labels),
				Scope: v.Scope, Size: "N/A", Links: fmt.Sprint(v.UsageData.RefCount), CreatedAt: created})
		}
		if c.Bool("quiet") {
			return nil
		}
		lf := listFormat{format: c.String("format"), defTable: "{{.Driver}}\t{{.Name}}",
			header: headerFor(volumeRow{}, map[string]string{"Name": "VOLUME NAME", "CreatedAt": "CREATED"})}
		return lf.write(c.App.Writer, rows)
	})
}

// parseKV reads KEY=VALUE lists (--opt, --build-arg).
func parseKV(list []string, flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || !ok && flag == "--opt" {
			return nil, errdefs.Invalid("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}
