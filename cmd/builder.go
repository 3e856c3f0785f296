package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/storage"
)

// builderCommand is `skiff builder`: the build cache.
func builderCommand() *cli.Command {
	return &cli.Command{
		Name:  "builder",
		Usage: "Manage the build cache",
		Subcommands: []*cli.Command{
			buildCommand(),
			{
				Name:  "prune",
				Usage: "Remove the build cache: intermediate images, cached steps and RUN cache mounts",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "accepted for Docker compatibility (the whole cache always goes)"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 0, "builder prune [-a] [-f]"); err != nil {
						return err
					}
					if !c.Bool("force") && !confirm("WARNING! This will remove all build cache.") {
						return nil
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						removed, err := st.PruneBuild()
						if len(removed) > 0 {
							fmt.Fprintln(c.App.Writer, "Deleted build cache objects:")
							for _, r := range removed {
								fmt.Fprintln(c.App.Writer, r)
							}
						}
						fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d images\n", len(removed))
						return err
					})
				},
			},
		},
	}
}
