package cmd

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "Save one or more images to a tar archive (streamed to STDOUT by default)",
		ArgsUsage: "IMAGE [IMAGE...]",
		UsageText: "skiff save [OPTIONS] IMAGE [IMAGE...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file (a directory for oci-dir) instead of STDOUT"},
			&cli.StringFlag{Name: "format", Value: engine.FormatDockerArchive, Usage: "docker-archive, oci-archive or oci-dir"},
			platformFlag("save only this platform's images"),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, -1, "save [OPTIONS] IMAGE [IMAGE...]"); err != nil {
				return err
			}
			o := engine.ImageSaveOptions{Format: c.String("format"), Refs: c.Args().Slice(), Path: c.String("output")}
			if o.Path == "" && o.Format != engine.FormatOCIDir {
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return errdefs.Invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				o.Writer = c.App.Writer
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				if err := checkPlatform(ctx, c, e, o.Refs...); err != nil {
					return err
				}
				return e.ImageSave(ctx, o)
			})
		},
	}
}
