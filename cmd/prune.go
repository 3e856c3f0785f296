package cmd

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// pruneCommand is an `X prune`: -f, --filter (the keys filters names)
// and the extra flags, the warning asked unless -f (inside the user's
// namespace, so that entering it cannot ask twice), then run.
func pruneCommand(usage, usageText, warning, filters string, extra []cli.Flag, run func(ctx context.Context, c *cli.Context, e *engine.Engine, f engine.Filters) error) *cli.Command {
	return &cli.Command{
		Name:      "prune",
		Usage:     usage,
		UsageText: usageText,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
			&cli.StringSliceFlag{Name: "filter", Usage: "only these: " + filters},
		}, extra...),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0, 0, strings.TrimPrefix(commandPath(c), "skiff ")+" [OPTIONS]"); err != nil {
				return err
			}
			f, err := engine.ParseFilters(c.StringSlice("filter"))
			if err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				if !c.Bool("force") && !confirm(warning) {
					return nil
				}
				return run(ctx, c, e, f)
			})
		},
	}
}
