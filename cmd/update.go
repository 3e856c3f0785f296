package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "Update configuration of one or more containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		UsageText: "skiff update [OPTIONS] CONTAINER [CONTAINER...]\n\n" +
			"A running container's cgroup changes at once, a stopped one's at its next start.\nRootless on a cgroup v1 host containers have no cgroup: only --restart can change.",
		Flags: append(updateResourceFlags(),
			&cli.StringFlag{Name: "restart", Usage: "restart policy to apply when a container exits: no, on-failure[:N], always, unless-stopped"}),
		Action: updateAction,
	}
}

// updateAction is Docker's update: the limits and the restart policy of
// each container named, its name printed on success and Docker's
// warnings after them.
func updateAction(c *cli.Context) error {
	if c.NArg() > 0 && c.NumFlags() == 0 {
		return errdefs.Invalid("you must provide one or more flags when using this command: see skiff update --help")
	}
	res, err := resourceOptions(c)
	if err != nil {
		return withStatus(exitUsage, err) // Docker: a flag value that does not parse
	}
	o := engine.UpdateOptions{Restart: c.String("restart"), Resources: res}
	var warnings []string
	err = eachArg(c, "update [OPTIONS] CONTAINER [CONTAINER...]", func(ctx context.Context, e *engine.Engine, ref string) error {
		ws, err := e.ContainerUpdate(ctx, ref, o)
		warnings = append(warnings, ws...)
		return err
	})
	if len(warnings) > 0 {
		fmt.Fprintln(c.App.Writer, strings.Join(warnings, "\n"))
	}
	return err
}
