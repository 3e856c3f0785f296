package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// imageRow is one line of `images`, with Docker's field names.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

func imagesFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all images (the default hides a build's intermediate images)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
		&cli.BoolFlag{Name: "digests", Usage: "show digests"},
		&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
		&cli.StringFlag{Name: "format", Usage: "`table`, json or a Go template, e.g. '{{.Repository}}:{{.Tag}}'"},
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: dangling=true|false, reference=PATTERN[:TAG], label=KEY[=VALUE], before=IMAGE, since=IMAGE"},
		&cli.BoolFlag{Name: "tree", Usage: "list images as a tree of their platform variants (one per image here), with U for an image in use"},
	}
}

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "List images",
		UsageText: "skiff images [OPTIONS] [REPOSITORY[:TAG]]",
		Flags:     imagesFlags(),
		Action:    listImages,
	}
}

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "Manage images",
		Subcommands: []*cli.Command{
			{Name: "ls", Aliases: []string{"list"}, Usage: "List images", Flags: imagesFlags(), Action: listImages},
			{Name: "inspect", Usage: "Show details of images", ArgsUsage: "IMAGE [IMAGE...]", Flags: append(inspectFlags()[:1], platformFlag("inspect this platform's image")),
				Action: func(c *cli.Context) error { return inspectObjects(c, "image") }},
			pullCommand(),
			pushCommand(),
			buildCommand(),
			tagCommand(),
			{Name: "rm", Aliases: []string{"remove"}, Usage: "Remove images", ArgsUsage: "IMAGE [IMAGE...]", Flags: rmiFlags(), Action: removeImages},
			{
				Name:      "prune",
				Usage:     "Remove unused images",
				UsageText: "skiff image prune [OPTIONS]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images no container uses, not just dangling ones"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
					&cli.StringSliceFlag{Name: "filter", Usage: "only these: dangling=false (as -a), until=TIME, label=KEY[=VALUE], label!=…"},
				},
				Action: pruneImages,
			},
			importCommand(), saveCommand(), loadCommand(), historyCommand(),
		},
	}
}

func listImages(c *cli.Context) error {
	if err := exactArgs(c, 0, 1, "images [OPTIONS] [REPOSITORY[:TAG]]"); err != nil {
		return err
	}
	if f := c.String("format"); f != "" && f != "json" && !strings.HasPrefix(f, "table") {
		if _, err := parseTemplate(f); err != nil {
			return err
		}
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	if c.NArg() == 1 {
		f["reference"] = append(f["reference"], c.Args().First())
	}
	if c.Bool("tree") {
		return listImageTree(c, f)
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		imgs, err := e.ImageList(ctx, engine.ImageListOptions{All: c.Bool("all"), Filters: f})
		if err != nil {
			return err
		}
		var rows []any
		seen := map[string]bool{}
		for _, img := range imgs {
			for _, row := range imageRows(img, c.Bool("no-trunc")) {
				if c.Bool("quiet") {
					if !seen[row.ID] {
						seen[row.ID] = true
						fmt.Fprintln(c.App.Writer, row.ID)
					}
					continue
				}
				rows = append(rows, row)
			}
		}
		if c.Bool("quiet") {
			return nil
		}
		def := "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if c.Bool("digests") {
			def = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
		return imageTable(c.String("format"), def).write(c.App.Writer, rows)
	})
}

