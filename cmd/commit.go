package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

func commitCommand() *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "Create a new image from a container's changes",
		ArgsUsage: "CONTAINER [REPOSITORY[:TAG]]",
		UsageText: "skiff commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "author", Aliases: []string{"a"}, Usage: "author (e.g. \"Jane Doe <jane@example.com>\")"},
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message"},
			&cli.BoolFlag{Name: "pause", Aliases: []string{"p"}, Value: true, Usage: "pause a running container during the commit"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]"); err != nil {
				return err
			}
			o := engine.CommitOptions{Name: c.Args().Get(1), Author: c.String("author"), Message: c.String("message"),
				Changes: c.StringSlice("change"), Pause: c.Bool("pause")}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				id, err := e.ContainerCommit(ctx, c.Args().First(), o)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, id)
				return nil
			})
		},
	}
}
