package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// containerCommand groups the container commands under `skiff container`,
// as Docker does.
func containerCommand() *cli.Command {
	return &cli.Command{
		Name:  "container",
		Usage: "Manage containers",
		Subcommands: []*cli.Command{
			{Name: "ls", Aliases: []string{"list", "ps"}, Usage: "List containers", Flags: psFlags(), Action: psAction},
			{Name: "rm", Aliases: []string{"remove"}, Usage: "Remove one or more containers", ArgsUsage: "CONTAINER [CONTAINER...]", Flags: rmFlags(), Action: rmAction},
			pruneCommand("Remove all stopped containers", "skiff container prune [OPTIONS]",
				"WARNING! This will remove all stopped containers.", "label=KEY[=VALUE], label!=…, until=TIME", nil,
				func(ctx context.Context, c *cli.Context, e *engine.Engine, f engine.Filters) error {
					rep, err := e.ContainerPrune(ctx, f)
					fmt.Fprintln(c.App.Writer, "Deleted Containers:")
					for _, id := range rep.ContainersDeleted {
						fmt.Fprintln(c.App.Writer, id)
					}
					fmt.Fprintf(c.App.Writer, "\nTotal reclaimed space: %s\n", humanBytes(int64(rep.SpaceReclaimed)))
					return err
				}),
			createCommand(), startCommand(), stopCommand(), restartCommand(), killCommand(),
			waitCommand(), logsCommand(), execCommand(), attachCommand(), topCommand(),
			renameCommand(), pauseCommand(true), pauseCommand(false), portCommand(), statsCommand(),
			exportCommand(), diffCommand(), commitCommand(), cpCommand(), updateCommand(),
			{Name: "inspect", Usage: "Display detailed information on containers", ArgsUsage: "CONTAINER [CONTAINER...]", Flags: inspectFlags(), Action: func(c *cli.Context) error { return inspectObjects(c, "container") }},
			{Name: "run", Usage: "Create and run a new container", Flags: runCommand().Flags, Action: runAction},
		},
	}
}

// stepCommands are the hidden steps the supervisor (skiff-supervisor)
// runs with this binary: starting, cleaning up and probing a container.
func stepCommands() []*cli.Command {
	var out []*cli.Command
	for _, name := range engine.Steps {
		out = append(out, &cli.Command{
			Name:            name,
			Hidden:          true,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				return engine.RunStep(name, c.Args().First(), c.Args().Tail())
			},
		})
	}
	return out
}
