package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// eachArg runs fn for every argument (containers, networks, volumes), printing the argument on
// success and the error otherwise, as Docker does; the exit status is
// 125 (or the first error's class) when any failed.
func eachArg(c *cli.Context, usage string, fn func(ctx context.Context, st *storage.Store, ref string) error) error {
	if err := exactArgs(c, 1, -1, usage); err != nil {
		return err
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		var first error
		for _, ref := range c.Args().Slice() {
			if err := fn(ctx, st, ref); err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
				if first == nil {
					first = err
				}
				continue
			}
			fmt.Fprintln(c.App.Writer, ref)
		}
		if first != nil {
			return &errdefs.ExitStatus{Code: errdefs.ExitCode(first)}
		}
		return nil
	})
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "Start one or more stopped containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff start [OPTIONS] CONTAINER [CONTAINER...]\n\nExample: skiff start -a job",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach STDOUT/STDERR and forward signals"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "attach the container's STDIN"},
			&cli.StringFlag{Name: "detach-keys", Value: "ctrl-p,ctrl-q", Usage: "key sequence that detaches"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.Bool("attach") || c.Bool("interactive") {
				if err := exactArgs(c, 1, 1, "start -a CONTAINER (one container when attaching)"); err != nil {
					return err
				}
				keys, err := parseDetachKeys(c.String("detach-keys"))
				if err != nil {
					return err
				}
				return withStore(c, func(ctx context.Context, st *storage.Store) error {
					ctr, err := runtime.Lookup(c.Args().First())
					if err != nil {
						return err
					}
					if ctr.State.Running {
						return fmt.Errorf("container %s is already running: use attach: %w", ctr.Name, errdefs.ErrConflict)
					}
					return attachAndStart(ctr, c.Bool("interactive") && ctr.Config.OpenStdin, ctr.Config.Tty, true, keys)
				})
			}
			return eachArg(c, "start CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
				_, err := runtime.Start(ref)
				return err
			})
		},
	}
}

func stopFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout or 10)"},
		&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Usage: "signal to send (default: the container's stop signal)"},
	}
}

func stopTimeout(c *cli.Context) *int {
	if !c.IsSet("time") {
		return nil
	}
	t := c.Int("time")
	return &t
}

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "Stop one or more running containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff stop [OPTIONS] CONTAINER [CONTAINER...]\n\nExample: skiff stop -t 2 web",
		Flags:     stopFlags(),
		Action: func(c *cli.Context) error {
			if s := c.String("signal"); s != "" {
				if _, err := runtime.ParseSignal(s); err != nil {
					return err
				}
			}
			return eachArg(c, "stop [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
				_, err := runtime.Stop(ref, stopTimeout(c), c.String("signal"))
				return err
			})
		},
	}
}

func restartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "Restart one or more containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff restart [OPTIONS] CONTAINER [CONTAINER...]\n\nExample: skiff restart web",
		Flags:     stopFlags(),
		Action: func(c *cli.Context) error {
			return eachArg(c, "restart [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
				if _, err := runtime.Stop(ref, stopTimeout(c), c.String("signal")); err != nil {
					return err
				}
				_, err := runtime.Start(ref)
				return err
			})
		},
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "Kill one or more running containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff kill [OPTIONS] CONTAINER [CONTAINER...]\n\nExample: skiff kill -s HUP web",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal to send"}},
		Action: func(c *cli.Context) error {
			sig, err := runtime.ParseSignal(c.String("signal"))
			if err != nil {
				return err
			}
			return eachArg(c, "kill [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
				_, err := runtime.Kill(ref, sig)
				return err
			})
		},
	}
}

func rmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill and remove a running container"},
		&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove the container's anonymous volumes too"},
	}
}

func rmAction(c *cli.Context) error {
	return eachArg(c, "rm [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
		_, err := runtime.Remove(st, ref, c.Bool("force"), c.Bool("volumes"))
		return err
	})
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "Remove one or more containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff rm [OPTIONS] CONTAINER [CONTAINER...]\n\nExample: skiff rm -f web",
		Flags:     rmFlags(),
		Action:    rmAction,
	}
}

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "Block until one or more containers stop, then print their exit codes",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff wait CONTAINER [CONTAINER...]\n\nExample: skiff wait job",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, -1, "wait CONTAINER [CONTAINER...]"); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				var first error
				for _, ref := range c.Args().Slice() {
					code, err := runtime.Wait(ref)
					if err != nil {
						fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
						if first == nil {
							first = err
						}
						continue
					}
					fmt.Fprintln(c.App.Writer, code)
				}
				if first != nil {
					return &errdefs.ExitStatus{Code: errdefs.ExitCode(first)}
				}
				return nil
			})
		},
	}
}

func pauseCommand(pause bool) *cli.Command {
	name, usage := "pause", "Pause all processes within one or more containers"
	if !pause {
		name, usage = "unpause", "Unpause all processes within one or more containers"
	}
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff " + name + " CONTAINER [CONTAINER...]\n\nNeeds the freezer cgroup: as root on this host, not rootless on cgroup v1.",
		Action: func(c *cli.Context) error {
			return eachArg(c, name+" CONTAINER [CONTAINER...]", func(ctx context.Context, st *storage.Store, ref string) error {
				if pause {
					return runtime.Pause(ref)
				}
				return runtime.Unpause(ref)
			})
		},
	}
}

func renameCommand() *cli.Command {
	return &cli.Command{
		Name:      "rename",
		Usage:     "Rename a container",
		ArgsUsage: "CONTAINER NEW_NAME",
		UsageText: "skiff rename CONTAINER NEW_NAME\n\nExample: skiff rename brave_heron_1a2b web",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, 2, "rename CONTAINER NEW_NAME"); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				return runtime.Rename(st, c.Args().Get(0), c.Args().Get(1))
			})
		},
	}
}
