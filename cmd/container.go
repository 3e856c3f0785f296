package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// containerCommand groups the container commands under `skiff container`,
// as Docker does.
func containerCommand() *cli.Command {
	return &cli.Command{
		Name:  "container",
		Usage: "Manage containers",
		Subcommands: []*cli.Command{
			{Name: "ls", Aliases: []string{"list", "ps"}, Usage: "List containers", Flags: psFlags(), Action: psAction, UseShortOptionHandling: true},
			{Name: "rm", Aliases: []string{"remove"}, Usage: "Remove one or more containers", ArgsUsage: "CONTAINER [CONTAINER...]", Flags: rmFlags(), Action: rmAction},
			{
				Name:  "prune",
				Usage: "Remove all stopped containers",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"}},
				Action: func(c *cli.Context) error {
					if !c.Bool("force") && !confirm("WARNING! This will remove all stopped containers.") {
						return nil
					}
					return withStore(c, func(ctx context.Context, st *storage.Store) error {
						all, err := runtime.List()
						if err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, "Deleted Containers:")
						var reclaimed int64
						for _, ctr := range all {
							switch ctr.State.Status {
							case runtime.StatusExited, runtime.StatusCreated, runtime.StatusDead:
							default:
								continue
							}
							if ctr.State.Status == runtime.StatusCreated && ctr.State.SupervisorPid != 0 {
								continue // being started right now
							}
							size, _ := st.Raw().ContainerSize(ctr.ID)
							if _, err := runtime.Remove(st, ctr.ID, ctr.State.Status == runtime.StatusDead, false); err == nil {
								fmt.Fprintln(c.App.Writer, ctr.ID)
								reclaimed += size
							}
						}
						fmt.Fprintf(c.App.Writer, "\nTotal reclaimed space: %s\n", humanBytes(reclaimed))
						return nil
					})
				},
			},
			createCommand(), startCommand(), stopCommand(), restartCommand(), killCommand(),
			waitCommand(), logsCommand(), execCommand(), attachCommand(), topCommand(),
			renameCommand(), pauseCommand(true), pauseCommand(false), portCommand(), statsCommand(),
			{Name: "inspect", Usage: "Display detailed information on containers", ArgsUsage: "CONTAINER [CONTAINER...]", Flags: []cli.Flag{formatFlag()}, Action: func(c *cli.Context) error { return inspectObjects(c, "container") }},
			{Name: "run", Usage: "Create and run a new container", Flags: runCommand().Flags, Action: runAction, UseShortOptionHandling: true},
		},
	}
}

// confirm asks a yes/no question on the terminal, as Docker's prune does.
func confirm(warning string) bool {
	fmt.Fprintf(os.Stderr, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	if a != "y" && a != "yes" {
		fmt.Fprintln(os.Stderr)
		return false
	}
	return true
}

// stepCommands are the hidden steps the supervisor (skiff-supervisor)
// runs with this binary: starting, cleaning up and probing a container.
func stepCommands() []*cli.Command {
	step := func(name string, fn func(c *cli.Context) error) *cli.Command {
		return &cli.Command{
			Name:            name,
			Hidden:          true,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				if err := userns.Enter(); err != nil {
					return err
				}
				return fn(c)
			},
		}
	}
	return []*cli.Command{
		step("__start", func(c *cli.Context) error { return runtime.StartStep(c.Args().First()) }),
		step("__cleanup", func(c *cli.Context) error {
			return runtime.CleanupStep(c.Args().First(), c.Args().Get(1) == "remove")
		}),
		step("__health", func(c *cli.Context) error { return runtime.HealthStep(c.Args().First()) }),
	}
}
