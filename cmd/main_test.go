package cmd

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func TestOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), "boom"},
		{"invalid argument", errdefs.Invalid("invalid --restart %q: want no", "x"), `invalid --restart "x": want no`},
		{"not found", errdefs.NotFound("no such container: %s", "web"), "no such container: web"},
		{"wrapped class", fmt.Errorf("pulling a: %w", errdefs.ErrUnavailable), "pulling a"},
		{"each class", fmt.Errorf("x: %w", errdefs.ErrNotImplemented), "x"},
		{"conflict", fmt.Errorf("name in use: %w", errdefs.ErrConflict), "name in use"},
		{"class in the middle stays", errors.New("a: not found: b"), "a: not found: b"},
		{"newlines joined", errors.New("line one\nline two"), "line one line two"},
		{"exit codes classes", fmt.Errorf("exec: %w", errdefs.ErrCommandNotFound), "exec"},
		{"two classes", fmt.Errorf("%w: %w", errdefs.NotFound("no user x"), errdefs.ErrCannotInvoke), "no user x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(tt.err); got != tt.want {
				t.Errorf("oneLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestArgCount(t *testing.T) {
	tests := []struct {
		min, max int
		want     string
	}{
		{1, 1, "exactly 1 argument"},
		{2, 2, "exactly 2 arguments"},
		{0, 0, "exactly 0 arguments"},
		{1, -1, "at least 1 argument(s)"},
		{1, 2, "1 to 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := argCount(tt.min, tt.max); got != tt.want {
				t.Errorf("argCount(%d, %d) = %q, want %q", tt.min, tt.max, got, tt.want)
			}
		})
	}
}

// runUsage runs a small app wired like Main (usageError on the app and on
// every command) and returns its error.
func runUsage(args ...string) error {
	app := &cli.App{
		Name: "skiff", OnUsageError: usageError, UseShortOptionHandling: true,
		Writer: io.Discard, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{Name: "ps", Flags: psFlags(), UseShortOptionHandling: true, Action: func(*cli.Context) error { return nil }},
			{Name: "image", Subcommands: []*cli.Command{{Name: "ls", Flags: imagesFlags(), Action: func(*cli.Context) error { return nil }}}},
		},
	}
	for _, c := range app.Commands {
		prepare(c)
	}
	return app.Run(append([]string{"skiff"}, args...))
}

func TestUsageError(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ps", "--bogus"}, "skiff ps: unknown flag: --bogus: see skiff ps --help"},
		{[]string{"ps", "-z"}, "skiff ps: unknown flag: -z: see skiff ps --help"},
		{[]string{"ps", "-a", "--no-such-flag"}, "skiff ps: unknown flag: --no-such-flag: see skiff ps --help"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := runUsage(tt.args...)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("err = %v, want an invalid argument", err)
			}
			if got := oneLine(err); got != tt.want {
				t.Errorf("message %q, want %q", got, tt.want)
			}
			if exitCode(err) != exitUsage {
				t.Errorf("exit code %d, want %d (Docker's for a flag it cannot parse)", exitCode(err), exitUsage)
			}
		})
	}
	if err := runUsage("ps", "-a", "-q"); err != nil {
		t.Errorf("valid flags: %v", err)
	}
}

// The message names the command the user typed.
func TestUsageErrorCommandName(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "skiff: unknown flag: --bogus: see skiff --help"},
		{[]string{"image", "ls", "--bogus"}, "skiff image ls: unknown flag: --bogus: see skiff image ls --help"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := runUsage(tt.args...)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("err = %v, want an invalid argument", err)
			}
			if got := oneLine(err); got != tt.want {
				t.Fatalf("usage error reads %q, want %q", got, tt.want)
			}
		})
	}
}

