// Package cmd is skiff's command line: one file per command or small group
// of commands, each turning flags into the engine's options, calling the
// engine and printing its report the way Docker's CLI does. Nothing here
// decides how containers or images work, and nothing below it prints: it
// imports the engine, never the packages under it.
package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// logLevels are --log-level's values.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// Main runs the command line and returns the process's exit status.
func Main(args []string, version string) int {
	engine.Version = version
	// -h is --hostname for run and create, as in Docker; help is -h
	// elsewhere (see helpFlag).
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version and quit"}
	cli.HelpPrinter = helpPrinter // with the command's EXAMPLES
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "skiff version %s\n", c.App.Version) }
	args = helpArgs(args)
	app := &cli.App{
		Name:                      "skiff",
		Usage:                     "a daemonless, rootless, Docker-compatible container engine",
		Version:                   version,
		DisableSliceFlagSeparator: true,
		UseShortOptionHandling:    true,
		OnUsageError:              usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Aliases: []string{"l"}, Value: "warn", Usage: "diagnostics on stderr: debug, info, warn or error"},
			&cli.BoolFlag{Name: "debug", Aliases: []string{"D"}, Usage: "same as --log-level debug"},
		},
		Before:   setUpLogging,
		Commands: commandsFor(args, version),
		CommandNotFound: func(c *cli.Context, name string) {
			path := commandPath(c)
			fmt.Fprintf(os.Stderr, "Error: unknown command %q for %q: see %s --help\n", name, path, path)
			os.Exit(exitFailed)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, c := range app.Commands {
		prepare(c)
	}
	err := app.Run(interspersed(app, args))
	if err == nil {
		return 0
	}
	var st *errdefs.ExitStatus
	if !errors.As(err, &st) {
		fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
	}
	return exitCode(err)
}

// helpArgs turns `skiff help CMD [SUB...]` into `skiff CMD [SUB...]
// --help`, as Docker's help does: urfave/cli's help only looks at CMD
// (`help network create` would show network's help).
func helpArgs(args []string) []string {
	if len(args) < 3 || args[1] != "help" || strings.HasPrefix(args[2], "-") {
		return args
	}
	return append(append([]string{args[0]}, args[2:]...), "--help")
}

// commands are skiff's commands, Docker's names first.
func commands(version string) []*cli.Command {
	cmds := []*cli.Command{
		runCommand(), createCommand(), startCommand(), stopCommand(), restartCommand(), killCommand(),
		rmCommand(), psCommand(), logsCommand(), waitCommand(), execCommand(), attachCommand(),
		topCommand(), renameCommand(), pauseCommand(true), pauseCommand(false), portCommand(),
		statsCommand(), containerCommand(), networkCommand(), volumeCommand(), cpCommand(),
		buildCommand(), builderCommand(), pullCommand(), pushCommand(), searchCommand(), loginCommand(), logoutCommand(), manifestCommand(),
		imagesCommand(), imageCommand(), inspectCommand(), tagCommand(), rmiCommand(), importCommand(),
		saveCommand(), loadCommand(), exportCommand(), diffCommand(), historyCommand(), commitCommand(),
		systemCommand(), infoCommand(), versionCommand(version), eventsCommand(), servicesCommand(), kubeCommand(),
		generateCommand(), updateCommand(), checkpointCommand(),
	}
	return append(append(append(cmds, completionCommands()...), stepCommands()...), keeperCommand(), manCommand())
}

// alone are the commands Main builds by themselves when the command line
// starts with their name (and the steps every container's supervisor
// execs, see commandsFor): building all ~50 commands and their ~1000 flags
// costs ~0.5 ms at every start, in allocations and fresh pages. The others
// need the whole tree (help, completion, man) or take an argument.
// TestAloneCommands holds each to the command of that name in commands().
var alone = map[string]func() *cli.Command{
	"run": runCommand, "create": createCommand, "ps": psCommand, "images": imagesCommand, "inspect": inspectCommand,
	"start": startCommand, "stop": stopCommand, "restart": restartCommand, "kill": killCommand, "rm": rmCommand,
	"logs": logsCommand, "wait": waitCommand, "exec": execCommand, "attach": attachCommand, "top": topCommand,
	"rename": renameCommand, "port": portCommand, "stats": statsCommand, "container": containerCommand,
	"network": networkCommand, "volume": volumeCommand, "cp": cpCommand, "build": buildCommand,
	"builder": builderCommand, "pull": pullCommand, "push": pushCommand, "search": searchCommand,
	"login": loginCommand, "logout": logoutCommand, "manifest": manifestCommand, "image": imageCommand,
	"tag": tagCommand, "rmi": rmiCommand, "import": importCommand, "save": saveCommand, "load": loadCommand,
	"export": exportCommand, "diff": diffCommand, "history": historyCommand, "commit": commitCommand,
	"system": systemCommand, "info": infoCommand, "events": eventsCommand, "service": servicesCommand,
	"kube": kubeCommand, "generate": generateCommand, "update": updateCommand, "checkpoint": checkpointCommand,
	"__keeper": keeperCommand,
}

