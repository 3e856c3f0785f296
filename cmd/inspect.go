package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func inspectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Id}}'"},
		&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "display total file sizes (containers)"},
	}
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "Return low-level information on containers and images",
		ArgsUsage: "NAME|ID [NAME|ID...]",
		UsageText: "skiff inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Flags: append(inspectFlags(),
			&cli.StringFlag{Name: "type", Usage: "only inspect objects of this type: container or image"},
		),
		Action: func(c *cli.Context) error {
			t := c.String("type")
			if t != "" && t != "image" && t != "container" {
				return errdefs.Invalid("invalid --type %q: want container or image", t)
			}
			return inspectObjects(c, t)
		},
	}
}

// inspectObjects prints containers and images by name or ID; containers
// win when a name could be both, as in Docker.
func inspectObjects(c *cli.Context, kind string) error {
	return inspectEach(c, "inspect [OPTIONS] NAME|ID [NAME|ID...]", func(ctx context.Context, e *engine.Engine, ref string) (any, error) {
		if kind != "image" {
			ctr, err := e.ContainerInspect(ctx, ref, c.Bool("size"))
			if err == nil || kind == "container" || !isNotFound(err) {
				return ctr, err
			}
		}
		if err := checkPlatform(ctx, c, e, ref); err != nil {
			return nil, err
		}
		img, err := e.ImageInspect(ctx, ref)
		if kind == "" && isNotFound(err) {
			return nil, errdefs.NotFound("No such object: %s", ref)
		}
		return img, err
	})
}

// inspectEach is `X inspect`: one JSON array (or template result per
// object) of what it finds, an empty array when nothing is found and
// there is no template, then the first lookup error.
func inspectEach(c *cli.Context, usage string, find func(ctx context.Context, e *engine.Engine, ref string) (any, error)) error {
	if err := exactArgs(c, 1, -1, usage); err != nil {
		return err
	}
	format := c.String("format")
	if format != "" && format != "json" {
		if _, err := parseTemplate(format); err != nil {
			return err
		}
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		var out []any
		var first error
		for _, ref := range c.Args().Slice() {
			v, err := find(ctx, e, ref)
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			out = append(out, v)
		}
		if len(out) > 0 {
			if err := writeInspect(c.App.Writer, out, format); err != nil {
				return err
			}
		} else if format == "" {
			fmt.Fprintln(c.App.Writer, "[]")
		}
		return first
	})
}
