package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// stopAtFirstArg are the commands whose arguments after the first
// positional one are a container's command line, never skiff's flags
// (Docker's SetInterspersed(false)).
var stopAtFirstArg = map[string]bool{
	"run": true, "create": true, "exec": true,
	"container run": true, "container create": true, "container exec": true,
	"service create": true,
}

// interspersed lets flags follow positional arguments, as Docker's CLI
// does (`skiff rm web -f`): the command's flags are moved before its
// first positional argument, which is all urfave/cli reads flags from.
// "--" ends the flags; run, create and exec stop at their first
// positional argument.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	i := 1
	cmds, flags := app.Commands, app.Flags
	var cmd *cli.Command
	var path []string
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			n := flagWidth(flags, args[i:])
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		out = append(out, a)
		i++
		cmd, flags, cmds = c, c.Flags, c.Subcommands
		path = append(path, c.Name)
		if len(cmds) == 0 {
			break
		}
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return append(out, args[i:]...)
	}
	stop := stopAtFirstArg[strings.Join(path, " ")]
	var positional []string
	help := false
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			return append(append(append(out, positional...), "--"), args[i+1:]...)
		case strings.HasPrefix(a, "-") && a != "-":
			n := flagWidth(flags, args[i:])
			out = append(out, args[i:i+n]...)
			help = help || isHelpFlag(cmd, a)
			i += n
		case stop: // the image and the container's command line
			positional = append(positional, args[i:]...)
			i = len(args)
		default:
			positional = append(positional, a)
			i++
		}
	}
	if help {
		// `rm NAME --help` is rm's help, as in Docker: urfave/cli would
		// take NAME for a subcommand whose help was asked for.
		return out
	}
	return append(out, positional...)
}

// isHelpFlag reports whether a asks cmd for its help: --help, or -h
// where -h is not one of cmd's own flags (run's --hostname).
func isHelpFlag(cmd *cli.Command, a string) bool {
	return a == "--help" || a == "-h" && !cmd.HideHelp
}

// flagWidth is how many arguments the flag at args[0] takes: 2 when its
// value is the next argument, else 1.
func flagWidth(flags []cli.Flag, args []string) int {
	a := args[0]
	if strings.Contains(a, "=") || len(args) < 2 {
		return 1
	}
	name := strings.TrimLeft(a, "-")
	if !strings.HasPrefix(a, "--") && len(name) > 1 {
		// A group of short flags (-it) or a short flag with its value
		// attached (-p8080:80): the value, if any, is inside.
		name = name[len(name)-1:]
		if f := findFlag(flags, a[1:2]); f != nil && takesValue(f) {
			return 1
		}
	}
	if f := findFlag(flags, name); f != nil && takesValue(f) {
		return 2
	}
	return 1
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range namesOf(f) {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	dv, ok := f.(cli.DocGenerationFlag)
	return ok && dv.TakesValue()
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || c.HasName(name) {
			return c
		}
	}
	return nil
}

// namesOf is f.Names() without its cost: urfave/cli runs a regular
// expression over every name (a check for v1's "name, alias" form), and
// skiff looks at its ~400 flags on every start. skiff's names hold no comma
// or space, so the fields are the names (TestNamesOfAsCLI holds them to
// f.Names()).
func namesOf(f cli.Flag) []string {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.StringFlag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.StringSliceFlag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.IntFlag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.Int64Flag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.Uint64Flag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.Float64Flag:
		return append([]string{f.Name}, f.Aliases...)
	case *cli.DurationFlag:
		return append([]string{f.Name}, f.Aliases...)
	}
	return f.Names()
}
