package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"strings"
	"text/tabwriter"

	"github.com/moby/moby/api/types/system"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "Manage skiff",
		Subcommands: []*cli.Command{
			{
				Name:      "migrate",
				Usage:     "Reset the rootless user namespace (after changing /etc/subuid or /etc/subgid)",
				UsageText: "skiff system migrate\n\nThe next skiff command creates a fresh namespace with the current ranges.",
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 0, "system migrate"); err != nil {
						return err
					}
					return engine.SystemMigrate()
				},
			},
			{
				Name:      "df",
				Usage:     "Show disk usage of images, containers and volumes",
				UsageText: "skiff system df [OPTIONS]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "per object"},
					&cli.StringFlag{Name: "format", Usage: "table, table TEMPLATE, json or a Go template per row ({{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}); with -v, a template over .Images, .Containers, .Volumes, .BuildCache"},
				},
				Action: systemDF,
			},
			{
				Name:      "prune",
				Usage:     "Remove stopped containers, unused networks and dangling images",
				UsageText: "skiff system prune [OPTIONS]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
					&cli.BoolFlag{Name: "volumes", Usage: "prune anonymous volumes no container uses too"},
					&cli.StringSliceFlag{Name: "filter", Usage: "only these: label=KEY[=VALUE], label!=…, until=TIME"},
				},
				Action: systemPrune,
			},
			{
				Name:  "check",
				Usage: "Find, and with --repair fix, what a crash or a full disk left behind",
				UsageText: "skiff system check [--repair] [--force] [--quick]\n\n" +
					"Checks supervisors, containers, their storage and mounts, build leftovers, names, network endpoints,\n" +
					"images, volumes and the image store. Exits 1 when problems are left.",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "repair", Aliases: []string{"r"}, Usage: "fix what is found"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "also remove damaged containers, and orphans younger than a minute"},
					&cli.BoolFlag{Name: "quick", Aliases: []string{"q"}, Usage: "skip the slow checks of the image store (layer digests, mounting layers)"},
				},
				Action: systemCheck,
			},
			doctorCommand(),
			serviceCommand(),
			infoCommand(),
			eventsCommand(),
		},
	}
}

func systemCheck(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "system check [--repair] [--force] [--quick]"); err != nil {
		return err
	}
	o := engine.CheckOptions{Repair: c.Bool("repair"), Force: c.Bool("force"), Quick: c.Bool("quick")}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		rep, err := e.SystemCheck(ctx, o)
		w := c.App.Writer
		for _, f := range rep.Findings {
			switch {
			case f.Repaired:
				fmt.Fprintf(w, "%s: %s: repaired: %s\n", f.Object, f.Problem, f.Repair)
			case f.Err != "":
				fmt.Fprintf(w, "%s: %s: repairing failed (%s): %s\n", f.Object, f.Problem, f.Repair, f.Err)
			default:
				fmt.Fprintf(w, "%s: %s (--repair would %s)\n", f.Object, f.Problem, f.Repair)
			}
		}
		if err != nil {
			return err
		}
		left := rep.Unrepaired()
		switch {
		case len(rep.Findings) == 0:
			fmt.Fprintln(w, "No problems found")
		case left == 0:
			fmt.Fprintf(w, "%d %s found, all repaired\n", len(rep.Findings), plural(len(rep.Findings), "problem"))
		default:
			fmt.Fprintf(w, "%d %s found, %d left", len(rep.Findings), plural(len(rep.Findings), "problem"), left)
			if !o.Repair {
				fmt.Fprint(w, ": run skiff system check --repair to fix them")
			}
			fmt.Fprintln(w)
			return failed()
		}
		return nil
	})
}

