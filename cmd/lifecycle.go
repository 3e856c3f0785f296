package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "Start one or more stopped containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff start [OPTIONS] CONTAINER [CONTAINER...]\n   or: skiff start --all [--filter restart-policy=always]...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach STDOUT/STDERR and forward signals"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "attach the container's STDIN"},
			detachKeysFlag(),
			&cli.BoolFlag{Name: "all", Usage: "start every container that is not running (with --filter: those that match), recovering those whose supervisor died with the machine"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "with --all: restart-policy=no|on-failure|always|unless-stopped, name=, id=, label=, status=, network="},
			&cli.StringFlag{Name: "checkpoint", Usage: "restore from this checkpoint (not supported: checkpoints need CRIU)"},
			&cli.StringFlag{Name: "checkpoint-dir", Usage: "where the checkpoint is (not supported: checkpoints need CRIU)"},
		},
		Action: func(c *cli.Context) error {
			if c.IsSet("checkpoint") || c.IsSet("checkpoint-dir") {
				return errNoCheckpoints("start --checkpoint")
			}
			if c.Bool("all") {
				return startAll(c)
			}
			if c.IsSet("filter") {
				return errdefs.Invalid("--filter goes with --all: skiff start --all --filter restart-policy=always")
			}
			if c.Bool("attach") || c.Bool("interactive") {
				if err := exactArgs(c, 1, 1, "start -a CONTAINER (one container when attaching)"); err != nil {
					return err
				}
				keys, err := engine.ParseDetachKeys(c.String("detach-keys"))
				if err != nil {
					return err
				}
				return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
					ctr, err := e.ContainerInspect(ctx, c.Args().First(), false)
					if err != nil {
						return err
					}
					name := ctr.Name[1:]
					if ctr.State.Running {
						return fmt.Errorf("container %s is already running: use attach: %w", name, errdefs.ErrConflict)
					}
					return attachAndStart(ctx, e, ctr.ID, name, c.Bool("interactive") && ctr.Config.OpenStdin, ctr.Config.Tty, true, keys)
				})
			}
			// Under a systemd Type=notify unit, systemd hears from this
			// process once the container runs (see run --sdnotify).
			notify := os.Getenv("NOTIFY_SOCKET")
			return eachArg(c, "start CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
				return e.ContainerStartNotify(ctx, ref, notify)
			})
		},
	}
}

// startAll is `start --all [--filter K=V]...`: it prints the name of each
// container it starts; a failure is an Error line and the exit status,
// and the others are started all the same.
func startAll(c *cli.Context) error {
	if c.NArg() > 0 || c.Bool("attach") || c.Bool("interactive") {
		return errdefs.Invalid("start --all takes no containers and no --attach or --interactive: skiff start --all [--filter K=V]...")
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		res, err := e.ContainerStartAll(ctx, engine.StartAllOptions{Filters: f})
		var first error
		for _, r := range res {
			if r.Err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s: %s\n", r.Name, oneLine(r.Err))
				if first == nil {
					first = r.Err
				}
				continue
			}
			fmt.Fprintln(c.App.Writer, r.Name)
		}
		if err != nil {
			return err
		}
		if first != nil {
			return failed()
		}
		return nil
	})
}

func stopFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "time", Aliases: []string{"t", "timeout"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout or 10)"},
		&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Usage: "signal to send (default: the container's stop signal)"},
	}
}

// stopOptions are --time and --signal, checked before any container is touched.
func stopOptions(c *cli.Context) (engine.StopOptions, error) {
	o := engine.StopOptions{Signal: c.String("signal")}
	if c.IsSet("time") {
		t := c.Int("time")
		o.Timeout = &t
	}
	if o.Signal != "" {
		if _, err := engine.ParseSignal(o.Signal); err != nil {
			return o, err
		}
	}
	return o, nil
}

func stopCommand() *cli.Command {
	return stoppingCommand("stop", "Stop one or more running containers", (*engine.Engine).ContainerStop)
}

func restartCommand() *cli.Command {
	return stoppingCommand("restart", "Restart one or more containers", (*engine.Engine).ContainerRestart)
}

// stoppingCommand is stop or restart: --time and --signal, then the
// engine's verb for each container.
func stoppingCommand(name, usage string, verb func(*engine.Engine, context.Context, string, engine.StopOptions) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff " + name + " [OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     stopFlags(),
		Action: func(c *cli.Context) error {
			o, err := stopOptions(c)
			if err != nil {
				return err
			}
			return eachArg(c, name+" [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
				return verb(e, ctx, ref, o)
			})
		},
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "Kill one or more running containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff kill [OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal to send"}},
		Action: func(c *cli.Context) error {
			if _, err := engine.ParseSignal(c.String("signal")); err != nil {
				return err
			}
			return eachArg(c, "kill [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
				return e.ContainerKill(ctx, ref, c.String("signal"))
			})
		},
	}
}

func rmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill and remove a running container"},
		&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove the container's anonymous volumes too"},
		&cli.BoolFlag{Name: "link", Aliases: []string{"l"}, Usage: "remove a legacy link: there are none here (user-defined networks replace --link)"},
	}
}

func rmAction(c *cli.Context) error {
	if c.Bool("link") {
		return errdefs.Invalid("rm --link removes a legacy container link, and skiff has none: containers find each other on user-defined networks (skiff network create)")
	}
	o := engine.RemoveOptions{Force: c.Bool("force"), Volumes: c.Bool("volumes")}
	return eachArg(c, "rm [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
		return e.ContainerRemove(ctx, ref, o)
	})
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "Remove one or more containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff rm [OPTIONS] CONTAINER [CONTAINER...]",
		Flags:     rmFlags(),
		Action:    rmAction,
	}
}

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "Block until one or more containers stop, then print their exit codes",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff wait CONTAINER [CONTAINER...]",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, -1, "wait CONTAINER [CONTAINER...]"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				var first error
				for _, ref := range c.Args().Slice() {
					code, err := e.ContainerWait(ctx, ref)
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
					return failed()
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
			return eachArg(c, name+" CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
				if pause {
					return e.ContainerPause(ctx, ref)
				}
				return e.ContainerUnpause(ctx, ref)
			})
		},
	}
}

func renameCommand() *cli.Command {
	return &cli.Command{
		Name:      "rename",
		Usage:     "Rename a container",
		ArgsUsage: "CONTAINER NEW_NAME",
		UsageText: "skiff rename CONTAINER NEW_NAME",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, 2, "rename CONTAINER NEW_NAME"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				return e.ContainerRename(ctx, c.Args().Get(0), c.Args().Get(1))
			})
		},
	}
}
