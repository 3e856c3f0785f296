package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:                   "run",
		Usage:                  "Create and run a new container from an image",
		ArgsUsage:              "IMAGE [COMMAND] [ARG...]",
		UsageText:              "skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nExample: skiff run --rm -it 127.0.0.1:5000/busybox sh",
		UseShortOptionHandling: true,
		Flags: append(pullFlags(),
			&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background (not available yet)"},
			&cli.StringFlag{Name: "name", Usage: "assign a name to the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables (KEY=VALUE, or KEY to copy it from here)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user[:group], names or numbers"},
			&cli.StringFlag{Name: "entrypoint", Usage: "override the image's ENTRYPOINT"},
			&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}, Usage: "container host name"},
			&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind mount /host/path:/container/path[:ro]"},
			&cli.StringSliceFlag{Name: "mount", Usage: "attach a mount: type=bind,source=/host,target=/ctr[,readonly] or type=tmpfs,target=/ctr"},
			&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs at /path[:options]"},
			&cli.BoolFlag{Name: "read-only", Usage: "mount the root file system read-only"},
			&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Usage: "none, host or private (default: private, via slirp4netns)"},
			&cli.StringSliceFlag{Name: "cap-add", Usage: "add Linux capabilities"},
			&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop Linux capabilities"},
			&cli.BoolFlag{Name: "privileged", Usage: "give extended privileges to this container"},
			&cli.StringSliceFlag{Name: "security-opt", Usage: "no-new-privileges, seccomp=unconfined or seccomp=FILE"},
			&cli.BoolFlag{Name: "init", Usage: "run an init inside the container that forwards signals and reaps processes"},
			&cli.StringFlag{Name: "pull", Value: "missing", Usage: "pull the image: missing, always or never"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the pull output"},
		),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	if c.NArg() < 1 {
		return errdefs.Invalid("\"run\" needs at least 1 argument: usage: skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]")
	}
	if c.Bool("detach") {
		return fmt.Errorf("run -d: detached containers are not available yet: run in the foreground: %w", errdefs.ErrNotImplemented)
	}
	env, err := collectEnv(c.StringSlice("env-file"), c.StringSlice("env"))
	if err != nil {
		return err
	}
	o := runtime.RunOptions{
		Image:       c.Args().First(),
		Pull:        c.String("pull"),
		Platform:    c.String("platform"),
		Quiet:       c.Bool("quiet"),
		Name:        c.String("name"),
		Cmd:         c.Args().Tail(),
		Env:         env,
		Workdir:     c.String("workdir"),
		User:        c.String("user"),
		Hostname:    c.String("hostname"),
		Volumes:     c.StringSlice("volume"),
		Mounts:      c.StringSlice("mount"),
		Tmpfs:       c.StringSlice("tmpfs"),
		ReadOnly:    c.Bool("read-only"),
		Network:     c.String("network"),
		CapAdd:      c.StringSlice("cap-add"),
		CapDrop:     c.StringSlice("cap-drop"),
		Privileged:  c.Bool("privileged"),
		SecurityOpt: c.StringSlice("security-opt"),
		Init:        c.Bool("init"),
		Remove:      c.Bool("rm"),
		Interactive: c.Bool("interactive"),
		TTY:         c.Bool("tty"),
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Warn:        warn,
	}
	if c.IsSet("entrypoint") {
		ep := c.String("entrypoint")
		o.Entrypoint = &ep
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		img, err := ensureImage(ctx, c, st, o.Image, o.Pull, o.Quiet)
		if err != nil {
			return err
		}
		return runtime.Run(ctx, st, img, o)
	})
}

// collectEnv reads --env-file files, then -e values; `KEY` alone copies
// KEY from skiff's own environment (and is dropped when unset), as Docker.
func collectEnv(files, flags []string) ([]string, error) {
	var out []string
	add := func(v, where string) error {
		if v == "" || strings.HasPrefix(v, "=") {
			return errdefs.Invalid("invalid environment variable %q in %s: want KEY=VALUE", v, where)
		}
		if strings.Contains(v, "=") {
			out = append(out, v)
		} else if val, ok := os.LookupEnv(v); ok {
			out = append(out, v+"="+val)
		}
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, errdefs.Invalid("--env-file %s: %v", f, err)
		}
		s := bufio.NewScanner(fh)
		for n := 1; s.Scan(); n++ {
			line := strings.TrimLeft(s.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(line, fmt.Sprintf("%s line %d", f, n)); err != nil {
				fh.Close()
				return nil, err
			}
		}
		fh.Close()
	}
	for _, e := range flags {
		if err := add(e, "-e"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
