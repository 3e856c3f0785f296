package cmd

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/cmd/manpage"
)

func TestManOptions(t *testing.T) {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "rm", Usage: "remove it"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set variables"},
		&cli.StringFlag{Name: "platform", Usage: "pull for `os/arch[/variant]`, not this host's"},
		&cli.StringFlag{Name: "log-level", Aliases: []string{"l"}, Value: "warn", Usage: "diagnostics"},
		&cli.StringSliceFlag{Name: "label", Usage: "set `KEY=VALUE`, e.g. a [ b ]"},
	}
	want := []manpage.Option{
		{Names: []string{"--rm"}, Usage: "remove it (default: false)"},
		{Names: []string{"--env", "-e"}, Placeholder: "value", Usage: "set variables (repeatable)"},
		{Names: []string{"--platform"}, Placeholder: "os/arch[/variant]", Usage: "pull for os/arch[/variant], not this host's"},
		{Names: []string{"--log-level", "-l"}, Placeholder: "value", Usage: `diagnostics (default: "warn")`},
		{Names: []string{"--label"}, Placeholder: "KEY=VALUE", Usage: "set KEY=VALUE, e.g. a [ b ] (repeatable)"},
	}
	got := manOptions(flags)
	if len(got) != len(want) {
		t.Fatalf("manOptions = %+v, want %+v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i].Names, want[i].Names) || got[i].Placeholder != want[i].Placeholder || got[i].Usage != want[i].Usage {
			t.Errorf("manOptions[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestManPages checks the pages of the real command tree: one per visible
// command, none for hidden ones, and each with its synopsis and flags.
func TestManPages(t *testing.T) {
	var ran string
	app := testApp(io.Discard, &ran)
	app.Version = "test"
	app.Setup()
	pages := map[string]*manpage.Page{}
	for _, p := range manPages(app) {
		if pages[p.Name] != nil {
			t.Errorf("two pages named %s", p.Name)
		}
		pages[p.Name] = p
	}
	for _, name := range []string{"skiff", "skiff-run", "skiff-network-create", "skiff-container-ls", "skiff-system-service", "skiff-image-build"} {
		if pages[name] == nil {
			t.Errorf("no page %s", name)
		}
	}
	for _, name := range []string{"skiff-__complete", "skiff-__man", "skiff-help", "skiff-network-help"} {
		if pages[name] != nil {
			t.Errorf("page %s of a hidden command", name)
		}
	}
	run := pages["skiff-run"]
	if run == nil {
		t.FailNow()
	}
	if !slices.Equal(run.Synopsis, []string{"skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]"}) {
		t.Errorf("skiff-run synopsis %q", run.Synopsis)
	}
	if !slices.Equal(run.Examples, examples["run"]) {
		t.Errorf("skiff-run examples %q, want %q", run.Examples, examples["run"])
	}
	var names []string
	for _, o := range run.Options {
		names = append(names, o.Names...)
	}
	for _, n := range []string{"--publish", "-p", "--hostname", "-h", "--help"} {
		if !slices.Contains(names, n) {
			t.Errorf("skiff-run OPTIONS lack %s: %q", n, names)
		}
	}
	if ls := pages["skiff-network-ls"]; ls != nil && !strings.Contains(strings.Join(ls.Description, " "), "skiff network list") {
		t.Errorf("skiff-network-ls does not name its alias: %q", ls.Description)
	}
	if len(pages["skiff-network"].Commands) == 0 {
		t.Error("skiff-network lists no commands")
	}
}
