package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// historyRow is one line of `history`, with Docker's field names.
type historyRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "Show the history of an image",
		ArgsUsage: "IMAGE",
		UsageText: "skiff history [OPTIONS] IMAGE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
			&cli.BoolFlag{Name: "human", Aliases: []string{"H"}, Value: true, Usage: "print sizes and dates in human readable format"},
			&cli.StringFlag{Name: "format", Usage: "`table`, json or a Go template, e.g. '{{.CreatedBy}}'"},
			platformFlag("show the history of this platform's image"),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "history [OPTIONS] IMAGE"); err != nil {
				return err
			}
			if f := c.String("format"); f != "" && f != "json" && !strings.HasPrefix(f, "table") {
				if _, err := parseTemplate(f); err != nil {
					return err
				}
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				if err := checkPlatform(ctx, c, e, c.Args().First()); err != nil {
					return err
				}
				hist, err := e.ImageHistory(ctx, c.Args().First())
				if err != nil {
					return err
				}
				rows := make([]any, 0, len(hist))
				for _, h := range hist {
					r := historyRowFor(h, c.Bool("no-trunc"), c.Bool("human"))
					if c.Bool("quiet") {
						fmt.Fprintln(c.App.Writer, r.ID)
						continue
					}
					rows = append(rows, r)
				}
				if c.Bool("quiet") {
					return nil
				}
				lf := listFormat{
					format:   c.String("format"),
					defTable: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
					header: headerFor(historyRow{}, map[string]string{
						"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
					}),
				}
				return lf.write(c.App.Writer, rows)
			})
		},
	}
}

func historyRowFor(h image.HistoryResponseItem, noTrunc, human bool) historyRow {
	created := time.Unix(h.Created, 0)
	r := historyRow{ID: h.ID, Comment: h.Comment, CreatedAt: created.Format(time.RFC3339)}
	if !noTrunc && strings.HasPrefix(h.ID, "sha256:") {
		r.ID = h.ID[7:19]
	}
	r.CreatedBy = strings.ReplaceAll(h.CreatedBy, "\t", " ")
	if !noTrunc {
		r.CreatedBy = ellipsis(r.CreatedBy, 45)
	}
	if human {
		r.CreatedSince = units.HumanDuration(time.Since(created)) + " ago"
		r.Size = units.HumanSizeWithPrecision(float64(h.Size), 3)
	} else {
		r.CreatedSince = r.CreatedAt
		r.Size = fmt.Sprint(h.Size)
	}
	return r
}

// ellipsis shortens s to n runes, ending in "…", as docker/cli does.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
