package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// builderCommand is `skiff builder`: the build cache.
func builderCommand() *cli.Command {
	return &cli.Command{
		Name:  "builder",
		Usage: "Manage the build cache",
		Subcommands: []*cli.Command{
			buildCommand(),
			{
				Name:      "prune",
				Usage:     "Remove the build cache: intermediate images, cached steps and RUN cache mounts",
				UsageText: "skiff builder prune [-a] [-f]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "accepted for Docker compatibility (the whole cache always goes)"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 0, "builder prune [-a] [-f]"); err != nil {
						return err
					}
					return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
						if !c.Bool("force") && !confirm("WARNING! This will remove all build cache.") {
							return nil
						}
						removed, err := e.BuildPrune(ctx)
						printList(c.App.Writer, "Deleted build cache objects:", removed, false)
						fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d images\n", len(removed))
						return err
					})
				},
			},
		},
	}
}
