package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/runtime"
)

// archiveCommands are the commands that move images and container file
// systems in and out of files: save, load, export, diff, history, commit.
func archiveCommands() []*cli.Command {
	return []*cli.Command{
		saveCommand(),
		loadCommand(),
		exportCommand(),
		diffCommand(),
		historyCommand(),
		commitCommand(),
	}
}

// addArchiveSubcommands adds `image save|load|history` and `container
// export|diff|commit` to the `image` and `container` commands of cmds.
func addArchiveSubcommands(cmds []*cli.Command) {
	for _, c := range cmds {
		switch c.Name {
		case "image":
			c.Subcommands = append(c.Subcommands, saveCommand(), loadCommand(), historyCommand())
		case "container":
			c.Subcommands = append(c.Subcommands, exportCommand(), diffCommand(), commitCommand())
		}
	}
}

// mountDestinations are where a container has mounts: their mount points
// in its layer are the runtime's, not changes of the user.
func mountDestinations(ctr *runtime.Container) []string {
	var out []string
	for _, b := range ctr.HostConfig.Binds {
		if m, err := runtime.ParseVolume(b); err == nil {
			out = append(out, m.Destination)
		}
	}
	for _, s := range ctr.HostConfig.Mounts {
		if m, err := runtime.ParseMount(s); err == nil {
			out = append(out, m.Destination)
		}
	}
	for _, t := range ctr.HostConfig.Tmpfs {
		if m, err := runtime.ParseTmpfs(t); err == nil {
			out = append(out, m.Destination)
		}
	}
	return out
}
