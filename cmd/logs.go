package cmd

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "Fetch the logs of a container",
		ArgsUsage: "CONTAINER",
		UsageText: "skiff logs [OPTIONS] CONTAINER\n\nExample: skiff logs -f --tail 10 web",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow log output"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "number of lines to show from the end"},
			&cli.StringFlag{Name: "since", Usage: "show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)"},
			&cli.StringFlag{Name: "until", Usage: "show logs before a timestamp or relative time"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "logs [OPTIONS] CONTAINER"); err != nil {
				return err
			}
			o := runtime.LogOptions{Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps"), Tail: -1}
			if t := c.String("tail"); t != "all" {
				n, err := strconv.Atoi(t)
				if err != nil || n < 0 {
					return errdefs.Invalid("invalid --tail %q: a number or all", t)
				}
				o.Tail = n
			}
			var err error
			if o.Since, err = parseTimeArg(c.String("since"), "--since"); err != nil {
				return err
			}
			if o.Until, err = parseTimeArg(c.String("until"), "--until"); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				ctr, err := runtime.Lookup(c.Args().First())
				if err != nil {
					return err
				}
				return runtime.ReadLogs(ctr, o, os.Stdout, os.Stderr, nil)
			})
		},
	}
}

// parseTimeArg accepts RFC 3339 times, Unix seconds and durations back
// from now, as Docker's --since and --until do.
func parseTimeArg(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil // Unix seconds, as Docker
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil // no zone: local time, as Docker
		}
	}
	return time.Time{}, errdefs.Invalid("invalid %s %q: a time like 2024-01-02T13:23:37Z, Unix seconds or a duration like 10m", flag, s)
}
