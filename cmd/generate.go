package cmd

// `skiff generate systemd` and `skiff generate quadlet`: systemd units
// that run containers and services, as podman's, and the systemd
// generator that makes units of quadlet-style .container, .volume and
// .network files (also run as `skiff-user-generator`: see Generator).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "Generate systemd units",
		Subcommands: []*cli.Command{
			{
				Name:      "systemd",
				Usage:     "Generate a systemd user unit that runs a container or a service",
				ArgsUsage: "CONTAINER|SERVICE",
				UsageText: "skiff generate systemd [OPTIONS] CONTAINER|SERVICE",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "new", Usage: "create the container at start and remove it at stop"},
					&cli.BoolFlag{Name: "name", Aliases: []string{"n"}, Usage: "use the name rather than the ID in the unit's name and commands"},
					&cli.StringFlag{Name: "restart-policy", Value: "on-failure", Usage: "systemd's Restart=: no, on-success, on-failure, on-abnormal, on-watchdog, on-abort or always"},
					&cli.IntFlag{Name: "restart-sec", Usage: "systemd's RestartSec= in seconds (0: systemd's own)"},
					&cli.IntFlag{Name: "stop-timeout", Aliases: []string{"t"}, Usage: "seconds skiff stop waits before SIGKILL (unset: the container's --stop-timeout, else 10)"},
					&cli.BoolFlag{Name: "files", Aliases: []string{"f"}, Usage: "write NAME.service files in the current directory and print their paths"},
					&cli.StringFlag{Name: "container-prefix", Value: "container", Usage: "prefix of a container's unit name"},
					&cli.StringFlag{Name: "service-prefix", Value: "service", Usage: "prefix of a service's unit name"},
					&cli.StringFlag{Name: "separator", Value: "-", Usage: "between the prefix and the name or ID"},
				},
				Action: generateSystemd,
			},
			{
				Name:      "quadlet",
				Usage:     "Write the units of quadlet-style .container, .volume and .network files (what the systemd generator does)",
				ArgsUsage: "OUTDIR",
				UsageText: "skiff generate quadlet [--user] [--source DIR]... OUTDIR\n\n" +
					"Reads ~/.config/skiff/systemd (--user) or /etc/skiff/systemd.",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "user", Usage: "read the user's directory, ~/.config/skiff/systemd"},
					&cli.StringSliceFlag{Name: "source", Usage: "read this directory instead (repeatable; an earlier one wins)"},
				},
				Action: generateQuadlet,
			},
		},
	}
}

func generateSystemd(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "generate systemd [OPTIONS] CONTAINER|SERVICE"); err != nil {
		return err
	}
	o := engine.GenerateSystemdOptions{
		New: c.Bool("new"), UseName: c.Bool("name"), RestartPolicy: c.String("restart-policy"),
		RestartSec: c.Int("restart-sec"), ContainerPrefix: c.String("container-prefix"),
		ServicePrefix: c.String("service-prefix"), Separator: c.String("separator"),
	}
	if c.IsSet("stop-timeout") {
		t := c.Int("stop-timeout")
		o.StopTimeout = &t
	}
	// The current directory, before the engine may run skiff again.
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		units, err := e.GenerateSystemd(ctx, c.Args().First(), o)
		if err != nil {
			return err
		}
		for _, u := range units {
			if !c.Bool("files") {
				fmt.Fprint(c.App.Writer, u.Text)
				continue
			}
			path := filepath.Join(dir, u.Name)
			if err := os.WriteFile(path, []byte(u.Text), 0o644); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, path)
		}
		return nil
	})
}

func generateQuadlet(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "generate quadlet [--user] [--source DIR]... OUTDIR"); err != nil {
		return err
	}
	units, err := engine.GenerateQuadlet(engine.QuadletOptions{
		User: c.Bool("user"), Dirs: c.StringSlice("source"), Out: c.Args().First(), Warn: warn,
	})
	for _, u := range units {
		fmt.Fprintln(c.App.Writer, u)
	}
	if err != nil {
		return errdefs.Invalid("%s", err)
	}
	return nil
}

// IsGenerator reports whether skiff runs as the systemd generator: its
// argv[0]'s base name is skiff-user-generator or skiff-system-generator.
func IsGenerator(argv0 string) bool { return engine.SystemdGeneratorNames[filepath.Base(argv0)] }

// Generator is skiff as a systemd generator: `skiff-user-generator
// NORMAL-DIR [EARLY-DIR LATE-DIR]` writes a unit into NORMAL-DIR for
// each quadlet file of the user's ~/.config/skiff/systemd (the system
// generator: /etc/skiff/systemd). Problems are warnings on stderr
// (systemd's journal); the exit status is 1 when a file was skipped.
func Generator(args []string) int {
	if len(args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s NORMAL-DIR [EARLY-DIR LATE-DIR]\n", filepath.Base(args[0]))
		return 2
	}
	name := filepath.Base(args[0])
	_, err := engine.GenerateQuadlet(engine.QuadletOptions{
		User: engine.IsUserGenerator(name), Out: args[1],
		Warn: func(s string) { fmt.Fprintf(os.Stderr, "%s: %s\n", name, s) },
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
