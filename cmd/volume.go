package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
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
				UsageText: "skiff volume create [OPTIONS] [VOLUME]\n\nExample: skiff volume create --label app=db pgdata",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "local", Usage: "only local exists"},
					&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata KEY=VALUE"},
					&cli.StringSliceFlag{Name: "opt", Aliases: []string{"o"}, Usage: "driver option KEY=VALUE (recorded; the local driver keeps a plain directory)"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 1, "volume create [OPTIONS] [VOLUME]"); err != nil {
						return err
					}
					if d := c.String("driver"); d != "local" {
						return errdefs.Invalid("invalid --driver %q: only local exists", d)
					}
					labels, err := storage.ParseKV(c.StringSlice("label"), "--label")
					if err != nil {
						return err
					}
					opts, err := storage.ParseKV(c.StringSlice("opt"), "--opt")
					if err != nil {
						return err
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						v, err := storage.CreateVolume(c.Args().First(), storage.VolumeOptions{Labels: labels, Options: opts}, false)
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
				Flags:     []cli.Flag{formatFlag()},
				Action: func(c *cli.Context) error {
					return inspectEach(c, "volume inspect [OPTIONS] VOLUME [VOLUME...]", func(name string) (any, error) {
						v, err := storage.GetVolume(name)
						if err != nil {
							return nil, err
						}
						return volumeInspect(v), nil
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
					return eachArg(c, "volume rm [OPTIONS] VOLUME [VOLUME...]", func(ctx context.Context, st *storage.Store, name string) error {
						if _, err := storage.GetVolume(name); err != nil {
							if c.Bool("force") && isNotFound(err) {
								return nil
							}
							return err
						}
						if users := volumeUsers(name); len(users) > 0 {
							return fmt.Errorf("volume %s is in use by container %s: remove the container first: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
						}
						return storage.RemoveVolume(name)
					})
				},
			},
			{
				Name:  "prune",
				Usage: "Remove unused anonymous volumes (all unused ones with -a)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "named volumes too"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
				},
				Action: func(c *cli.Context) error {
					if !c.Bool("force") && !confirm("WARNING! This will remove anonymous local volumes not used by at least one container.") {
						return nil
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						removed, size, err := pruneVolumes(c.Bool("all"))
						if err != nil {
							return err
						}
						if len(removed) > 0 {
							fmt.Fprintln(c.App.Writer, "Deleted Volumes:")
							for _, n := range removed {
								fmt.Fprintln(c.App.Writer, n)
							}
							fmt.Fprintln(c.App.Writer)
						}
						fmt.Fprintf(c.App.Writer, "Total reclaimed space: %s\n", humanBytes(size))
						return nil
					})
				},
			},
		},
	}
}

// volumeUsers names the containers (any state) whose mounts use a volume.
func volumeUsers(name string) []string {
	all, _ := runtime.List()
	var out []string
	for _, c := range all {
		for _, b := range c.HostConfig.Binds {
			if src, _, ok := strings.Cut(b, ":"); ok && src == name {
				out = append(out, c.Name)
			}
		}
		for _, m := range c.HostConfig.Mounts {
			if mm, err := runtime.ParseMount(m); err == nil && mm.Type == "volume" && mm.Source == name {
				out = append(out, c.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func pruneVolumes(all bool) ([]string, int64, error) {
	vols, err := storage.Volumes()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var size int64
	for _, v := range vols {
		if (!v.Anonymous && !all) || len(volumeUsers(v.Name)) > 0 {
			continue
		}
		n := storage.VolumeSize(v)
		if storage.RemoveVolume(v.Name) == nil {
			removed = append(removed, v.Name)
			size += n
		}
	}
	return removed, size, nil
}

func volumeList(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "volume ls [OPTIONS]"); err != nil {
		return err
	}
	type filter struct{ k, v string }
	var filters []filter
	for _, f := range c.StringSlice("filter") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "name" && k != "label" && k != "dangling" && k != "driver") || (k == "dangling" && v != "true" && v != "false") {
			return errdefs.Invalid("invalid --filter %q: filters are name=, label=KEY[=VALUE], dangling=true|false and driver=", f)
		}
		filters = append(filters, filter{k, v})
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		vols, err := storage.Volumes()
		if err != nil {
			return err
		}
		var rows []any
		for _, v := range vols {
			ok := true
			for _, f := range filters {
				switch f.k {
				case "name":
					ok = ok && strings.Contains(v.Name, f.v)
				case "driver":
					ok = ok && v.Driver == f.v
				case "dangling":
					ok = ok && (len(volumeUsers(v.Name)) == 0) == (f.v == "true")
				case "label":
					k, val, hasV := strings.Cut(f.v, "=")
					got, has := v.Labels[k]
					ok = ok && has && (!hasV || got == val)
				}
			}
			if !ok {
				continue
			}
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, v.Name)
				continue
			}
			var ls []string
			for k, val := range v.Labels {
				ls = append(ls, k+"="+val)
			}
			sort.Strings(ls)
			rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Labels: strings.Join(ls, ","),
				Scope: v.Scope, Size: "N/A", Links: fmt.Sprint(len(volumeUsers(v.Name))), CreatedAt: v.CreatedAt.Local().Format(time.RFC3339)})
		}
		if c.Bool("quiet") {
			return nil
		}
		lf := listFormat{format: c.String("format"), defTable: "{{.Driver}}\t{{.Name}}",
			header: headerFor(volumeRow{}, map[string]string{"Name": "VOLUME NAME", "CreatedAt": "CREATED"})}
		return lf.write(c.App.Writer, rows)
	})
}

func volumeInspect(v *storage.Volume) map[string]any {
	return map[string]any{
		"CreatedAt": v.CreatedAt.Format(time.RFC3339), "Driver": v.Driver, "Labels": v.Labels,
		"Mountpoint": v.Mountpoint, "Name": v.Name, "Options": v.Options, "Scope": v.Scope,
	}
}
