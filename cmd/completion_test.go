package cmd

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// completeFor runs the candidate logic on skiff's real commands, with
// fake live names: "<kind>-a" and "<kind>-b" for every kind.
func completeFor(line string) ([]string, []string) {
	cmds := commands("test")
	for _, c := range cmds {
		prepare(c)
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "log-level", Aliases: []string{"l"}},
		&cli.BoolFlag{Name: "debug", Aliases: []string{"D"}},
	}
	words := strings.Split(line, " ")
	var asked []string
	names := func(kind string) []string {
		if kind == "" {
			return nil
		}
		asked = append(asked, kind)
		return []string{kind + "-a", kind + "-b"}
	}
	return complete(cmds, flags, words, names), asked
}

func TestCompletionCandidates(t *testing.T) {
	tests := []struct {
		line       string
		want, not  []string
		exactly    bool
		noLiveCall bool
	}{
		{line: "", want: []string{"run", "ps", "service", "completion", "network"}, not: []string{"__complete", "__keeper", "__start", "help"}, noLiveCall: true},
		{line: "st", want: []string{"start", "stop", "stats"}, not: []string{"run", "ps"}, noLiveCall: true},
		{line: "service ", want: []string{"create", "ls", "ps", "inspect", "logs", "scale", "update", "rollback", "rm"}, exactly: true, noLiveCall: true},
		{line: "service l", want: []string{"ls", "logs"}, exactly: true, noLiveCall: true},
		{line: "image li", want: []string{"list"}, exactly: true, noLiveCall: true}, // an alias when no name matches
		{line: "ps -", want: []string{"--all", "-a", "--quiet", "-q", "--format", "--help", "-h"}, noLiveCall: true},
		{line: "ps --fo", want: []string{"--format"}, exactly: true, noLiveCall: true},
		{line: "run -", want: []string{"--name", "--detach", "-d", "--hostname", "-h", "--help"}, noLiveCall: true},
		{line: "-", want: []string{"--log-level", "-l", "--debug", "-D"}, noLiveCall: true},
		{line: "--log-level debug sto", want: []string{"stop"}, exactly: true, noLiveCall: true},
		{line: "stop ", want: []string{"containers-a", "containers-b"}, exactly: true},
		{line: "stop -t 3 web ", want: []string{"containers-a", "containers-b"}, exactly: true},
		{line: "container stop containers-", want: []string{"containers-a", "containers-b"}, exactly: true},
		{line: "logs -f ", want: []string{"containers-a"}},
		{line: "exec ", want: []string{"containers-a"}},
		{line: "exec web ", exactly: true, noLiveCall: true}, // the container's command
		{line: "run -d --name x ", want: []string{"images-a"}, not: []string{"containers-a"}},
		{line: "run -d images-a ", exactly: true, noLiveCall: true},
		{line: "run --network ", want: []string{"networks-a", "networks-b"}, exactly: true},
		{line: "run --network=n", want: []string{"--network=networks-a", "--network=networks-b"}, exactly: true},
		{line: "run --network = n", want: []string{"--network=networks-a", "--network=networks-b"}, exactly: true}, // bash's COMP_WORDS
		{line: "run --network =", want: []string{"--network=networks-a", "--network=networks-b"}, exactly: true},
		{line: "rmi ", want: []string{"images-a", "images-b"}, exactly: true},
		{line: "image rm ", want: []string{"images-a"}},
		{line: "tag ", want: []string{"images-a"}},
		{line: "history ", want: []string{"images-a"}},
		{line: "push ", want: []string{"images-a"}},
		{line: "inspect ", want: []string{"containers-a", "images-a"}},
		{line: "network rm ", want: []string{"networks-a", "networks-b"}, exactly: true},
		{line: "network connect ", want: []string{"networks-a", "networks-b"}, exactly: true},
		{line: "network connect net1 ", want: []string{"containers-a", "containers-b"}, exactly: true},
		{line: "volume rm ", want: []string{"volumes-a", "volumes-b"}, exactly: true},
		{line: "volume create ", exactly: true, noLiveCall: true},
		{line: "service rm ", want: []string{"services-a", "services-b"}, exactly: true},
		{line: "service logs -f ", want: []string{"services-a"}},
		{line: "service logs -f services-a ", exactly: true, noLiveCall: true}, // one service only
		{line: "tag images-a ", want: []string{"images-a"}},
		{line: "service create ", want: []string{"images-a"}},
		{line: "cp ", exactly: true, noLiveCall: true},
		{line: "nosuchcommand ", exactly: true, noLiveCall: true},
		{line: "__keeper ", exactly: true, noLiveCall: true},
		{line: "completion ", exactly: true, noLiveCall: true},
	}
	for _, tt := range tests {
		got, asked := completeFor(tt.line)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: %q missing from %q", tt.line, w, got)
			}
		}
		for _, n := range tt.not {
			if slices.Contains(got, n) {
				t.Errorf("%q: %q offered: %q", tt.line, n, got)
			}
		}
		if tt.exactly && len(got) != len(tt.want) {
			t.Errorf("%q: got %q, want exactly %q", tt.line, got, tt.want)
		}
		if tt.noLiveCall && len(asked) > 0 {
			t.Errorf("%q: listed live names %q", tt.line, asked)
		}
	}
}

// No hidden command is ever offered, at any depth.
func TestCompletionHiddenAbsent(t *testing.T) {
	got, _ := completeFor("")
	hidden := append([]string{completeCommandName, engine.KeeperCommand}, engine.Steps...)
	for _, h := range hidden {
		if slices.Contains(got, h) {
			t.Errorf("hidden %q offered", h)
		}
	}
	for _, c := range commands("test") {
		if c.Hidden && slices.Contains(got, c.Name) {
			t.Errorf("hidden %q offered", c.Name)
		}
	}
}

// The hidden command, run as the scripts run it, prints one candidate a
// line and exits 0 even on nonsense.
func TestCompletionCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "s"}, "scale\n"},
		{[]string{"no", "such", ""}, ""},
		{nil, ""},
	} {
		var out bytes.Buffer
		app := &cli.App{Name: "skiff", Writer: &out, Commands: commands("test")}
		if err := app.Run(append([]string{"skiff", completeCommandName}, tt.args...)); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if tt.want != "" && out.String() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, out.String(), tt.want)
		}
		if tt.args == nil && !strings.Contains(out.String(), "run\n") {
			t.Errorf("no words: got %q", out.String())
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out bytes.Buffer
		app := &cli.App{Name: "skiff", Writer: &out, Commands: commands("test")}
		if err := app.Run([]string{"skiff", "completion", sh}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), completeCommandName) {
			t.Errorf("%s script does not call %s", sh, completeCommandName)
		}
	}
	app := &cli.App{Name: "skiff", Commands: commands("test"), ExitErrHandler: func(*cli.Context, error) {}}
	if err := app.Run([]string{"skiff", "completion", "tcsh"}); err == nil {
		t.Error("completion tcsh: no error")
	}
}
