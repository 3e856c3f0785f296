package cmd

import (
	"context"
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
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return errdefs.Invalid("\"exec\" needs at least 2 arguments: usage: skiff exec [OPTIONS] CONTAINER COMMAND [ARG...]")
			}
			env, err := collectEnv(c.StringSlice("env-file"), c.StringSlice("env"))
			if err != nil {
				return err
			}
			o := engine.ExecOptions{
				Cmd: c.Args().Tail(), Env: env, User: c.String("user"), Workdir: c.String("workdir"),
				Privileged: c.Bool("privileged"), Interactive: c.Bool("interactive"), TTY: c.Bool("tty"),
				Detach: c.Bool("detach"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ContainerExec(ctx, c.Args().First(), o)
			})
		},
	}
}
