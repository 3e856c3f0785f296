package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
)

// errNoCheckpoints is the answer of every checkpoint command: Docker's
// (experimental) checkpoints are CRIU's, which skiff does not use.
func errNoCheckpoints(what string) error {
	return fmt.Errorf("%s: checkpoint and restore need CRIU, which skiff does not use: stop the container and start it again instead: %w", what, errdefs.ErrNotImplemented)
}

// checkpointCommand is Docker's `checkpoint create|ls|rm`, each refusing
// in one line why it cannot work here.
func checkpointCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "checkpoint-dir", Usage: "where checkpoints are kept (none can be made here)"}
	refuse := func(name, usage, args string, flags ...cli.Flag) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args, Flags: append([]cli.Flag{dir}, flags...),
			UsageText: "skiff checkpoint " + name + " [OPTIONS] " + args + "\n\nNot supported: checkpoints need CRIU, which skiff does not use.",
			Action:    func(*cli.Context) error { return errNoCheckpoints("checkpoint " + name) },
		}
	}
	return &cli.Command{
		Name:  "checkpoint",
		Usage: "Manage checkpoints (not supported: they need CRIU)",
		Subcommands: []*cli.Command{
			refuse("create", "Create a checkpoint from a running container", "CONTAINER CHECKPOINT",
				&cli.BoolFlag{Name: "leave-running", Usage: "leave the container running after the checkpoint"}),
			refuse("ls", "List checkpoints for a container", "CONTAINER"),
			refuse("rm", "Remove a checkpoint", "CONTAINER CHECKPOINT"),
		},
	}
}
