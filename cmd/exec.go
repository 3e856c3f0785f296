package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "Execute a command in a running container",
		ArgsUsage: "CONTAINER COMMAND [ARG...]",
		UsageText: "skiff exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run the command in the background"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user[:group]"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
			&cli.BoolFlag{Name: "privileged", Usage: "give the command all capabilities"},
			detachKeysFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, -1, "exec [OPTIONS] CONTAINER COMMAND [ARG...]"); err != nil {
				return err
			}
			if !c.Bool("detach") {
				if err := checkTTY(c.Bool("interactive"), c.Bool("tty")); err != nil {
					return err
				}
			}
			env, err := collectEnv(c.StringSlice("env-file"), c.StringSlice("env"))
			if err != nil {
				return withStatus(exitUsage, err)
			}
			keys, err := engine.ParseDetachKeys(c.String("detach-keys"))
			if err != nil {
				return err
			}
			o := engine.ExecOptions{
				Cmd: c.Args().Tail(), Env: env, User: c.String("user"), Workdir: c.String("workdir"),
				Privileged: c.Bool("privileged"), Interactive: c.Bool("interactive"), TTY: c.Bool("tty"),
				Detach: c.Bool("detach"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			}
			if o.TTY && o.Interactive {
				o.DetachKeys = keys // Docker: the keys work on an interactive terminal
			}
			err = withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ContainerExec(ctx, c.Args().First(), o)
			})
			if errors.Is(err, engine.ErrDetached) {
				fmt.Fprintf(os.Stderr, "\nDetached from the exec in %s; the process keeps running.\n", c.Args().First())
				return nil
			}
			return execStatus(err)
		},
	}
}

// execStatus is exec's exit status, as Docker's: the process's own, 126
// when it could not be started, 127 when the command does not exist, and
// 1 when there was nothing to run it in (no such container, not running).
func execStatus(err error) error {
	if errors.Is(err, errdefs.ErrCannotInvoke) || errors.Is(err, errdefs.ErrCommandNotFound) {
		return runStatus(err)
	}
	return err
}
