package cmd

import (
	"context"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "Fetch the logs of a container",
		ArgsUsage: "CONTAINER",
		UsageText: "skiff logs [OPTIONS] CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow log output"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "number of lines to show from the end"},
			&cli.StringFlag{Name: "since", Usage: "show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)"},
			&cli.StringFlag{Name: "until", Usage: "show logs before a timestamp or relative time"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
			&cli.BoolFlag{Name: "details", Usage: "show the extra attributes --log-opt labels=, labels-regex=, env= and env-regex= give each line"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "logs [OPTIONS] CONTAINER"); err != nil {
				return err
			}
			o, err := logOptions(c)
			if err != nil {
				return err
			}
			if o.Until, err = engine.ParseTime(c.String("until"), "--until"); err != nil {
				return err
			}
			o.Details = c.Bool("details")
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ContainerLogs(ctx, c.Args().First(), o, os.Stdout, os.Stderr)
			})
		},
	}
}

// logOptions reads the flags logs and service logs share: --follow,
// --timestamps, --tail and --since.
func logOptions(c *cli.Context) (engine.LogOptions, error) {
	o := engine.LogOptions{Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps"), Tail: -1}
	if t := c.String("tail"); t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return o, errdefs.Invalid("invalid --tail %q: a number or all", t)
		}
		o.Tail = n
	}
	var err error
	o.Since, err = engine.ParseTime(c.String("since"), "--since")
	return o, err
}
