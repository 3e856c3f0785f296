// Package manpage writes manual pages in roff (man(7) macros) from plain
// text: a page's sections as strings, escaped here so that no text can
// turn into a roff request or escape. It knows nothing of skiff's
// commands; cmd/ fills a Page from the command definitions.
package manpage

import (
	"fmt"
	"io"
	"strings"
)

// Page is one manual page. Every string is plain text; Write escapes it.
type Page struct {
	Name        string   // page name, e.g. "skiff-run"
	Section     int      // manual section, e.g. 1
	Date        string   // the .TH date, may be empty
	Source      string   // the .TH source, e.g. "skiff 1.2"
	Manual      string   // the .TH manual title, e.g. "skiff manual"
	Summary     string   // the NAME line after the dash
	Synopsis    []string // lines, kept as they are
	Description []string // paragraphs
	Options     []Option
	Commands    []Entry  // subcommands: their page names and summaries
	Examples    []string // lines, kept as they are
	SeeAlso     []Ref
}

// Option is one flag as OPTIONS lists it.
type Option struct {
	Names       []string // with their dashes: "--env", "-e"
	Placeholder string   // the value's placeholder, empty for a switch
	Usage       string
}

// Entry is a page name and its one-line summary.
type Entry struct {
	Ref     Ref
	Summary string
}

// Ref names another page.
type Ref struct {
	Name    string
	Section int
}

// Write writes p as roff.
func (p *Page) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString(".\\\" Generated from skiff's command definitions; do not edit.\n")
	fmt.Fprintf(&b, ".TH %s %d %s %s %s\n", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Date), quote(p.Source), quote(p.Manual))
	// No hyphenation or justification: flags and paths stay whole.
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\n")
	b.WriteString(Escape(p.Name) + " \\- " + Escape(p.Summary) + "\n")
	if len(p.Synopsis) > 0 {
		b.WriteString(".SH SYNOPSIS\n")
		literal(&b, p.Synopsis, false)
	}
	if len(p.Description) > 0 {
		b.WriteString(".SH DESCRIPTION\n")
		for _, para := range p.Description {
			b.WriteString(".PP\n" + Escape(para) + "\n")
		}
	}
	if len(p.Commands) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, e := range p.Commands {
			b.WriteString(".TP\n" + e.Ref.roff() + "\n" + Escape(e.Summary) + "\n")
		}
	}
	if len(p.Options) > 0 {
		b.WriteString(".SH OPTIONS\n")
		for _, o := range p.Options {
			b.WriteString(".TP\n" + o.term() + "\n" + Escape(o.Usage) + "\n")
		}
	}
	if len(p.Examples) > 0 {
		b.WriteString(".SH EXAMPLES\n")
		literal(&b, p.Examples, true)
	}
	if len(p.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		refs := make([]string, len(p.SeeAlso))
		for i, r := range p.SeeAlso {
			refs[i] = r.roff()
		}
		b.WriteString(strings.Join(refs, ",\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// term is an option's .TP line: its names in bold, its placeholder in italics.
func (o Option) term() string {
	names := make([]string, len(o.Names))
	for i, n := range o.Names {
		names[i] = bold(n)
	}
	t := strings.Join(names, ", ")
	if o.Placeholder != "" {
		t += " \\fI" + Escape(o.Placeholder) + "\\fR"
	}
	return t
}

func (r Ref) roff() string { return fmt.Sprintf("%s(%d)", bold(r.Name), r.Section) }

func bold(s string) string { return "\\fB" + Escape(s) + "\\fR" }

// literal writes lines unfilled, as a man page shows commands; indented
// as a block of examples.
func literal(b *strings.Builder, lines []string, indent bool) {
	if indent {
		b.WriteString(".PP\n.RS 4\n")
	}
	b.WriteString(".nf\n")
	for _, l := range lines {
		b.WriteString(Escape(l) + "\n")
	}
	b.WriteString(".fi\n")
	if indent {
		b.WriteString(".RE\n")
	}
}

// quote is a macro argument: in double quotes, with its own quotes escaped.
func quote(s string) string {
	return `"` + strings.ReplaceAll(Escape(s), `"`, `\(dq`) + `"`
}

// Escape makes text safe to place on roff lines: backslashes print as
// backslashes, hyphens as the ASCII hyphen-minus that a reader copies
// into a shell (roff's plain "-" is a typographic hyphen), a line never
// starts with a control character ("." or "'"), and characters beyond
// ASCII become roff's \[uXXXX] escapes, so no input encoding is assumed.
// A newline starts a new output line; tabs become spaces.
func Escape(s string) string {
	var b strings.Builder
	lineStart := true
	for _, r := range s {
		if lineStart && (r == '.' || r == '\'') {
			b.WriteString(`\&`)
		}
		lineStart = r == '\n'
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r == '\t':
			b.WriteByte(' ')
		case r == '\n' || (r >= ' ' && r < 0x7f):
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			// control characters have no place in a page
		default:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		}
	}
	return b.String()
}
