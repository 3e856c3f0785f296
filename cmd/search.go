package cmd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

func searchCommand() *cli.Command {
	return &cli.Command{
		Name:      "search",
		Usage:     "Search a registry for images",
		ArgsUsage: "TERM",
		UsageText: "skiff search [OPTIONS] TERM\n\nHOST:PORT/TERM searches that registry's /v2/_catalog for names containing TERM; a plain TERM asks Docker Hub's search.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Usage: "the most results to show, 1 to 100 (default 25)"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: stars=N, is-official=true|false, is-automated=true|false"},
			&cli.StringFlag{Name: "format", Usage: "table, json or a Go template over .Name .Description .StarCount .IsOfficial .IsAutomated"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not shorten descriptions"},
			&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS with a verified certificate (loopback registries always speak plain HTTP)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "search [OPTIONS] TERM"); err != nil {
				return err
			}
			f, err := engine.ParseFilters(c.StringSlice("filter"))
			if err != nil {
				return err
			}
			if _, ok := f["is-automated"]; ok {
				fmt.Fprintln(os.Stderr, `WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.`)
			}
			o := engine.SearchOptions{Limit: c.Int("limit"), Filters: f, TLSVerify: tlsVerify(c)}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				res, err := e.ImageSearch(ctx, c.Args().First(), o)
				if err != nil {
					return err
				}
				format := c.String("format")
				rows := make([]any, 0, len(res))
				for _, r := range res {
					rows = append(rows, newSearchRow(r.Name, r.Description, r.StarCount, r.IsOfficial, r.IsAutomated, !c.Bool("no-trunc"), format == "json")) //nolint:staticcheck // IsAutomated: Docker's templates still offer it
				}
				return listFormat{format: format, defTable: "{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
					header: headerFor(searchRow{}, map[string]string{"StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"})}.write(c.App.Writer, rows)
			})
		},
	}
}

// searchRow is one line of search, as docker search prints it.
type searchRow struct {
	Name        string
	Description string
	StarCount   string
	IsOfficial  string
	IsAutomated string
}

func newSearchRow(name, desc string, stars int, official, automated, trunc, json bool) searchRow {
	desc = strings.NewReplacer("\n", " ", "\r", " ").Replace(desc)
	if trunc && utf8.RuneCountInString(desc) > 45 {
		desc = string([]rune(desc)[:44]) + "…"
	}
	flag := func(b bool) string {
		switch {
		case json:
			return strconv.FormatBool(b)
		case b:
			return "[OK]"
		}
		return ""
	}
	return searchRow{Name: name, Description: desc, StarCount: strconv.Itoa(stars), IsOfficial: flag(official), IsAutomated: flag(automated)}
}
