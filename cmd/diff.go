package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "Inspect changes to files or directories on a container's filesystem",
		ArgsUsage: "CONTAINER",
		UsageText: "skiff diff CONTAINER\n\nEach line is a path: A added, C changed, D deleted.",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "diff CONTAINER"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				changes, err := e.ContainerChanges(ctx, c.Args().First())
				if err != nil {
					return err
				}
				for _, ch := range changes {
					fmt.Fprintf(c.App.Writer, "%s %s\n", ch.Kind, ch.Path)
				}
				return nil
			})
		},
	}
}
