package cmd

import (
	"context"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func cpCommand() *cli.Command {
	return &cli.Command{
		Name:      "cp",
		Usage:     "Copy files/folders between a container and the local filesystem",
		ArgsUsage: "CONTAINER:SRC_PATH DEST_PATH|-  or  SRC_PATH|- CONTAINER:DEST_PATH",
		UsageText: "skiff cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\nskiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "archive", Aliases: []string{"a"}, Usage: "archive mode (copy all uid/gid information)"},
			&cli.BoolFlag{Name: "follow-link", Aliases: []string{"L"}, Usage: "always follow a symbolic link in SRC_PATH"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "accepted for compatibility"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, 2, "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|- (or the other way)"); err != nil {
				return err
			}
			src, dst := c.Args().Get(0), c.Args().Get(1)
			sCtr, sPath, sIn := splitCopyArg(src)
			dCtr, dPath, dIn := splitCopyArg(dst)
			o := engine.CopyOptions{Archive: c.Bool("archive"), FollowLink: c.Bool("follow-link")}
			switch {
			case sIn && dIn:
				return errdefs.Invalid("copying between containers is not supported: copy to the host first")
			case !sIn && !dIn:
				return errdefs.Invalid("must specify at least one container source: CONTAINER:PATH")
			}
			if dst == "-" && term.IsTerminal(int(os.Stdout.Fd())) {
				return errdefs.Invalid("cowardly refusing to write a tar stream to a terminal: redirect it or give a path")
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				if sIn {
					return e.CopyFromContainer(ctx, sCtr, sPath, dst, os.Stdout, o)
				}
				return e.CopyToContainer(ctx, dCtr, src, os.Stdin, dPath, o)
			})
		},
	}
}

// splitCopyArg splits CONTAINER:PATH; a path with a / before the colon
// (or starting with . or /) is a local path, as in Docker.
func splitCopyArg(a string) (ctr, p string, inContainer bool) {
	if a == "-" || strings.HasPrefix(a, "/") || strings.HasPrefix(a, ".") {
		return "", a, false
	}
	i := strings.Index(a, ":")
	if i <= 0 || strings.Contains(a[:i], "/") {
		return "", a, false
	}
	return a[:i], a[i+1:], true
}