// commandsFor are the top-level commands Main needs for args: the one
// named first when it may be built alone, none for a bare --version (the
// app prints it before it looks at a command), else all of them.
func commandsFor(args []string, version string) []*cli.Command {
	if len(args) < 2 {
		return commands(version)
	}
	if len(args) == 2 && (args[1] == "--version" || args[1] == "-v") {
		return nil
	}
	if build, ok := alone[args[1]]; ok {
		return []*cli.Command{build()}
	}
	if slices.Contains(engine.Steps, args[1]) {
		return stepCommands()
	}
	return commands(version)
}

// prepare wires every command as Docker's CLI behaves: usage errors in
// skiff's words, and -h/--help everywhere (run and create keep -h for
// --hostname).
func prepare(c *cli.Command) {
	c.OnUsageError = usageError
	c.UseShortOptionHandling = true
	for _, f := range c.Flags {
		for _, n := range namesOf(f) {
			if n == "h" {
				// -h is taken: help is --help only, as in Docker.
				c.HideHelp = true
				c.Flags = append(c.Flags, &cli.BoolFlag{Name: "help", Usage: "show help"})
				action := c.Action
				c.Action = func(ctx *cli.Context) error {
					if ctx.Bool("help") {
						return cli.ShowCommandHelp(ctx.Lineage()[1], c.Name)
					}
					return action(ctx)
				}
			}
		}
	}
	skipFlagActions(c)
	for _, s := range c.Subcommands {
		prepare(s)
	}
}

// skipFlagActions keeps urfave/cli v2 from its flag-action pass, which
// skiff does not use (no skiff flag has an Action: TestNoFlagActions):
// between a command's Before and its Action, runFlagActions asks IsSet of
// every name of every flag, and IsSet of an unset flag walks all the
// command's flags calling Names(), each a regexp replacement and a new
// slice. For run and create (~150 flags) that is ~20000 of them, 2.3 ms
// of every run before its action starts. Before takes the flags out of
// that walk's sight and the action puts them back before anything reads
// them (IsSet of an alias needs them); the parsed values are in the
// context's flag set all along.
func skipFlagActions(c *cli.Command) {
	if c.Action == nil || len(c.Subcommands) > 0 || c.Before != nil {
		return
	}
	flags, action := c.Flags, c.Action
	c.Before = func(*cli.Context) error {
		c.Flags = nil
		return nil
	}
	c.Action = func(ctx *cli.Context) error {
		c.Flags = flags
		return action(ctx)
	}
}

// undefinedFlag is compiled at its first use, not at every start of skiff.
var undefinedFlag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`flag provided but not defined: -+(\S+)`)
})

func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if m := undefinedFlag().FindStringSubmatch(msg); m != nil {
		dash := "--"
		if len(m[1]) == 1 {
			dash = "-"
		}
		msg = "unknown flag: " + dash + m[1]
	}
	name := commandPath(c)
	return withStatus(exitUsage, errdefs.Invalid("%s: %s: see %s --help", name, msg, name))
}

// setUpLogging sends skiff's diagnostics (and the libraries') to stderr
// at --log-level.
func setUpLogging(c *cli.Context) error {
	name := c.String("log-level")
	if c.Bool("debug") {
		name = "debug"
	}
	level, ok := logLevels[name]
	if !ok {
		return errdefs.Invalid("invalid --log-level %q: want debug, info, warn or error", name)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	// The storage library logs through logrus: only real errors, unless asked.
	logrus.SetLevel(map[slog.Level]logrus.Level{slog.LevelDebug: logrus.DebugLevel, slog.LevelInfo: logrus.InfoLevel}[level])
	if level > slog.LevelInfo {
		logrus.SetLevel(logrus.ErrorLevel)
	}
	return nil
}

// oneLine is an error as skiff prints it.
func oneLine(err error) string { return errdefs.Message(err) }

func warn(msg string) { fmt.Fprintf(os.Stderr, "WARNING: %s\n", msg) }

// exactArgs checks the number of positional arguments.
func exactArgs(c *cli.Context, min, max int, usage string) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		return errdefs.Invalid("%q needs %s: usage: skiff %s", strings.TrimPrefix(commandPath(c), "skiff "), argCount(min, max), usage)
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

// withEngine runs fn with the user's engine. Entering the user's
// namespace may run skiff again from the start, so commands read stdin
// and make temporary files only inside fn.
func withEngine(c *cli.Context, fn func(ctx context.Context, e *engine.Engine) error) error {
	e, err := engine.New(engine.WithLogger(slog.Default()), engine.WithWarnings(warn))
	if err != nil {
		return err
	}
	defer e.Close()
	return fn(c.Context, e)
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

// errSkipArg, from eachArg's fn, passes over an argument silently.
var errSkipArg = errors.New("skipped")

// eachArg runs fn for every argument (containers, networks, volumes),
// printing the argument on success and the error otherwise, as Docker
// does; the exit status is 1 when any failed.
func eachArg(c *cli.Context, usage string, fn func(ctx context.Context, e *engine.Engine, ref string) error) error {
	if err := exactArgs(c, 1, -1, usage); err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		var first error
		for _, ref := range c.Args().Slice() {
			if err := fn(ctx, e, ref); errors.Is(err, errSkipArg) {
				continue
			} else if err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
				if first == nil {
					first = err
				}
				continue
			}
			fmt.Fprintln(c.App.Writer, ref)
		}
		if first != nil {
			return failed()
		}
		return nil
	})
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

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