// Docker's exit statuses: 1 for a failed command, 125 for a flag it cannot
// parse, run's 125/126/127, and a container's own status passed through.
func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"any failure", errdefs.NotFound("no such container: web"), 1},
		{"engine error outside run", errors.New("boom"), 1},
		{"usage", withStatus(exitUsage, errdefs.Invalid("unknown flag")), 125},
		{"run engine error", runStatus(errors.New("boom")), 125},
		{"run cannot invoke", runStatus(fmt.Errorf("x: %w", errdefs.ErrCannotInvoke)), 126},
		{"run not found", runStatus(fmt.Errorf("x: %w", errdefs.ErrCommandNotFound)), 127},
		{"container status", runStatus(&errdefs.ExitStatus{Code: 3}), 3},
		{"first status kept", runStatus(withStatus(1, errNotTTY)), 1},
		{"exec start failure", execStatus(fmt.Errorf("%w: %w", errdefs.NotFound("no user"), errdefs.ErrCannotInvoke)), 126},
		{"exec without a container", execStatus(errdefs.NotFound("no such container")), 1},
		{"reported per argument", failed(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// TestAloneCommands holds each command Main may build alone to the one
// commands() builds under that name: the only one answering to it, with
// the same aliases and flags.
func TestAloneCommands(t *testing.T) {
	all := commands("test")
	flagsOf := func(c *cli.Command) (out []string) {
		for _, f := range c.Flags {
			out = append(out, strings.Join(f.Names(), ","))
		}
		return out
	}
	for name, build := range alone {
		var found []*cli.Command
		for _, c := range all {
			if c.HasName(name) {
				found = append(found, c)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d top-level commands answer to it, want 1", name, len(found))
			continue
		}
		c := build()
		if c.Name != name || !slices.Equal(c.Aliases, found[0].Aliases) || !slices.Equal(flagsOf(c), flagsOf(found[0])) {
			t.Errorf("%s: built alone it is %q %q with flags %q; in the tree %q %q with flags %q",
				name, c.Name, c.Aliases, flagsOf(c), found[0].Name, found[0].Aliases, flagsOf(found[0]))
		}
		if got := commandsFor([]string{"skiff", name}, "test"); len(got) != 1 || got[0].Name != name {
			t.Errorf("commandsFor(skiff %s) builds %d commands", name, len(got))
		}
	}
	for _, step := range engine.Steps {
		if findCommand(all, step) == nil || findCommand(commandsFor([]string{"skiff", step}, "test"), step) == nil {
			t.Errorf("step %s: missing from commands() or from what Main builds for it", step)
		}
	}
	for _, args := range [][]string{{"skiff", "--version"}, {"skiff", "-v"}} {
		if got := commandsFor(args, "test"); len(got) != 0 {
			t.Errorf("commandsFor(%q) builds %d commands, want none", args, len(got))
		}
	}
	for _, args := range [][]string{{"skiff"}, {"skiff", "--debug", "ps"}, {"skiff", "help", "ps"}, {"skiff", "completion"}, {"skiff", "--version", "ps"}} {
		if got := commandsFor(args, "test"); len(got) != len(all) {
			t.Errorf("commandsFor(%q) builds %d commands, want all %d", args, len(got), len(all))
		}
	}
}

// No skiff flag has an Action: skipFlagActions leaves urfave/cli's
// flag-action pass out, so one would never run.
func TestNoFlagActions(t *testing.T) {
	var walk func(path string, cs []*cli.Command)
	walk = func(path string, cs []*cli.Command) {
		for _, c := range cs {
			for _, f := range c.Flags {
				v := reflect.ValueOf(f)
				if v.Kind() == reflect.Pointer {
					v = v.Elem()
				}
				if a := v.FieldByName("Action"); a.IsValid() && !a.IsNil() {
					t.Errorf("%s %s: flag --%s has an Action, which skipFlagActions would skip", path, c.Name, namesOf(f)[0])
				}
			}
			walk(path+" "+c.Name, c.Subcommands)
		}
	}
	walk("skiff", commands("test"))
}

// With the flag-action pass left out, the action still sees every flag:
// set ones by any of their names, defaults, and unset ones as unset.
func TestSkipFlagActionsKeepsFlags(t *testing.T) {
	c := runCommand()
	var detach, detachSet, rm, hostnameSet bool
	var pull string
	c.Action = func(ctx *cli.Context) error {
		detach, detachSet, rm = ctx.Bool("detach"), ctx.IsSet("detach") && ctx.IsSet("d"), ctx.Bool("rm")
		pull, hostnameSet = ctx.String("pull"), ctx.IsSet("hostname")
		return nil
	}
	app := &cli.App{Name: "skiff", Commands: []*cli.Command{c}}
	prepare(c)
	if err := app.Run([]string{"skiff", "run", "-d", "--rm", "busybox", "true"}); err != nil {
		t.Fatal(err)
	}
	if !detach || !detachSet || !rm || pull != "missing" || hostnameSet {
		t.Errorf("run -d --rm: detach %v (set by both names %v), rm %v, pull %q (want missing), hostname set %v", detach, detachSet, rm, pull, hostnameSet)
	}
	if len(c.Flags) == 0 {
		t.Error("the command's flags were not put back")
	}
}
