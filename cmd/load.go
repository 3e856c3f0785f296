package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func loadCommand() *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "Load an image from a tar archive or STDIN",
		UsageText: "skiff load [OPTIONS]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read from a tar archive file (docker-archive or oci-archive, plain or compressed) or an OCI layout directory, instead of STDIN"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the load output"},
			&cli.StringFlag{Name: "platform", Usage: "load only the images of this platform, os[/arch[/variant]] (default: an index gives this host's)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0, 0, "load [OPTIONS]"); err != nil {
				return err
			}
			var r io.Reader
			var dir string
			in := c.String("input")
			switch fi, err := os.Stat(in); {
			case in == "":
				if term.IsTerminal(int(os.Stdin.Fd())) {
					return errdefs.Invalid("requested load from stdin, but stdin is a terminal: use -i FILE or redirect")
				}
				r = os.Stdin
			case err != nil:
				return errdefs.NotFound("load: %s: %v", in, errUnwrapped(err))
			case fi.IsDir():
				dir = in
			default:
				f, err := os.Open(in)
				if err != nil {
					return fmt.Errorf("load: opening %s: %w", in, err)
				}
				defer f.Close()
				r = f
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				imgs, err := e.ImageLoad(ctx, r, dir, c.String("platform"))
				if err != nil {
					return err
				}
				printLoaded(c.App.Writer, imgs)
				return nil
			})
		},
	}
}

// printLoaded prints Docker's lines: one per name, or the ID of an
// untagged image. -q suppresses progress only, as in Docker.
func printLoaded(w io.Writer, imgs []engine.LoadedImage) {
	for _, img := range imgs {
		if len(img.Names) == 0 {
			fmt.Fprintf(w, "Loaded image ID: %s\n", img.ID)
		}
		for _, n := range img.Names {
			fmt.Fprintf(w, "Loaded image: %s\n", n)
		}
	}
}

func errUnwrapped(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
