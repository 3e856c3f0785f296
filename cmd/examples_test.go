package cmd

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// testApp is skiff's command line wired as Main wires it, with every
// action replaced by one that sets *ran, and its output in out.
func testApp(out io.Writer, ran *string) *cli.App {
	app := &cli.App{
		Name: "skiff", Commands: commands("test"), OnUsageError: usageError,
		DisableSliceFlagSeparator: true, UseShortOptionHandling: true,
		Writer: out, ErrWriter: out, ExitErrHandler: func(*cli.Context, error) {},
		CommandNotFound: func(_ *cli.Context, name string) { *ran = "unknown command " + name },
	}
	eachCommand(app.Commands, func(c *cli.Command, path string) {
		if c.Action != nil {
			c.Action = func(*cli.Context) error { *ran = path; return nil }
		}
	})
	for _, c := range app.Commands {
		prepare(c)
	}
	cli.HelpPrinter = helpPrinter
	return app
}

// shellCommands splits an example line into its simple commands' words,
// as sh would: quotes kept together, |, &, ;, <, >, $( and ) between
// commands. Enough for the examples, not a shell.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCommand := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(line[i+1:], ch)
			if end < 0 {
				end = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case ch == '$' && i+1 < len(line) && line[i+1] == '(':
			endCommand()
			i++
		case strings.IndexByte("|&;<>()", ch) >= 0:
			endCommand()
		case ch == ' ':
			endWord()
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	endCommand()
	return cmds
}

func TestShellCommands(t *testing.T) {
	got := shellCommands(`echo "$TOKEN" | skiff login -u ci --format '{{.A B}}' x && skiff stop $(skiff ps -q)`)
	want := [][]string{{"echo", "$TOKEN"}, {"skiff", "login", "-u", "ci", "--format", "{{.A B}}", "x"}, {"skiff", "stop"}, {"skiff", "ps", "-q"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("shellCommands = %q, want %q", got, want)
	}
}

// TestExamples parses every skiff command line of the examples with
// skiff's own flags: an unknown flag, a flag given to the wrong command or
// a missing value fails here, not in a user's shell.
func TestExamples(t *testing.T) {
	shown := map[string]bool{}
	eachCommand(commands("test"), func(c *cli.Command, path string) { shown[exampleKey(c.UsageText, path)] = true })
	for key, lines := range examples {
		t.Run(key, func(t *testing.T) {
			if !shown[key] {
				t.Fatalf("no command shows the examples of %q: the key must be a command's path", key)
			}
			invocations := 0
			for _, line := range lines {
				for _, words := range shellCommands(line) {
					if words[0] != "skiff" {
						continue
					}
					invocations++
					var out bytes.Buffer
					var ran string
					app := testApp(&out, &ran)
					err := app.Run(interspersed(app, words))
					if err != nil || ran == "" || strings.HasPrefix(ran, "unknown") {
						t.Errorf("example %q: %q does not parse: error %v, ran %q, output:\n%s", line, words, err, ran, out.String())
					}
				}
			}
			if invocations == 0 {
				t.Errorf("examples of %q: no line runs skiff: %q", key, lines)
			}
		})
	}
}

// TestExamplesLiveInOnePlace keeps examples out of the commands' usage
// text: they belong in examples.go, which puts them in --help and the
// manual pages alike.
func TestExamplesLiveInOnePlace(t *testing.T) {
	eachCommand(commands("test"), func(c *cli.Command, path string) {
		if strings.Contains(c.UsageText, "Example") {
			t.Errorf("skiff %s: its UsageText has an example: move it to the examples map in cmd/examples.go", path)
		}
	})
}

func TestHelpShowsExamples(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ps", "--help"}, "\n\nEXAMPLES:\n   skiff ps -a --filter status=exited --format '{{.Names}}'\n"},
		{[]string{"run", "--help"}, "\n\nEXAMPLES:\n   skiff run --rm -it 127.0.0.1:5000/busybox sh\n"},
		{[]string{"network", "create", "--help"}, "\n\nEXAMPLES:\n   skiff network create --subnet 10.90.0.0/24 backend\n"},
		{[]string{"container", "logs", "--help"}, "\n\nEXAMPLES:\n   skiff logs -f --tail 10 web\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			var ran string
			app := testApp(&out, &ran)
			if err := app.Run(append([]string{"skiff"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("skiff %s lacks %q:\n%s", strings.Join(tt.args, " "), tt.want, out.String())
			}
			if !strings.HasPrefix(out.String(), "NAME:\n") || !strings.Contains(out.String(), "\nOPTIONS:\n") {
				t.Errorf("skiff %s is not the usual help:\n%s", strings.Join(tt.args, " "), out.String())
			}
		})
	}
}

func TestExampleKey(t *testing.T) {
	tests := []struct {
		usage, path, want string
	}{
		{"skiff logs [OPTIONS] CONTAINER", "container logs", "logs"},
		{"skiff system service [--time SECONDS] [URI]\n\nURI is", "system service", "system service"},
		{"skiff stats --no-stream [CONTAINER...]", "stats", "stats"},
		{"skiff completion bash|zsh|fish", "completion", "completion"},
		{"", "container ls", "container ls"},
	}
	for _, tt := range tests {
		if got := exampleKey(tt.usage, tt.path); got != tt.want {
			t.Errorf("exampleKey(%q, %q) = %q, want %q", tt.usage, tt.path, got, tt.want)
		}
	}
}