func versionCommand(version string) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "Show the skiff version",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Client.Version}}'"}},
		Action: func(c *cli.Context) error {
			platform := map[string]string{"Name": "skiff"}
			// No daemon: the "server" is this same binary's engine, which
			// answers without entering the user's namespace.
			server := engine.SystemVersion()
			v := map[string]any{
				"Client": map[string]any{
					"Platform": platform, "Version": version, "ApiVersion": engine.APIVersion, "DefaultAPIVersion": engine.APIVersion,
					"GoVersion": goruntime.Version(), "Os": goruntime.GOOS, "Arch": goruntime.GOARCH, "Context": "default",
				},
				"Server": server,
			}
			switch f := c.String("format"); f {
			case "":
				fmt.Fprintf(c.App.Writer, "Client:\n Version:     %s\n API version: %s\n Go version:  %s\n OS/Arch:     %s/%s\n\nServer: skiff (no daemon)\n Version:     %s\n Kernel:      %s\n",
					version, engine.APIVersion, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, version, server.KernelVersion)
			case "json":
				return json.NewEncoder(c.App.Writer).Encode(v)
			default:
				return writeInspect(c.App.Writer, []any{v}, f)
			}
			return nil
		},
	}
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "Display system-wide information",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Driver}}'"}},
		Action: func(c *cli.Context) error {
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				ei, err := e.SystemInfo(ctx)
				if err != nil {
					return err
				}
				info := cliInfo{Info: ei}
				info.DockerHost, info.DockerHostListening = engine.DockerHost()
				switch f := c.String("format"); f {
				case "":
					w := tabwriter.NewWriter(c.App.Writer, 0, 1, 1, ' ', 0)
					in := info.Info.Info
					for _, kv := range [][2]any{
						{"Containers", in.Containers}, {"ContainersRunning", in.ContainersRunning}, {"ContainersPaused", in.ContainersPaused},
						{"ContainersStopped", in.ContainersStopped}, {"Images", in.Images}, {"Driver", in.Driver},
						{"DockerRootDir", in.DockerRootDir}, {"Rootless", engine.Rootless()}, {"CgroupVersion", in.CgroupVersion},
						{"SecurityOptions", in.SecurityOptions}, {"KernelVersion", in.KernelVersion}, {"OperatingSystem", in.OperatingSystem},
						{"Architecture", in.Architecture}, {"NCPU", in.NCPU}, {"MemTotal", in.MemTotal}, {"Name", in.Name},
						{"Logs", "skiff: stderr (--log-level); supervisors: " + info.SupervisorLog},
						{"DOCKER_HOST", dockerHostLine(info)},
					} {
						fmt.Fprintf(w, "%s:\t%v\n", kv[0], kv[1])
					}
					if err := w.Flush(); err != nil {
						return err
					}
					printRegistryConfig(c.App.Writer, in.RegistryConfig)
					return nil
				case "json":
					return json.NewEncoder(c.App.Writer).Encode(info)
				default:
					return writeInspect(c.App.Writer, []any{info}, f)
				}
			})
		},
	}
}

// cliInfo is what skiff info shows: Docker's /info, and where this user's
// Docker API service listens (the CLI's addition: the API's /info keeps
// Docker's shape).
type cliInfo struct {
	*engine.Info
	DockerHost          string
	DockerHostListening bool
}

// dockerHostLine is info's DOCKER_HOST line: the socket, and what to do
// when nothing listens there.
func dockerHostLine(info cliInfo) string {
	if info.DockerHostListening {
		return info.DockerHost + " (listening)"
	}
	systemctl := "systemctl --user"
	if !engine.Rootless() {
		systemctl = "systemctl"
	}
	return info.DockerHost + " (not listening: start it with " + systemctl + " start skiff.socket, or skiff system service)"
}

// dfRow is one line of `system df`, with Docker's field names.
type dfRow struct {
	Type        string
	TotalCount  string
	Active      string
	Size        string
	Reclaimable string
}

// dfRows are system df's lines: images, containers, local volumes and
// the build cache (counted with the images here).
func dfRows(du *system.DiskUsage) []any {
	pct := func(part, whole int64) string {
		if whole == 0 {
			return humanBytes(part)
		}
		return fmt.Sprintf("%s (%d%%)", humanBytes(part), part*100/whole)
	}
	row := func(typ string, total, active, size, reclaimable int64) dfRow {
		return dfRow{Type: typ, TotalCount: fmt.Sprint(total), Active: fmt.Sprint(active), Size: humanBytes(size), Reclaimable: pct(reclaimable, size)}
	}
	iu, cu, vu := du.ImageUsage, du.ContainerUsage, du.VolumeUsage
	return []any{
		row("Images", iu.TotalCount, iu.ActiveCount, iu.TotalSize, iu.Reclaimable),
		row("Containers", cu.TotalCount, cu.ActiveCount, cu.TotalSize, cu.Reclaimable),
		row("Local Volumes", vu.TotalCount, vu.ActiveCount, vu.TotalSize, vu.Reclaimable),
		row("Build Cache", 0, 0, 0, 0),
	}
}

