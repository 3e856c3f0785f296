package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "Import the contents from a tarball to create a filesystem image",
		ArgsUsage: "FILE|- [REPOSITORY[:TAG]]",
		UsageText: "skiff import [OPTIONS] FILE|- [REPOSITORY[:TAG]]\n\nExample: skiff import --change 'CMD [\"/bin/sh\"]' rootfs.tar mybox:1",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message for the imported image"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]"); err != nil {
				return err
			}
			o := storage.ImportOptions{Changes: c.StringSlice("change"), Message: c.String("message")}
			for _, ch := range o.Changes {
				var probe v1.Config
				if err := storage.ApplyChange(&probe, ch); err != nil {
					return err
				}
			}
			if c.NArg() == 2 {
				n, err := reference.Parse(c.Args().Get(1))
				if err != nil {
					return err
				}
				o.Name = n.String()
			}
			var in io.Reader = os.Stdin
			if src := c.Args().First(); src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: opening %s: %w", src, err)
				}
				defer f.Close()
				in = f
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				img, err := st.Import(ctx, in, o)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "sha256:%s\n", img.ID)
				return nil
			})
		},
	}
}
