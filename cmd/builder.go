package cmd

import (
	"context"
	"fmt"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// builderCommand is `skiff builder`: the build cache.
func builderCommand() *cli.Command {
	return &cli.Command{
		Name:  "builder",
		Usage: "Manage the build cache",
		Subcommands: []*cli.Command{
			buildCommand(),
			builderPruneCommand(),
		},
	}
}

// builderPruneCommand is `builder prune`: all of the build cache, or what
// --filter until= and --keep-storage leave out.
func builderPruneCommand() *cli.Command {
	cmd := pruneCommand("Remove the build cache: intermediate images, cached steps and RUN cache mounts",
		"skiff builder prune [OPTIONS]",
		"WARNING! This will remove all build cache.", "until=TIME (cache older than that; unused-for= is the same)",
		[]cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "all the cache, not just dangling: all of it is unused here, so it is the default"},
			&cli.StringFlag{Name: "keep-storage", Usage: "keep the newest cache up to this size (e.g. 500MB)"},
		},
		func(ctx context.Context, c *cli.Context, e *engine.Engine, f engine.Filters) error {
			keep, _ := keepStorage(c)
			removed, err := e.BuildPrune(ctx, engine.BuildPruneOptions{Filters: f, KeepStorage: keep})
			printList(c.App.Writer, "Deleted build cache objects:", removed, false)
			fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d images\n", len(removed))
			return err
		})
	// A bad size is refused before the question is asked.
	cmd.Before = func(c *cli.Context) error {
		_, err := keepStorage(c)
		return err
	}
	return cmd
}

// keepStorage is --keep-storage in bytes (0 when not given).
func keepStorage(c *cli.Context) (int64, error) {
	v := c.String("keep-storage")
	if v == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return 0, errdefs.Invalid("invalid --keep-storage %q: want a size such as 500MB", v)
	}
	return n, nil
}