// dfVerbose is what `system df -v --format` templates see, as Docker's:
// the rows of images, containers, volumes and the build cache.
func dfVerbose(du *system.DiskUsage) any {
	v := struct {
		Images     []imageRow
		Containers []psRow
		Volumes    []volumeRow
		BuildCache []any
	}{Images: []imageRow{}, Containers: []psRow{}, Volumes: []volumeRow{}, BuildCache: []any{}}
	for _, img := range du.ImageUsage.Items {
		v.Images = append(v.Images, imageRows(img, true)...)
	}
	for _, ctr := range du.ContainerUsage.Items {
		v.Containers = append(v.Containers, psRowFor(ctr, true, true))
	}
	for _, vol := range du.VolumeUsage.Items {
		v.Volumes = append(v.Volumes, volumeRow{Driver: vol.Driver, Name: vol.Name, Mountpoint: vol.Mountpoint, Labels: joinLabels(vol.Labels),
			Scope: vol.Scope, Size: humanBytes(vol.UsageData.Size), Links: fmt.Sprint(vol.UsageData.RefCount), CreatedAt: vol.CreatedAt})
	}
	return v
}

func systemDF(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "system df [OPTIONS]"); err != nil {
		return err
	}
	format := c.String("format")
	if format != "" && format != "json" && !strings.HasPrefix(format, "table") {
		if _, err := parseTemplate(format); err != nil {
			return err
		}
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		du, err := e.SystemDF(ctx)
		if err != nil {
			return err
		}
		if c.Bool("verbose") && format != "" && format != "table" {
			return writeInspect(c.App.Writer, []any{dfVerbose(du)}, format)
		}
		lf := listFormat{format: format, defTable: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
			header: headerFor(dfRow{}, map[string]string{"TotalCount": "TOTAL"})}
		if err := lf.write(c.App.Writer, dfRows(du)); err != nil {
			return err
		}
		if !c.Bool("verbose") {
			return nil
		}
		iu, cu, vu := du.ImageUsage, du.ContainerUsage, du.VolumeUsage
		fmt.Fprintln(c.App.Writer, "\nImages space usage:")
		rows := []any{}
		for _, img := range iu.Items {
			for _, r := range imageRows(img, false) {
				rows = append(rows, r)
			}
		}
		if err := imageTable("", "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}").write(c.App.Writer, rows); err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, "\nContainers space usage:")
		w := tabwriter.NewWriter(c.App.Writer, 10, 1, 3, ' ', 0)
		fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES")
		for _, ctr := range cu.Items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ctr.ID[:12], ctr.Image, humanBytes(ctr.SizeRw), ctr.Status, strings.TrimPrefix(ctr.Names[0], "/"))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, "\nLocal Volumes space usage:")
		w = tabwriter.NewWriter(c.App.Writer, 10, 1, 3, ' ', 0)
		fmt.Fprintln(w, "VOLUME NAME\tLINKS\tSIZE")
		for _, v := range vu.Items {
			fmt.Fprintf(w, "%s\t%d\t%s\n", v.Name, v.UsageData.RefCount, humanBytes(v.UsageData.Size))
		}
		return w.Flush()
	})
}

func systemPrune(c *cli.Context) error {
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		if !c.Bool("force") {
			images := "all dangling images"
			if c.Bool("all") {
				images = "all images without at least one container associated to them"
			}
			what := "  - all stopped containers\n  - all networks not used by at least one container\n"
			if c.Bool("volumes") {
				what += "  - all anonymous volumes not used by at least one container\n"
			}
			what += "  - " + images + "\n  - all build cache"
			if !confirm("WARNING! This will remove:\n" + what) {
				return nil
			}
		}
		rep, err := e.SystemPrune(ctx, engine.SystemPruneOptions{All: c.Bool("all"), Volumes: c.Bool("volumes"), Filters: f})
		w := c.App.Writer
		printList(w, "Deleted Containers:", rep.Containers, true)
		printList(w, "Deleted Networks:", rep.Networks, true)
		if len(rep.Images) > 0 {
			fmt.Fprintln(w, "Deleted Images:")
			for _, r := range rep.Images {
				fmt.Fprintf(w, "deleted: %s\n", r)
			}
			fmt.Fprintln(w)
		}
		printList(w, "Deleted Volumes:", rep.Volumes, true)
		fmt.Fprintf(w, "Total reclaimed space: %d containers, %d networks, %d images, %d volumes\n", len(rep.Containers), len(rep.Networks), len(rep.Images), len(rep.Volumes))
		return err
	})
}
