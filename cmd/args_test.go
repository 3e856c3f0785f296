package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	app := &cli.App{Name: "skiff", Flags: []cli.Flag{&cli.StringFlag{Name: "log-level", Aliases: []string{"l"}}}, Commands: commands("test")}
	tests := []struct{ in, want string }{
		{"rm web -f", "rm -f web"},
		{"rm -f web", "rm -f web"},
		{"rm web other -f -v", "rm -f -v web other"},
		{"stop web -t 3", "stop -t 3 web"},
		{"logs web --tail 5 -f", "logs --tail 5 -f web"},
		{"inspect web --format {{.Name}}", "inspect --format {{.Name}} web"},
		{"network rm a b", "network rm a b"},
		{"network ls --filter name=x -q", "network ls --filter name=x -q"},
		{"network create n --subnet 10.1.0.0/24", "network create --subnet 10.1.0.0/24 n"},
		{"-l debug ps -a", "-l debug ps -a"},
		{"ps -a --format x", "ps -a --format x"},
		{"build . -t app", "build -t app ."},
		{"import - name -c CMD", "import -c CMD - name"},
		{"cp -a web:/x -", "cp -a web:/x -"},
		{"rm -- -web -f", "rm -- -web -f"},
		// The container's command line stays the container's.
		{"run --rm img ls -l", "run --rm img ls -l"},
		{"run img sh -c 'x' -e A=1", "run img sh -c 'x' -e A=1"},
		{"exec -it web sh -c ls", "exec -it web sh -c ls"},
		{"create --name x img echo -n hi", "create --name x img echo -n hi"},
		{"container run img ls -a", "container run img ls -a"},
		{"top web -o pid", "top web -o pid"},
		{"run -p8080:80 img", "run -p8080:80 img"},
		{"kill web -sHUP", "kill -sHUP web"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := interspersed(app, append([]string{"skiff"}, strings.Fields(tt.in)...))
			want := append([]string{"skiff"}, strings.Fields(tt.want)...)
			if !slices.Equal(got, want) {
				t.Errorf("interspersed(%s) = %q, want %q", tt.in, got[1:], want[1:])
			}
		})
	}
}

// TestNamesOfAsCLI holds namesOf to urfave/cli's own Names for every flag
// of every command.
func TestNamesOfAsCLI(t *testing.T) {
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if got, want := namesOf(f), f.Names(); !slices.Equal(got, want) {
					t.Errorf("%s: namesOf = %q, Names() = %q", c.Name, got, want)
				}
			}
			walk(c.Subcommands)
		}
	}
	walk(commands("test"))
}
