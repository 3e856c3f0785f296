// Package cmd is skiff's command line: one file per command, each turning
// flags into an options struct and calling the engine packages. Nothing
// here decides how containers or images work; printing is decided here.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// Main runs the command line and returns the process's exit status.
func Main(args []string, version string) int {
	userns.Warn = warn
	// Libraries log through logrus; only real errors should reach users.
	logrus.SetLevel(logrus.ErrorLevel)
	// -h is --hostname for run, as in Docker; help is --help.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
	app := &cli.App{
		Name:                      "skiff",
		Usage:                     "a daemonless, rootless, Docker-compatible container engine",
		Version:                   version,
		HideVersion:               true,
		DisableSliceFlagSeparator: true,
		UseShortOptionHandling:    true,
		OnUsageError:              usageError,
		Commands: []*cli.Command{
			runCommand(),
			createCommand(),
			startCommand(),
			stopCommand(),
			restartCommand(),
			killCommand(),
			rmCommand(),
			psCommand(),
			logsCommand(),
			waitCommand(),
			execCommand(),
			attachCommand(),
			topCommand(),
			renameCommand(),
			pauseCommand(true),
			pauseCommand(false),
			portCommand(),
			statsCommand(),
			containerCommand(),
			networkCommand(),
			volumeCommand(),
			cpCommand(),
			buildCommand(),
			builderCommand(),
			pullCommand(),
			pushCommand(),
			loginCommand(),
			logoutCommand(),
			imagesCommand(),
			imageCommand(),
			inspectCommand(),
			tagCommand(),
			rmiCommand(),
			importCommand(),
			systemCommand(),
			infoCommand(),
			versionCommand(version),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "Error: unknown command %q for skiff: see skiff --help\n", name)
			os.Exit(errdefs.ExitEngine)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.Commands = append(app.Commands, stepCommands()...)
	app.Commands = append(app.Commands, archiveCommands()...)
	addArchiveSubcommands(app.Commands) // image save|load|history, container export|diff|commit
	for _, c := range app.Commands {
		setUsageHandler(c)
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var st *errdefs.ExitStatus
	if !errors.As(err, &st) {
		fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
	}
	return errdefs.ExitCode(err)
}

func setUsageHandler(c *cli.Command) {
	c.OnUsageError = usageError
	for _, s := range c.Subcommands {
		setUsageHandler(s)
	}
}

var undefinedFlag = regexp.MustCompile(`flag provided but not defined: -+(\S+)`)

func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		dash := "--"
		if len(m[1]) == 1 {
			dash = "-"
		}
		msg = "unknown flag: " + dash + m[1]
	}
	name := commandPath(c)
	return errdefs.Invalid("%s: %s: see %s --help", name, msg, name)
}

// oneLine strips the class suffixes that only matter for exit codes.
func oneLine(err error) string {
	s := err.Error()
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrUnavailable, errdefs.ErrAlreadyExists, errdefs.ErrNotImplemented, errdefs.ErrCannotInvoke, errdefs.ErrCommandNotFound} {
		s = strings.TrimSuffix(s, ": "+class.Error())
	}
	return strings.ReplaceAll(s, "\n", " ")
}

func warn(msg string) { fmt.Fprintf(os.Stderr, "WARNING: %s\n", msg) }

// exactArgs checks the number of positional arguments.
func exactArgs(c *cli.Context, min, max int, usage string) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		return errdefs.Invalid("%q needs %s: usage: skiff %s", c.Command.FullName(), argCount(min, max), usage)
	}
	return nil
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 1:
		return "exactly 1 argument"
	case min == max:
		return fmt.Sprintf("exactly %d arguments", min)
	case max < 0:
		return fmt.Sprintf("at least %d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

// withStore enters the user namespace, opens the store and runs fn.
func withStore(c *cli.Context, fn func(ctx context.Context, st *storage.Store) error) error {
	if err := userns.Enter(); err != nil {
		return err
	}
	st, err := storage.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(c.Context, st)
}

// commandPath is the command as typed: "skiff image ls".
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(append([]string{"skiff"}, names...), " ")
}