// imageTable is the list format of images and system df -v.
func imageTable(format, def string) listFormat {
	return listFormat{format: format, defTable: def, header: headerFor(imageRow{}, map[string]string{
		"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	})}
}

// imageRows are an image's lines in `images`: one per tag, else one per
// digest, else <none>:<none>, as Docker's CLI prints them.
func imageRows(img image.Summary, noTrunc bool) []imageRow {
	id := img.ID
	if !noTrunc {
		id = strings.TrimPrefix(id, "sha256:")[:12]
	}
	created := time.Unix(img.Created, 0)
	base := imageRow{
		Containers:   "N/A",
		CreatedAt:    created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		CreatedSince: units.HumanDuration(time.Since(created)) + " ago",
		ID:           id,
		Size:         humanBytes(img.Size),
		VirtualSize:  humanBytes(img.Size),
		SharedSize:   "N/A",
		UniqueSize:   "N/A",
		Digest:       "<none>",
		Repository:   "<none>",
		Tag:          "<none>",
	}
	if img.Containers >= 0 {
		base.Containers = fmt.Sprint(img.Containers)
	}
	digests := map[string]string{}
	for _, d := range img.RepoDigests {
		repo, dg, _ := strings.Cut(d, "@")
		if _, ok := digests[repo]; !ok {
			digests[repo] = dg
		}
		if base.Digest == "<none>" {
			base.Digest = dg
		}
	}
	var rows []imageRow
	for _, t := range img.RepoTags {
		r := base
		r.Repository, r.Tag = t, "<none>"
		if i := strings.LastIndex(t, ":"); i > strings.LastIndex(t, "/") {
			r.Repository, r.Tag = t[:i], t[i+1:]
		}
		if dg, ok := digests[r.Repository]; ok {
			r.Digest = dg
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		for _, d := range img.RepoDigests {
			r := base
			r.Repository, r.Digest, _ = strings.Cut(d, "@")
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		rows = append(rows, base)
	}
	return rows
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		ArgsUsage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		UsageText: "skiff tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, 2, "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ImageTag(ctx, c.Args().Get(0), c.Args().Get(1))
			})
		},
	}
}

func rmiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove an image with several names, or untag one in use"},
		// skiff keeps no parent chain: rmi never removes other images, so
		// untagged parents always stay, which is what --no-prune asks.
		&cli.BoolFlag{Name: "no-prune", Usage: "do not delete untagged parents (there are none to delete here: images have no parent chain)"},
		&cli.StringSliceFlag{Name: "platform", Usage: "remove the image only if it is of one of these platforms, os[/arch[/variant]] (an image here has one platform)"},
	}
}

func rmiCommand() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "Remove one or more images",
		ArgsUsage: "IMAGE [IMAGE...]",
		UsageText: "skiff rmi [OPTIONS] IMAGE [IMAGE...]",
		Flags:     rmiFlags(),
		Action:    removeImages,
	}
}

func removeImages(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "rmi [OPTIONS] IMAGE [IMAGE...]"); err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		var firstErr error
		for _, ref := range c.Args().Slice() {
			err := checkPlatforms(ctx, e, c.StringSlice("platform"), ref)
			var res []image.DeleteResponse
			if err == nil {
				res, err = e.ImageRemove(ctx, ref, c.Bool("force"))
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			for _, r := range res {
				if r.Untagged != "" {
					fmt.Fprintf(c.App.Writer, "Untagged: %s\n", r.Untagged)
				}
			}
			for _, r := range res {
				if r.Deleted != "" {
					fmt.Fprintf(c.App.Writer, "Deleted: %s\n", r.Deleted)
				}
			}
		}
		if firstErr != nil {
			return failed()
		}
		return nil
	})
}

func pruneImages(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "image prune [OPTIONS]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		if !c.Bool("force") {
			what := "all dangling images"
			if c.Bool("all") {
				what = "all images without at least one container associated to them"
			}
			if !confirm("WARNING! This will remove " + what + ".") {
				return nil
			}
		}
		rep, err := e.ImagePrune(ctx, c.Bool("all"), f)
		if err != nil {
			return err
		}
		if len(rep.ImagesDeleted) > 0 {
			fmt.Fprintln(c.App.Writer, "Deleted Images:")
			for _, r := range rep.ImagesDeleted {
				fmt.Fprintf(c.App.Writer, "deleted: %s\n", r.Deleted)
			}
		}
		fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d images\n", len(rep.ImagesDeleted))
		return nil
	})
}
