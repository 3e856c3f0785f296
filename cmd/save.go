package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
)

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "Save one or more images to a tar archive (streamed to STDOUT by default)",
		ArgsUsage: "IMAGE [IMAGE...]",
		UsageText: "skiff save [OPTIONS] IMAGE [IMAGE...]\n\nExample: skiff save -o busybox.tar busybox:latest",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file (a directory for oci-dir) instead of STDOUT"},
			&cli.StringFlag{Name: "format", Value: storage.FormatDockerArchive, Usage: "docker-archive, oci-archive or oci-dir"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, -1, "save [OPTIONS] IMAGE [IMAGE...]"); err != nil {
				return err
			}
			o := storage.SaveOptions{Format: c.String("format"), Refs: c.Args().Slice()}
			out := c.String("output")
			switch o.Format {
			case storage.FormatDockerArchive, storage.FormatOCIArchive:
			case storage.FormatOCIDir:
				if out == "" {
					return errdefs.Invalid("save --format oci-dir needs -o DIRECTORY")
				}
				o.Dir = out
				return withStore(c, func(ctx context.Context, st *storage.Store) error { return st.Save(ctx, o) })
			default:
				return errdefs.Invalid("invalid --format %q: want docker-archive, oci-archive or oci-dir", o.Format)
			}
			if out == "" {
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return errdefs.Invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				o.Writer = c.App.Writer
				return withStore(c, func(ctx context.Context, st *storage.Store) error { return st.Save(ctx, o) })
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				return writeFileAtomic(out, func(f *os.File) error {
					o.Writer = f
					return st.Save(ctx, o)
				})
			})
		},
	}
}

// writeFileAtomic writes path through a temporary file in its directory,
// renamed into place only when fill succeeded: a failure changes nothing.
func writeFileAtomic(path string, fill func(f *os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	return nil
}
