package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/cmd/manpage"
	"github.com/skiff-project/skiff/engine"
)

// manCommandName is the hidden command that writes the manual pages from
// the command definitions (make docs, install.sh): `skiff __man DIR`.
const manCommandName = "__man"

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   manCommandName,
		Hidden: true,
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, manCommandName+" DIR"); err != nil {
				return err
			}
			return writeManPages(c.App, c.Args().First())
		},
	}
}

// writeManPages writes skiff(1) and a page per visible command and
// subcommand (skiff-network-create.1) into dir.
func writeManPages(app *cli.App, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range manPages(app) {
		var b bytes.Buffer
		if err := p.Write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, p.Name+".1"), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manPages are skiff(1) and the pages of every visible command under it.
func manPages(app *cli.App) []*manpage.Page {
	cmds := manCommands(app.Commands)
	root := newManPage(app, "skiff", app.Usage)
	root.Synopsis = []string{"skiff [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARG...]"}
	root.Description = append(root.Description,
		"Each command has its own page, skiff-COMMAND(1) (skiff-network-create(1) for skiff network create), and its --help.")
	root.Options = manOptions(app.VisibleFlags())
	root.Commands = manEntries(cmds, nil)
	pages := []*manpage.Page{root}
	for _, c := range cmds {
		pages = append(pages, commandManPages(app, c, []string{c.Name})...)
	}
	return pages
}

// commandManPages are the pages of c (at path) and of its subcommands.
func commandManPages(app *cli.App, c *cli.Command, path []string) []*manpage.Page {
	p := newManPage(app, manPageName(path), c.Usage)
	synopsis, notes := splitUsageText(c, path)
	p.Synopsis = synopsis
	p.Description = append(p.Description, notes...)
	if len(c.Aliases) > 0 {
		aliases := make([]string, len(c.Aliases))
		for i, a := range c.Aliases {
			aliases[i] = strings.Join(append(path[:len(path)-1:len(path)-1], a), " ")
		}
		p.Description = append(p.Description, "Also: skiff "+strings.Join(aliases, ", skiff ")+".")
	}
	p.Options = manOptions(commandFlags(c))
	p.Examples = examplesOf(c, strings.Join(path, " "))
	subs := manCommands(c.Subcommands)
	p.Commands = manEntries(subs, path)
	p.SeeAlso = []manpage.Ref{{Name: manPageName(path[:len(path)-1]), Section: 1}}
	pages := []*manpage.Page{p}
	for _, s := range subs {
		pages = append(pages, commandManPages(app, s, append(path[:len(path):len(path)], s.Name))...)
	}
	return pages
}

func newManPage(app *cli.App, name, summary string) *manpage.Page {
	return &manpage.Page{
		Name: name, Section: 1, Date: buildDate(), Source: "skiff " + app.Version, Manual: "skiff manual",
		Summary:     summary,
		Description: []string{sentence(summary)},
	}
}

// manPageName is the page of the command at path: skiff-network-create.
func manPageName(path []string) string { return strings.Join(append([]string{"skiff"}, path...), "-") }

// manCommands are the commands that get a page: not hidden, not help.
func manCommands(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			out = append(out, c)
		}
	}
	return out
}

// manEntries are the COMMANDS lines of the subcommands cmds of the
// command at path: their pages and summaries.
func manEntries(cmds []*cli.Command, path []string) []manpage.Entry {
	var entries []manpage.Entry
	for _, c := range cmds {
		ref := manpage.Ref{Name: manPageName(append(path[:len(path):len(path)], c.Name)), Section: 1}
		entries = append(entries, manpage.Entry{Ref: ref, Summary: c.Usage})
	}
	return entries
}

// splitUsageText is a command's synopsis, the first paragraph of its
// usage text, and the paragraphs after it. Without a usage text the
// synopsis is built as --help builds it.
func splitUsageText(c *cli.Command, path []string) (synopsis, notes []string) {
	paras := strings.Split(strings.TrimSpace(c.UsageText), "\n\n")
	if paras[0] == "" {
		line := "skiff " + strings.Join(path, " ")
		if len(c.Subcommands) > 0 {
			line += " COMMAND"
		}
		if len(c.VisibleFlags()) > 0 {
			line += " [OPTIONS]"
		}
		if c.ArgsUsage != "" {
			line += " " + c.ArgsUsage
		}
		return []string{line}, nil
	}
	for _, l := range strings.Split(paras[0], "\n") {
		synopsis = append(synopsis, strings.TrimSpace(l))
	}
	return synopsis, paras[1:]
}

// commandFlags are the flags --help lists for c: its visible flags and,
// unless c hides it, the help flag urfave/cli adds when c runs.
func commandFlags(c *cli.Command) []cli.Flag {
	flags := c.VisibleFlags()
	if c.HideHelp || cli.HelpFlag == nil {
		return flags
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == "help" {
				return flags
			}
		}
	}
	return append(flags, cli.HelpFlag)
}

// manOptions are flags as OPTIONS lists them: the names, placeholder,
// usage and default that --help shows (urfave/cli's own flag text).
func manOptions(flags []cli.Flag) []manpage.Option {
	var out []manpage.Option
	for _, f := range flags {
		var names []string
		for _, n := range f.Names() {
			if len(n) == 1 {
				names = append(names, "-"+n)
			} else {
				names = append(names, "--"+n)
			}
		}
		// "--env value, -e value [ --env value, -e value ]\tusage (default: x)"
		spec, usage, _ := strings.Cut(cli.FlagStringer(f), "\t")
		first, repeatable := strings.CutSuffix(spec, " [ "+strings.SplitN(spec, " [ ", 2)[0]+" ]")
		if len(names) > 1 {
			first, _, _ = strings.Cut(first, ", "+names[1])
		}
		if repeatable {
			usage += " (repeatable)"
		}
		out = append(out, manpage.Option{
			Names:       names,
			Placeholder: strings.TrimSpace(strings.TrimPrefix(first, names[0])),
			Usage:       usage,
		})
	}
	return out
}

// sentence is a summary as a sentence: a capital first and a full stop.
func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// buildDate is the day this binary was built, as the pages' date.
func buildDate() string {
	t, err := time.Parse(time.RFC3339Nano, engine.BuildTime)
	if err != nil {
		return ""
	}
	return t.Format("2006-01-02")
}
