package cmd

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "Export a container's filesystem as a tar archive",
		ArgsUsage: "CONTAINER",
		UsageText: "skiff export [OPTIONS] CONTAINER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file instead of STDOUT"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "export [OPTIONS] CONTAINER"); err != nil {
				return err
			}
			out := c.String("output")
			if out == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return errdefs.Invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ContainerExport(ctx, c.Args().First(), engine.ExportTarget{Writer: c.App.Writer, Path: out})
			})
		},
	}
}
