package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "Import the contents from a tarball to create a filesystem image",
		ArgsUsage: "FILE|- [REPOSITORY[:TAG]]",
		UsageText: "skiff import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message for the imported image"},
			&cli.StringFlag{Name: "platform", Usage: "record the image as this platform's, os[/arch[/variant]] (default: this host's)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]"); err != nil {
				return err
			}
			o := engine.ImageImportOptions{Changes: c.StringSlice("change"), Message: c.String("message"), Name: c.Args().Get(1), Platform: c.String("platform")}
			var in io.Reader = os.Stdin
			if src := c.Args().First(); src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: opening %s: %w", src, err)
				}
				defer f.Close()
				in = f
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				id, err := e.ImageImport(ctx, in, o)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, id)
				return nil
			})
		},
	}
}
